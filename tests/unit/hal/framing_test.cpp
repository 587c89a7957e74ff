#include "hal/sim/framing.h"

#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include "sim_wire.pb.h"

#include <CppUTest/TestHarness.h>

using namespace stopline::hal::sim;
using stopline::simwire::GpioMessage;

TEST_GROUP(Framing){};

TEST(Framing, HeaderIsFourByteBigEndianLength)
{
    std::string out;
    appendFrame(out, std::string(258, 'x'));
    LONGS_EQUAL(262, out.size());
    BYTES_EQUAL(0x00, out[0]);
    BYTES_EQUAL(0x00, out[1]);
    BYTES_EQUAL(0x01, out[2]);
    BYTES_EQUAL(0x02, out[3]);
}

TEST(Framing, ReaderSplitsFramesFedOneByteAtATime)
{
    GpioMessage a;
    a.mutable_edge()->set_name("NB_RED");
    a.mutable_edge()->set_timestamp_ns(123456789);
    GpioMessage b;
    b.mutable_request()->set_chip("gpiochip-sim0");
    std::string stream;
    CHECK(appendMessage(stream, a));
    CHECK(appendMessage(stream, b));
    appendFrame(stream, ""); /* an empty message is a valid frame */

    FrameReader reader;
    std::vector<std::string> got;
    for (char c : stream) {
        reader.feed(&c, 1);
        std::string_view payload;
        while (reader.next(payload) == FrameReader::Status::Ready)
            got.emplace_back(payload);
    }
    LONGS_EQUAL(3, got.size());
    GpioMessage parsed;
    CHECK(parsed.ParseFromString(got[0]));
    STRCMP_EQUAL("NB_RED", parsed.edge().name().c_str());
    LONGS_EQUAL(123456789, parsed.edge().timestamp_ns());
    CHECK(parsed.ParseFromString(got[1]));
    STRCMP_EQUAL("gpiochip-sim0", parsed.request().chip().c_str());
    CHECK(got[2].empty());
    LONGS_EQUAL(0, reader.bufferedBytes());
}

TEST(Framing, OversizedAnnouncementBreaksTheStream)
{
    FrameReader reader(1000);
    const unsigned char header[4] = {0x00, 0x00, 0x03, 0xe9}; /* 1001 */
    reader.feed(header, 4);
    std::string_view payload;
    CHECK(reader.next(payload) == FrameReader::Status::Oversized);
    LONGS_EQUAL(1001, reader.announcedBytes());
    reader.feed("abcd", 4);
    CHECK(reader.next(payload) == FrameReader::Status::Oversized);
}

TEST(Framing, BlockingHelpersRoundTripOverASocketPair)
{
    int fds[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    std::string big(3 << 20, 'q'); /* larger than a socket buffer: exercises short writes */
    std::thread writer([&] {
        CHECK(writeFrame(fds[0], "hello"));
        CHECK(writeFrame(fds[0], big));
        ::close(fds[0]);
    });
    std::string payload;
    CHECK(readFrame(fds[1], payload, 30000) == ReadStatus::Ok);
    STRCMP_EQUAL("hello", payload.c_str());
    CHECK(readFrame(fds[1], payload, 30000) == ReadStatus::Ok);
    CHECK(payload == big);
    CHECK(readFrame(fds[1], payload, 30000) == ReadStatus::Closed);
    writer.join();
    ::close(fds[1]);
}

TEST(Framing, ReadTimesOutAndRejectsOversized)
{
    int fds[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    std::string payload, error;
    CHECK(readFrame(fds[1], payload, 50, kMaxFrameBytes, &error) == ReadStatus::Timeout);
    const unsigned char header[4] = {0x7f, 0xff, 0xff, 0xff};
    CHECK(::write(fds[0], header, 4) == 4);
    CHECK(readFrame(fds[1], payload, 1000, kMaxFrameBytes, &error) == ReadStatus::Oversized);
    CHECK(error.find("2147483647") != std::string::npos);
    ::close(fds[0]);
    ::close(fds[1]);
}

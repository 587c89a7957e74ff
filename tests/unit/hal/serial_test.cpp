#include "hal/serial.h"

#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <pty.h>
#include <string>
#include <unistd.h>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "hal/error.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::hal;

namespace {

/* Runs the loop until `done` or a generous deadline. */
template <typename Pred> bool runUntil(boost::asio::io_context &io, Pred done, int seconds = 20)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_for(std::chrono::milliseconds(20));
    }
    return done();
}

struct Pty
{
    int master = -1;
    int slave = -1;
    std::string path;

    Pty()
    {
        char name[128];
        if (openpty(&master, &slave, name, nullptr, nullptr) != 0)
            FAIL("openpty failed");
        path = name;
    }
    ~Pty()
    {
        ::close(master);
        ::close(slave);
    }
    void send(const std::string &bytes) const
    {
        CHECK(::write(master, bytes.data(), bytes.size()) == ssize_t(bytes.size()));
    }
    std::string receive(std::size_t atLeast) const
    {
        std::string got;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        char buf[256];
        while (got.size() < atLeast && std::chrono::steady_clock::now() < deadline) {
            ssize_t n = ::read(master, buf, sizeof(buf));
            if (n > 0)
                got.append(buf, n);
            else
                usleep(1000);
        }
        return got;
    }
};

} /* namespace */

TEST_GROUP(SerialPort){};

TEST(SerialPort, MissingDeviceNamesIt)
{
    boost::asio::io_context io;
    SerialConfig config;
    config.device = "/dev/ttyNOPE-stopline";
    try {
        SerialPort port(io, config);
        FAIL("opened a missing device");
    } catch (const HalError &e) {
        std::string what = e.what();
        CHECK(what.find("/dev/ttyNOPE-stopline") != std::string::npos);
        CHECK(what.find("No such file or directory") != std::string::npos);
    }
}

TEST(SerialPort, BadSettingIsNamed)
{
    boost::asio::io_context io;
    Pty pty;
    SerialConfig config;
    config.device = pty.path;
    config.characterSize = 9;
    try {
        SerialPort port(io, config);
        FAIL("accepted a 9-bit character size");
    } catch (const HalError &e) {
        CHECK(std::string(e.what()).find("character size 9") != std::string::npos);
    }
}

TEST(SerialPort, ReadsLinesOnAPtyWithTimestamps)
{
    boost::asio::io_context io;
    Pty pty;
    SerialConfig config;
    config.device = pty.path;
    config.baud = 115200;
    config.parity = SerialConfig::Parity::Even;
    config.stopBits = SerialConfig::StopBits::Two;
    config.flow = SerialConfig::FlowControl::None;
    SerialPort port(io, config);
    std::vector<std::string> lines;
    std::vector<Nanos> stamps;
    port.startReading([&](const SerialLine &line) {
        lines.emplace_back(line.text);
        stamps.push_back(line.sampleNs);
        CHECK(!line.truncated);
    });
    Nanos before = monotonicNow();
    /* CRLF as the OPS243 sends it, a bare LF, a line split across writes, blank lines. */
    pty.send("-88.3\r\n{\"speed\":\"1.0\"}\r\n");
    pty.send("12");
    CHECK(runUntil(io, [&] { return lines.size() == 2; }));
    pty.send("3.5\n\r\n\r\nlast\r\n");
    CHECK(runUntil(io, [&] { return lines.size() == 4; }));
    LONGS_EQUAL(4, lines.size());
    STRCMP_EQUAL("-88.3", lines[0].c_str());
    STRCMP_EQUAL("{\"speed\":\"1.0\"}", lines[1].c_str());
    STRCMP_EQUAL("123.5", lines[2].c_str());
    STRCMP_EQUAL("last", lines[3].c_str());
    CHECK(stamps[0] >= before);
    CHECK(stamps[3] >= stamps[0]);
    CHECK(stamps[3] <= monotonicNow());
}

TEST(SerialPort, OverlongLinesAreCutFlaggedAndTheNextLineSurvives)
{
    boost::asio::io_context io;
    Pty pty;
    SerialConfig config;
    config.device = pty.path;
    config.maxLineBytes = 16;
    SerialPort port(io, config);
    std::vector<std::pair<std::string, bool>> lines;
    port.startReading(
            [&](const SerialLine &line) { lines.emplace_back(line.text, line.truncated); });
    pty.send(std::string(100, 'x') + "\r\nok\r\n");
    CHECK(runUntil(io, [&] { return lines.size() == 2; }));
    LONGS_EQUAL(2, lines.size());
    LONGS_EQUAL(16, lines[0].first.size());
    CHECK(lines[0].second);
    STRCMP_EQUAL("ok", lines[1].first.c_str());
    CHECK(!lines[1].second);
    LONGS_EQUAL(1, port.linesTruncated());
}

TEST(SerialPort, WritesInOrder)
{
    boost::asio::io_context io;
    Pty pty;
    SerialConfig config;
    config.device = pty.path;
    SerialPort port(io, config);
    port.startReading([](const SerialLine &) {});
    port.write("US");
    port.write("OJ");
    port.write("R>5\r");
    io.restart();
    io.run_for(std::chrono::milliseconds(200));
    std::string got = pty.receive(8);
    STRCMP_EQUAL("USOJR>5\r", got.c_str());
}

TEST(SerialPort, ReportsWhenTheOtherEndGoesAway)
{
    boost::asio::io_context io;
    auto pty = std::make_unique<Pty>();
    SerialConfig config;
    config.device = pty->path;
    SerialPort port(io, config);
    std::string error;
    port.startReading([](const SerialLine &) {}, [&](const std::string &m) { error = m; });
    ::close(pty->master); /* reading the slave now fails with EIO */
    pty->master = ::open("/dev/null", O_RDONLY);
    CHECK(runUntil(io, [&] { return !error.empty(); }));
    CHECK(!error.empty());
}

#include "hal/gpio.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "hal/error.h"
#include "hal/sim/framing.h"
#include "sim_wire.pb.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::hal;
namespace simwire = stopline::simwire;

namespace {

template <typename Pred> bool runUntil(boost::asio::io_context &io, Pred done, int seconds = 20)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_for(std::chrono::milliseconds(20));
    }
    return done();
}

std::string expectHalError(const std::function<void()> &open)
{
    try {
        open();
    } catch (const HalError &e) {
        return e.what();
    }
    FAIL("no HalError");
    return {};
}

/* The simulator's side of the GPIO wire, as small as a test allows: one client, a chip
 * called "gpiochip-sim0" with lines NB_RED(0) NB_YELLOW(1) NB_GREEN(2), then a script. */
class TinyGpioServer
{
public:
    std::vector<simwire::GpioEdge> edges; /* sent after the handshake */
    bool closeAfterEdges = false;
    simwire::GpioRequest received;

    TinyGpioServer()
    {
        char dir[] = "/tmp/stopline-gpio-XXXXXX";
        CHECK(mkdtemp(dir) != nullptr);
        dir_ = dir;
        path = dir_ + "/gpio.sock";
        listen_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strcpy(addr.sun_path, path.c_str());
        CHECK(::bind(listen_, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0);
        CHECK(::listen(listen_, 4) == 0);
    }

    void serve()
    {
        thread_ = std::thread([this] {
            int fd = ::accept(listen_, nullptr, nullptr);
            if (fd < 0)
                return;
            std::string payload;
            simwire::GpioMessage msg;
            if (hal::sim::readFrame(fd, payload, 10000) != hal::sim::ReadStatus::Ok ||
                !msg.ParseFromString(payload)) {
                ::close(fd);
                return;
            }
            received = msg.request();
            simwire::GpioMessage reply;
            simwire::GpioChipInfo *chip = reply.mutable_chip();
            chip->set_name("gpiochip-sim0");
            chip->set_label("stopline-sim");
            const char *names[] = {"NB_RED", "NB_YELLOW", "NB_GREEN"};
            if (received.chip() != "gpiochip-sim0") {
                chip->set_error("unknown chip '" + received.chip() + "'");
            } else {
                for (const std::string &wanted : received.lines()) {
                    int found = -1;
                    for (int i = 0; i < 3; ++i)
                        if (wanted == names[i] || wanted == std::to_string(i))
                            found = i;
                    if (found < 0) {
                        chip->set_error("unknown line '" + wanted + "'");
                        break;
                    }
                    simwire::GpioLine *line = chip->add_lines();
                    line->set_offset(found);
                    line->set_name(names[found]);
                    line->set_value(found == 0); /* red lit at start */
                }
            }
            hal::sim::writeFrame(fd, reply.SerializeAsString());
            if (chip->error().empty()) {
                /* Batch every edge in one write: the client must split frames itself. */
                std::string stream;
                for (const simwire::GpioEdge &edge : edges) {
                    simwire::GpioMessage m;
                    *m.mutable_edge() = edge;
                    hal::sim::appendMessage(stream, m);
                }
                ::send(fd, stream.data(), stream.size(), MSG_NOSIGNAL);
                if (!closeAfterEdges) {
                    char c;
                    while (::read(fd, &c, 1) > 0) {
                    }
                }
            }
            ::close(fd);
        });
    }

    ~TinyGpioServer()
    {
        ::shutdown(listen_, SHUT_RDWR);
        ::close(listen_);
        if (thread_.joinable())
            thread_.join();
        std::filesystem::remove_all(dir_);
    }

    std::string path;

private:
    std::string dir_;
    int listen_ = -1;
    std::thread thread_;
};

simwire::GpioEdge edge(unsigned offset, bool rising, Nanos ts, std::uint64_t seq)
{
    simwire::GpioEdge e;
    e.set_offset(offset);
    e.set_rising(rising);
    e.set_timestamp_ns(ts);
    e.set_seqno(seq);
    return e;
}

GpioConfig simConfig(const std::string &socket)
{
    GpioConfig config;
    config.backend = "sim";
    config.chip = "gpiochip-sim0";
    config.simSocket = socket;
    config.lines = {{"red", "NB_RED", false, {}}, {"yellow", "1", true, {}}};
    return config;
}

} /* namespace */

TEST_GROUP(GpioLines){};

TEST(GpioLines, LibgpiodMissingChipIsNamed)
{
    /* This machine has no gpiochip at all; a board would list what it has. */
    boost::asio::io_context io;
    GpioConfig config;
    config.backend = "gpiod";
    config.chip = "gpiochip-does-not-exist";
    config.lines = {{"red", "NB_RED", false, {}}};
    std::string what = expectHalError([&] { openGpioLines(io, config); });
    CHECK_TEXT(what.find("gpio chip 'gpiochip-does-not-exist' not found") != std::string::npos,
               what.c_str());
    CHECK_TEXT(what.find("chips present:") != std::string::npos, what.c_str());
}

TEST(GpioLines, UnknownBackendIsNamed)
{
    boost::asio::io_context io;
    GpioConfig config;
    config.backend = "wiringpi";
    std::string what = expectHalError([&] { openGpioLines(io, config); });
    CHECK(what.find("unknown backend 'wiringpi'") != std::string::npos);
}

TEST(GpioLines, SimMissingSocketIsNamed)
{
    boost::asio::io_context io;
    std::string what =
            expectHalError([&] { openGpioLines(io, simConfig("/tmp/stopline-no-such.sock")); });
    CHECK_TEXT(what.find("/tmp/stopline-no-such.sock") != std::string::npos, what.c_str());
    CHECK(what.find("is stopline-sim running?") != std::string::npos);
}

TEST(GpioLines, SimRefusedChipAndLineAreNamed)
{
    boost::asio::io_context io;
    {
        TinyGpioServer server;
        server.serve();
        GpioConfig config = simConfig(server.path);
        config.chip = "gpiochip7";
        std::string what = expectHalError([&] { openGpioLines(io, config); });
        CHECK_TEXT(what.find("refused by the simulator: unknown chip 'gpiochip7'") !=
                           std::string::npos,
                   what.c_str());
    }
    {
        TinyGpioServer server;
        server.serve();
        GpioConfig config = simConfig(server.path);
        config.lines.push_back({"green", "SB_GREEN", false, {}});
        std::string what = expectHalError([&] { openGpioLines(io, config); });
        CHECK_TEXT(what.find("unknown line 'SB_GREEN'") != std::string::npos, what.c_str());
    }
}

TEST(GpioLines, SimClientDeliversEdgesWithSimulatorTimestamps)
{
    boost::asio::io_context io;
    TinyGpioServer server;
    Nanos t0 = 5'000'000'123;
    server.edges = {edge(0, false, t0, 1), edge(1, true, t0 + 1000, 1),
                    edge(2, true, t0 + 2000, 1), /* not requested: ignored */
                    edge(1, false, t0 + 3'000'000'000, 2)};
    server.closeAfterEdges = true;
    server.serve();
    auto lines = openGpioLines(io, simConfig(server.path));
    STRCMP_EQUAL("NB_RED", server.received.lines(0).c_str());
    STRCMP_EQUAL("1", server.received.lines(1).c_str());
    STRCMP_EQUAL("stoplined", server.received.consumer().c_str());
    LONGS_EQUAL(2, lines->size());
    STRCMP_EQUAL("red", lines->name(0).c_str());
    CHECK(lines->indexOf("yellow").value() == 1);
    CHECK(lines->value(0)); /* red lit at start */
    CHECK(lines->value(1)); /* yellow physically low, active-low: logically on */
    CHECK(lines->describe().find("gpiochip-sim0") != std::string::npos);

    std::vector<GpioEvent> events;
    std::string error;
    lines->start([&](const GpioEvent &e) { events.push_back(e); },
                 [&](const std::string &m) { error = m; });
    CHECK(runUntil(io, [&] { return !error.empty(); }));
    LONGS_EQUAL(3, events.size());
    LONGS_EQUAL(0, events[0].index);
    CHECK(!events[0].active);
    LONGS_EQUAL(t0, events[0].stamp.sampleNs);
    LONGS_EQUAL(1, events[1].index);
    CHECK(!events[1].active); /* rising on an active-low line: lamp off */
    LONGS_EQUAL(t0 + 1000, events[1].stamp.sampleNs);
    CHECK(events[2].active);
    LONGS_EQUAL(t0 + 3'000'000'000, events[2].stamp.sampleNs);
    LONGS_EQUAL(2, events[2].seqno);
    CHECK(events[2].stamp.seenNs > 0);
    CHECK(lines->value(1));
    CHECK_TEXT(error.find("closed") != std::string::npos, error.c_str());
}

TEST(GpioLines, SimClientStopsQuietly)
{
    boost::asio::io_context io;
    TinyGpioServer server;
    server.serve();
    auto lines = openGpioLines(io, simConfig(server.path));
    bool called = false;
    lines->start([&](const GpioEvent &) { called = true; },
                 [&](const std::string &) { called = true; });
    io.restart();
    io.run_for(std::chrono::milliseconds(50));
    lines->stop();
    lines.reset();
    io.restart();
    io.run_for(std::chrono::milliseconds(50));
    CHECK(!called);
}

TEST(GpioLines, SimPollDeliversWaitingEdgesWithoutTheLoop)
{
    boost::asio::io_context io;
    TinyGpioServer server;
    server.edges = {edge(0, false, 10, 1), edge(0, true, 20, 2)};
    server.serve();
    auto lines = openGpioLines(io, simConfig(server.path));
    std::vector<GpioEvent> events;
    lines->start([&](const GpioEvent &e) { events.push_back(e); });
    /* The loop never runs here: only poll() can deliver. */
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (events.size() < 2 && std::chrono::steady_clock::now() < deadline)
        lines->poll();
    LONGS_EQUAL(2, events.size());
    LONGS_EQUAL(10, events[0].stamp.sampleNs);
    LONGS_EQUAL(20, events[1].stamp.sampleNs);
    /* Afterwards the asynchronous read still works and sees no duplicates. */
    io.restart();
    io.run_for(std::chrono::milliseconds(50));
    LONGS_EQUAL(2, events.size());
}

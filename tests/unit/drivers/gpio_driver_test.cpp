/* The whole GPIO path: a scripted simulator on the GPIO wire -> hal sim client ->
 * GpioDriver -> phase decoder and beacon detector, in real time on the event loop. */
#include "drivers/gpio_driver.h"

#include <algorithm>
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

#include "drivers/beacon/beacon_detector.h"
#include "drivers/signal/phase_decoder.h"
#include "hal/sim/framing.h"
#include "sim_wire.pb.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::drivers;
namespace simwire = stopline::simwire;

namespace {

constexpr Nanos ms = kNanosPerMilli;

struct ScriptedEdge
{
    unsigned offset;
    bool rising;
    Nanos at; /* CLOCK_MONOTONIC; sent when that time comes, like a kernel event */
};

/* Plays a chip with lines NB_RED(0) NB_YELLOW(1) NB_GREEN(2) BEACON(3). */
class ScriptedGpioServer
{
public:
    std::vector<ScriptedEdge> script;

    ScriptedGpioServer()
    {
        char dir[] = "/tmp/stopline-gpiodrv-XXXXXX";
        CHECK(mkdtemp(dir) != nullptr);
        dir_ = dir;
        path = dir_ + "/gpio.sock";
        listen_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strcpy(addr.sun_path, path.c_str());
        CHECK(::bind(listen_, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0);
        CHECK(::listen(listen_, 1) == 0);
    }
    ~ScriptedGpioServer()
    {
        stop_ = true;
        ::shutdown(listen_, SHUT_RDWR);
        ::close(listen_);
        if (thread_.joinable())
            thread_.join();
        std::filesystem::remove_all(dir_);
    }
    void serve(std::vector<bool> initial)
    {
        thread_ = std::thread([this, initial] {
            int fd = ::accept(listen_, nullptr, nullptr);
            if (fd < 0)
                return;
            std::string payload;
            simwire::GpioMessage request;
            hal::sim::readFrame(fd, payload, 10000);
            request.ParseFromString(payload);
            const char *names[] = {"NB_RED", "NB_YELLOW", "NB_GREEN", "BEACON"};
            simwire::GpioMessage reply;
            reply.mutable_chip()->set_name("gpiochip-sim0");
            for (const std::string &wanted : request.request().lines())
                for (unsigned i = 0; i < 4; ++i)
                    if (wanted == names[i]) {
                        auto *line = reply.mutable_chip()->add_lines();
                        line->set_offset(i);
                        line->set_name(names[i]);
                        line->set_value(initial[i]);
                    }
            hal::sim::writeFrame(fd, reply.SerializeAsString());
            std::uint64_t seq = 0;
            for (const ScriptedEdge &e : script) {
                while (!stop_ && monotonicNow() < e.at)
                    std::this_thread::sleep_for(std::chrono::microseconds(200));
                if (stop_)
                    break;
                simwire::GpioMessage msg;
                msg.mutable_edge()->set_offset(e.offset);
                msg.mutable_edge()->set_name(names[e.offset]);
                msg.mutable_edge()->set_rising(e.rising);
                msg.mutable_edge()->set_timestamp_ns(e.at);
                msg.mutable_edge()->set_seqno(++seq);
                hal::sim::writeFrame(fd, msg.SerializeAsString());
            }
            done = true;
            char c;
            while (!stop_ && ::read(fd, &c, 1) > 0) {
            }
            ::close(fd);
        });
    }

    std::string path;
    std::atomic<bool> done{false};

private:
    std::string dir_;
    int listen_ = -1;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

} /* namespace */

TEST_GROUP(GpioDriver){};

TEST(GpioDriver, SimulatorEdgesToPhasesWithExactTimesDespiteChatter)
{
    ScriptedGpioServer server;
    Nanos t = monotonicNow() + 300 * ms;
    /* Green -> yellow at t, red at t+300 ms; 1 kHz chatter on the dark green lamp during
     * red; then the beacon flashes (250 ms period, with a matching configuration, to keep
     * the test short) and stops. */
    server.script.push_back({2, false, t});
    server.script.push_back({1, true, t});
    server.script.push_back({1, false, t + 300 * ms});
    server.script.push_back({0, true, t + 300 * ms});
    bool level = true;
    Nanos c = t + 400 * ms;
    for (; c < t + 600 * ms; c += 500'000) {
        server.script.push_back({2, level, c});
        level = !level;
    }
    server.script.push_back({2, false, c});
    for (int i = 0; i < 4; ++i) {
        server.script.push_back({3, true, t + 700 * ms + i * 250 * ms});
        server.script.push_back({3, false, t + 800 * ms + i * 250 * ms});
    }
    std::sort(server.script.begin(), server.script.end(),
              [](const ScriptedEdge &a, const ScriptedEdge &b) { return a.at < b.at; });
    server.serve({false, false, true, false});

    boost::asio::io_context io;
    hal::GpioConfig config;
    config.backend = "sim";
    config.chip = "gpiochip-sim0";
    config.simSocket = server.path;
    config.lines = {{"NB_RED", "NB_RED", false, {}},
                    {"NB_YELLOW", "NB_YELLOW", false, {}},
                    {"NB_GREEN", "NB_GREEN", false, {}},
                    {"BEACON", "BEACON", false, {}}};
    auto lines = hal::openGpioLines(io, config);

    std::vector<PhaseChange> phases;
    std::vector<SignalInterval> intervals;
    std::vector<SignalFault> faults;
    PhaseDecoderConfig signalConfig;
    signalConfig.heads = {{"NB", "NB_RED", "NB_YELLOW", "NB_GREEN"}};
    PhaseDecoder decoder(signalConfig,
                         SignalSink{[&](const PhaseChange &p) { phases.push_back(p); },
                                    [&](const SignalFault &f) { faults.push_back(f); },
                                    [&](const SignalInterval &i) { intervals.push_back(i); }});
    std::vector<BeaconState> beacons;
    BeaconDetectorConfig beaconConfig;
    beaconConfig.beacons = {{"school", "BEACON"}};
    beaconConfig.minPeriodNs = 200 * ms;
    beaconConfig.maxPeriodNs = 300 * ms;
    beaconConfig.lossTimeoutNs = 600 * ms;
    BeaconDetector beacon(beaconConfig, [&](const BeaconState &b) { beacons.push_back(b); });

    GpioDriver driver(io, lines.get());
    driver.add(&decoder);
    driver.add(&beacon);
    std::string error;
    driver.start([&](const std::string &m) { error = m; });

    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!(server.done && beacons.size() >= 3) && std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_for(std::chrono::milliseconds(20));
    }
    driver.stop();
    STRCMP_EQUAL("", error.c_str());

    LONGS_EQUAL(3, phases.size()); /* initial green, yellow, red: chatter changed nothing */
    CHECK(phases[0].phase == Phase::Green);
    CHECK(phases[1].phase == Phase::Yellow);
    LONGS_EQUAL(t, phases[1].at.sampleNs);
    CHECK(phases[2].phase == Phase::Red);
    LONGS_EQUAL(t + 300 * ms, phases[2].at.sampleNs);
    LONGS_EQUAL(1, intervals.size());
    LONGS_EQUAL(300 * ms, intervals[0].durationNs);
    CHECK(faults.empty());
    CHECK(decoder.lateEdges() == 0);

    LONGS_EQUAL(3, beacons.size()); /* inactive at start, active, lost */
    CHECK(beacons[1].active);
    LONGS_EQUAL(t + 700 * ms, beacons[1].sinceNs);
    CHECK(!beacons[2].active);
    LONGS_EQUAL(t + 800 * ms + 3 * 250 * ms, beacons[2].sinceNs);
    CHECK(driver.edges() > 400);
}

TEST(GpioDriver, MachineLineMissingFromTheChipIsNamed)
{
    ScriptedGpioServer server;
    server.serve({false, false, false, false});
    boost::asio::io_context io;
    hal::GpioConfig config;
    config.backend = "sim";
    config.chip = "gpiochip-sim0";
    config.simSocket = server.path;
    config.lines = {{"NB_RED", "NB_RED", false, {}}};
    auto lines = hal::openGpioLines(io, config);
    PhaseDecoderConfig signalConfig;
    signalConfig.heads = {{"NB", "NB_RED", "NB_YELLOW", ""}};
    PhaseDecoder decoder(signalConfig, {});
    GpioDriver driver(io, lines.get());
    try {
        driver.add(&decoder);
        FAIL("accepted a line the chip does not have");
    } catch (const std::invalid_argument &e) {
        CHECK(std::string(e.what()).find("'NB_YELLOW' is not configured") != std::string::npos);
    }
}

#include "drivers/radar/ops243_driver.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <poll.h>
#include <pty.h>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::drivers;
using namespace stopline::drivers::radar;

namespace {

constexpr Nanos ms = kNanosPerMilli;

/* An OPS243 on the far side of a pseudo-terminal, answering as the reference says. */
class FakeOps243
{
public:
    std::string frequencyReply = R"({"Frequency":"24.125"})";
    bool frozenClock = false;
    bool silentOnJson = false;
    bool garbage = false;               /* a noise line before every reply */
    std::atomic<double> streamSpeed{0}; /* mph; 0 = no target in the beam */

    FakeOps243()
    {
        char name[128];
        if (openpty(&master_, &slave_, name, nullptr, nullptr) != 0)
            FAIL("openpty failed");
        path = name;
    }
    ~FakeOps243()
    {
        running_ = false;
        if (thread_.joinable())
            thread_.join();
        ::close(master_);
        ::close(slave_);
    }
    void run()
    {
        started_ = std::chrono::steady_clock::now();
        thread_ = std::thread([this] { loop(); });
    }
    std::vector<std::string> commands()
    {
        std::lock_guard<std::mutex> guard(lock_);
        return commands_;
    }

    std::string path;

private:
    void send(const std::string &line)
    {
        std::string bytes = line + "\r\n";
        if (::write(master_, bytes.data(), bytes.size()) < 0)
            return;
    }
    void answer(const std::string &cmd)
    {
        {
            std::lock_guard<std::mutex> guard(lock_);
            commands_.push_back(cmd);
        }
        if (garbage)
            send("\x01\x02garbage{{");
        double clock =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count() +
                50;
        if (cmd == "US")
            send(R"({"Units":"mph"})");
        else if (cmd == "OJ" && !silentOnJson)
            send(R"({"OutputFeature":"J"})");
        else if (cmd == "OM")
            send(R"({"OutputFeature":"M"})");
        else if (cmd == "OT")
            send(R"({"OutputFeature":"T"})");
        else if (cmd[0] == 'O' && cmd[1] >= '1' && cmd[1] <= '9')
            send(std::string(R"({"OutputFeature":")") + cmd[1] + "\"}");
        else if (cmd == "?P")
            send(R"({"Product":"OPS243 Doppler"})");
        else if (cmd == "?V")
            send(R"({"Version":"1.3.1"})");
        else if (cmd == "?B")
            send(R"({"Build":"20181005_1335"})");
        else if (cmd == "?U")
            send(R"({"UID":"b2000040b7a12400d5188041"})");
        else if (cmd == "?R")
            send(R"({ "ResetReason": "Status from bitmask", "Power On" : true, "Supply Watchdog" : true, "Power Validation" : true })");
        else if (cmd == "?F")
            send(frequencyReply);
        else if (cmd == "C?") {
            char buf[64];
            std::snprintf(buf, sizeof(buf), R"({"Clock":"%.3f"})", frozenClock ? 50.0 : clock);
            send(buf);
        }
    }
    void loop()
    {
        std::string pending;
        auto nextReport = std::chrono::steady_clock::now();
        while (running_) {
            pollfd p{master_, POLLIN, 0};
            if (::poll(&p, 1, 10) > 0) {
                char buf[64];
                ssize_t n = ::read(master_, buf, sizeof(buf));
                if (n > 0)
                    pending.append(buf, n);
                while (pending.size() >= 2) {
                    answer(pending.substr(0, 2));
                    pending.erase(0, 2);
                }
            }
            double speed = streamSpeed;
            if (speed != 0 && std::chrono::steady_clock::now() >= nextReport) {
                char buf[128];
                std::snprintf(buf, sizeof(buf), R"({"magnitude":"512.3","speed":"%.2f"})", speed);
                send(buf);
                nextReport += std::chrono::milliseconds(100); /* ~10 Hz */
            } else if (speed == 0) {
                nextReport = std::chrono::steady_clock::now();
            }
        }
    }

    int master_ = -1;
    int slave_ = -1;
    std::atomic<bool> running_{true};
    std::thread thread_;
    std::mutex lock_;
    std::vector<std::string> commands_;
    std::chrono::steady_clock::time_point started_;
};

template <typename Pred> bool runUntil(boost::asio::io_context &io, Pred done, int seconds = 30)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_for(std::chrono::milliseconds(20));
    }
    return done();
}

Ops243DriverConfig fastConfig()
{
    Ops243DriverConfig config;
    config.clockGapNs = 300 * ms; /* the fake's clock has millisecond resolution */
    config.replyTimeoutNs = 300 * ms;
    config.periodicCheckNs = 0;
    config.targets = 3;
    return config;
}

struct Harness
{
    boost::asio::io_context io;
    FakeOps243 sensor;
    std::unique_ptr<hal::SerialPort> port;
    std::unique_ptr<Ops243Driver> driver;
    std::vector<RadarSelfCheck> checks;
    std::vector<RadarReport> reports;
    std::string error;

    void start(Ops243DriverConfig config = fastConfig())
    {
        sensor.run();
        hal::SerialConfig serial;
        serial.device = sensor.path;
        port = std::make_unique<hal::SerialPort>(io, serial);
        driver = std::make_unique<Ops243Driver>(io, port.get(), config);
        driver->start([this](const RadarReport &r) { reports.push_back(r); },
                      [this](const RadarSelfCheck &c) { checks.push_back(c); },
                      [this](const std::string &m) { error = m; });
    }
};

} /* namespace */

TEST_GROUP(Ops243Driver){};

TEST(Ops243Driver, ConfiguresReadsIdentityAndPassesThePowerOnCheck)
{
    Harness h;
    h.start();
    CHECK(runUntil(h.io, [&] { return !h.checks.empty() || !h.error.empty(); }));
    STRCMP_EQUAL("", h.error.c_str());
    std::vector<std::string> expected = {"US", "OJ", "OM", "OT", "O3", "?P", "?V",
                                         "?B", "?U", "?R", "?F", "C?", "C?"};
    std::vector<std::string> sent = h.sensor.commands();
    LONGS_EQUAL(expected.size(), sent.size());
    for (std::size_t i = 0; i < expected.size(); ++i)
        STRCMP_EQUAL(expected[i].c_str(), sent[i].c_str());

    const RadarSelfCheck &check = h.checks[0];
    CHECK(check.kind == RadarSelfCheck::Kind::PowerOn);
    CHECK_TEXT(check.passed, check.items[2].detail.c_str());
    for (const char *name : {"identity", "frequency_band", "clock_advancing", "report_rate"})
        CHECK_TEXT(check.item(name) && check.item(name)->passed, name);
    STRCMP_EQUAL("OPS243 Doppler", h.driver->identity().product.c_str());
    STRCMP_EQUAL("1.3.1", h.driver->identity().version.c_str());
    STRCMP_EQUAL("20181005_1335", h.driver->identity().build.c_str());
    STRCMP_EQUAL("b2000040b7a12400d5188041", h.driver->identity().uid.c_str());
    CHECK(h.driver->identity().resetReason.find("Power On=true") != std::string::npos);
    DOUBLES_EQUAL(24.125, h.driver->identity().frequencyGHz.value_or(0), 1e-9);
    STRCMP_EQUAL(h.sensor.path.c_str(), h.driver->identity().serialPort.c_str());
    CHECK(h.driver->configured());
    CHECK(h.driver->speedValid());
    CHECK(h.driver->parser().unit() == SpeedUnit::Mph);
}

TEST(Ops243Driver, ForkTestWithinOneMphPassesOutsideFailsAndSuppressesSpeeds)
{
    Harness h;
    h.start();
    CHECK(runUntil(h.io, [&] { return !h.checks.empty(); }));
    h.sensor.streamSpeed = 25.4;
    h.driver->runReferenceCheck(25.0, 1500 * ms);
    CHECK(runUntil(h.io, [&] { return h.checks.size() == 2; }));
    const RadarSelfCheck &pass = h.checks[1];
    CHECK(pass.kind == RadarSelfCheck::Kind::Fork);
    CHECK_TEXT(pass.passed, pass.items[0].detail.c_str());
    DOUBLES_EQUAL(25.4, pass.measuredSpeed.value_or(0), 1e-9);
    CHECK(pass.reportRateHz >= 5.0);
    CHECK(h.driver->speedValid());
    CHECK(!h.reports.empty());
    DOUBLES_EQUAL(25.4, h.reports.back().targets[0].speed, 1e-9);
    CHECK(h.reports.back().unit == SpeedUnit::Mph);

    h.sensor.streamSpeed = 26.2; /* 1.2 mph off the fork */
    h.driver->runReferenceCheck(25.0, 1500 * ms);
    CHECK(runUntil(h.io, [&] { return h.checks.size() == 3; }));
    CHECK(!h.checks[2].passed);
    CHECK(!h.checks[2].item("reference_speed")->passed);
    CHECK(h.checks[2].item("reference_speed")->detail.find("26.20") != std::string::npos);
    CHECK(!h.driver->speedValid());
}

TEST(Ops243Driver, OutOfBandFrequencyAndFrozenClockFailTheCheck)
{
    Harness h;
    h.sensor.frequencyReply = "24.500"; /* a bare number: accepted as the ?F answer */
    h.sensor.frozenClock = true;
    h.start();
    CHECK(runUntil(h.io, [&] { return !h.checks.empty(); }));
    const RadarSelfCheck &check = h.checks[0];
    CHECK(!check.passed);
    CHECK(!check.item("frequency_band")->passed);
    CHECK(check.item("frequency_band")->detail.find("24.500") != std::string::npos);
    CHECK(!check.item("clock_advancing")->passed);
    CHECK(check.item("identity")->passed);
    CHECK(!h.driver->speedValid());
}

TEST(Ops243Driver, GarbageBetweenRepliesIsCountedAndHarmless)
{
    Harness h;
    h.sensor.garbage = true;
    h.start();
    CHECK(runUntil(h.io, [&] { return !h.checks.empty(); }));
    CHECK(h.checks[0].passed);
    /* One garbage line before each reply: 13 commands of the start-up sequence, and any
     * the driver sent again because a slow host (an emulator) let its reply time out. */
    const std::size_t answered = h.sensor.commands().size();
    CHECK(answered >= 13);
    LONGS_EQUAL(answered, h.driver->counters().rejectedTotal());
    LONGS_EQUAL(answered, h.driver->counters().rejectedFor(RejectReason::ControlCharacter));
}

TEST(Ops243Driver, NoReplyIsRetriedThenReportedNamingPortAndCommand)
{
    Harness h;
    h.sensor.silentOnJson = true;
    h.start();
    CHECK(runUntil(h.io, [&] { return !h.error.empty(); }));
    CHECK_TEXT(h.error.find(h.sensor.path) != std::string::npos, h.error.c_str());
    CHECK_TEXT(h.error.find("reply to OJ") != std::string::npos, h.error.c_str());
    std::vector<std::string> sent = h.sensor.commands();
    LONGS_EQUAL(4, sent.size()); /* US, then OJ three times */
    STRCMP_EQUAL("OJ", sent[3].c_str());
    CHECK(h.checks.empty());
    CHECK(!h.driver->speedValid());
}

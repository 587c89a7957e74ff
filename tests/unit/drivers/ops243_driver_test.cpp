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
    /* Restarted: plain lines in m/s (the power-on settings) until the units are set again. */
    std::atomic<bool> restarted{false};
    std::atomic<bool> deaf{false}; /* booting: commands go unanswered */

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
        if (deaf)
            return;
        if (garbage)
            send("\x01\x02garbage{{");
        double clock =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count() +
                50;
        if (cmd == "US") {
            restarted = false;
            send(R"({"Units":"mph"})");
        } else if (cmd == "OJ" && !silentOnJson)
            send(R"({"OutputFeature":"J"})");
        else if (cmd == "OM")
            send(R"({"OutputFeature":"M"})");
        else if (cmd == "OT")
            send(R"({"OutputFeature":"T"})");
        else if (cmd == "OU")
            send(R"({"OutputFeature":"U"})");
        else if (cmd == "U?")
            send(R"({"Units":"mph"})");
        else if (cmd == "R>0\r")
            send(R"({"RequiredMinSpeed":"0.000"})");
        else if (cmd == "R<0\r")
            send(R"({"RequiredMaxSpeed":"0.000"})");
        else if (cmd == "R|")
            send(R"({"RequiredDirection":"Both"})");
        else if (cmd == "SX")
            send(R"({"SamplingRate":10000})");
        else if (cmd == "S>")
            send(R"({"SampleSize":1024})");
        else if (cmd == "F2")
            send(R"({"OutputDecimals":2})");
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
                    /* R>n and R<n run to their carriage return */
                    std::size_t size = 2;
                    if (pending[0] == 'R' && (pending[1] == '>' || pending[1] == '<')) {
                        std::size_t cr = pending.find('\r');
                        if (cr == std::string::npos)
                            break;
                        size = cr + 1;
                    }
                    answer(pending.substr(0, size));
                    pending.erase(0, size);
                }
            }
            double speed = streamSpeed;
            if (speed != 0 && std::chrono::steady_clock::now() >= nextReport) {
                char buf[128];
                double clock =
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_)
                                .count();
                if (restarted)
                    std::snprintf(buf, sizeof(buf), "%.2f", speed * 0.44704);
                else
                    std::snprintf(
                            buf, sizeof(buf),
                            R"({"time":"%.3f","unit":"mph","magnitude":"512.3","speed":"%.2f"})",
                            clock, speed);
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
    /* units first (its reply names the firmware), output, every setting that changes a
     * speed, units read back, identity, then the clock twice; no ^ (cosine) command to
     * 2019 firmware, where ^n was the LED test */
    std::vector<std::string> expected = {"US", "OJ", "OM", "OT", "OU", "O3", "R>0\r", "R<0\r",
                                         "R|", "SX", "S>", "F2", "BV", "U?", "?P",    "?V",
                                         "?B", "?U", "?R", "?F", "C?", "C?"};
    std::vector<std::string> sent = h.sensor.commands();
    LONGS_EQUAL(expected.size(), sent.size());
    for (std::size_t i = 0; i < expected.size(); ++i)
        STRCMP_EQUAL(expected[i].c_str(), sent[i].c_str());

    const RadarSelfCheck &check = h.checks[0];
    CHECK(check.kind == RadarSelfCheck::Kind::PowerOn);
    for (const auto &i : check.items)
        CHECK_TEXT(i.passed, (i.name + ": " + i.detail).c_str());
    CHECK(check.item("settings") != nullptr);
    CHECK_TEXT(check.item("settings")->detail.find("sample_rate_hz 10000") != std::string::npos,
               check.item("settings")->detail.c_str());
    CHECK(h.driver->firmware() == RadarFirmware::Gen2019);
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
    CHECK(answered >= 22);
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

/* A sensor that restarted streams its power-on form (plain m/s): 13.41 m/s must never be
 * taken for 13.41 mph. The first such line is withheld, a Reset check (never passed) is
 * reported, speeds are invalid until the driver has set everything again and a Recovery
 * check has passed; after that the reports are in mph again. */
TEST(Ops243Driver, ARestartIsDetectedByItsFirstLineAndRecovered)
{
    Harness h;
    h.sensor.streamSpeed = 30;
    h.start();
    CHECK(runUntil(h.io, [&] { return !h.checks.empty(); }));
    CHECK(h.driver->speedValid());
    h.sensor.restarted = true;
    CHECK(runUntil(h.io, [&] { return h.checks.size() >= 3 || !h.error.empty(); }));
    STRCMP_EQUAL("", h.error.c_str());
    CHECK(h.checks[1].kind == RadarSelfCheck::Kind::Reset);
    CHECK(!h.checks[1].passed);
    const SelfCheckItemResult *why = h.checks[1].item("reset_detected");
    CHECK(why != nullptr);
    CHECK_TEXT(why->detail.find("a plain line while JSON output is set") != std::string::npos,
               why->detail.c_str());
    CHECK(h.checks[2].kind == RadarSelfCheck::Kind::Recovery);
    CHECK_TEXT(h.checks[2].passed, h.checks[2].items.back().detail.c_str());
    CHECK(h.driver->speedValid());
    LONGS_EQUAL(1, h.driver->resets());
    /* no report in other units ever came out */
    for (const RadarReport &r : h.reports)
        if (!r.targets.empty() && r.targets[0].speed != 0 &&
            r.at.sampleNs > h.checks[0].at.sampleNs)
            CHECK_TEXT(r.unit == SpeedUnit::Mph && std::abs(r.targets[0].speed - 30) < 0.01,
                       std::to_string(r.targets[0].speed).c_str());
}

/* A sensor still booting answers nothing: the driver keeps speeds invalid and tries the
 * whole configuration again (every recovery_retry) instead of giving the radar up, and
 * recovers once the sensor answers. */
TEST(Ops243Driver, RecoveryIsRetriedWhileTheSensorBoots)
{
    Harness h;
    h.sensor.streamSpeed = 30;
    Ops243DriverConfig config = fastConfig();
    config.recoveryRetryNs = 300 * ms;
    h.start(config);
    CHECK(runUntil(h.io, [&] { return !h.checks.empty(); }));
    h.sensor.deaf = true;
    h.sensor.restarted = true;
    CHECK(runUntil(h.io, [&] { return h.checks.size() >= 2; }));
    CHECK(h.checks[1].kind == RadarSelfCheck::Kind::Reset);
    /* two full configuration attempts go unanswered */
    runUntil(
            h.io, [] { return false; }, 2);
    CHECK(!h.driver->speedValid());
    CHECK(h.driver->recovering());
    STRCMP_EQUAL("", h.error.c_str());
    h.sensor.deaf = false;
    CHECK(runUntil(h.io, [&] { return h.checks.size() >= 3 || !h.error.empty(); }));
    STRCMP_EQUAL("", h.error.c_str());
    CHECK(h.checks[2].kind == RadarSelfCheck::Kind::Recovery);
    CHECK(h.checks[2].passed);
    CHECK(h.driver->speedValid());
}

/* Hardware in the loop: stopline-sim plays the intersection on its wires, the real drivers
 * read them exactly as they would read a cabinet (hal sim GPIO client, a serial port on
 * the radar's pty, the sim camera client), and what they measure is checked against the
 * simulator's ground truth (issue 3, "Done means" HIL). */

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "drivers/beacon/beacon_detector.h"
#include "drivers/gpio_driver.h"
#include "drivers/loops/loop_tracker.h"
#include "drivers/radar/ops243_driver.h"
#include "drivers/signal/phase_decoder.h"
#include "hal/camera.h"
#include "hal/clock.h"
#include "hal/gpio.h"
#include "hal/serial.h"
#include "sim_process.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::drivers;
using stopline::hil::Json;
using stopline::hil::SimProcess;

namespace {

namespace asio = boost::asio;

constexpr Nanos kMs = kNanosPerMilli;

/* Runs the event loop until the simulator has exited (plus a little, so decisions that
 * were due get made), or the timeout. */
void runUntilExit(asio::io_context &io, SimProcess &sim, Nanos timeout)
{
    asio::steady_timer poll(io);
    Nanos deadline = monotonicNow() + timeout;
    std::optional<Nanos> exitedAt;
    std::function<void()> check = [&] {
        if (sim.exited() && !exitedAt)
            exitedAt = monotonicNow();
        if ((exitedAt && monotonicNow() > *exitedAt + 300 * kMs) || monotonicNow() > deadline) {
            io.stop();
            return;
        }
        poll.expires_after(std::chrono::milliseconds(50));
        poll.async_wait([&](const boost::system::error_code &ec) {
            if (!ec)
                check();
        });
    };
    check();
    io.run();
    CHECK_TEXT(exitedAt.has_value(), "the simulator did not finish in time");
    LONGS_EQUAL_TEXT(0, sim.exitStatus(), sim.stderrText().c_str());
}

std::string phaseText(Phase p)
{
    return phaseName(p);
}

hal::GpioConfig simGpio(const SimProcess &sim, const std::vector<std::string> &lines)
{
    hal::GpioConfig cfg;
    cfg.backend = "sim";
    cfg.chip = sim.wires()["gpio"]["chip"];
    cfg.simSocket = sim.wires()["gpio"]["socket"];
    cfg.consumer = "hil";
    for (const auto &l : lines) {
        hal::GpioLineConfig lc;
        lc.line = l;
        cfg.lines.push_back(lc);
    }
    return cfg;
}

/* Phase changes as the truth has them: head -> [(phase, t_ns)], changes after the start
 * and before `cutoffNs`. */
std::map<std::string, std::vector<std::pair<std::string, Nanos>>> truthPhases(const SimProcess &sim,
                                                                              Nanos cutoffNs)
{
    std::map<std::string, std::vector<std::pair<std::string, Nanos>>> out;
    for (const auto &r : sim.truth("phase")) {
        if (r.contains("initial") || r["t_ns"].get<Nanos>() >= cutoffNs)
            continue;
        out[r["head"]].push_back({r["phase"], r["t_ns"].get<Nanos>()});
    }
    return out;
}

/* Checks the decoder's changes equal the truth's, edge for edge, within 1 ms. */
void checkPhasesMatch(const SimProcess &sim, const std::vector<PhaseChange> &changes,
                      Nanos cutoffNs, int *compared)
{
    auto truth = truthPhases(sim, cutoffNs);
    std::map<std::string, std::vector<std::pair<std::string, Nanos>>> seen;
    for (const auto &c : changes)
        if (c.previous != Phase::Unknown && c.at.sampleNs < cutoffNs)
            seen[c.head].push_back({phaseText(c.phase), c.at.sampleNs});
    if (std::getenv("STOPLINE_HIL_VERBOSE"))
        for (const auto &[head, list] : seen)
            for (const auto &[p, t] : list)
                std::printf("decoder %s %s %.6f\n", head.c_str(), p.c_str(), t / 1e9);
    for (const auto &[head, expected] : truth) {
        if (std::getenv("STOPLINE_HIL_VERBOSE"))
            for (const auto &[p, t] : expected)
                std::printf("truth   %s %s %.6f\n", head.c_str(), p.c_str(), t / 1e9);
        const auto &got = seen[head];
        LONGS_EQUAL_TEXT(expected.size(), got.size(), ("phase changes of head " + head).c_str());
        for (std::size_t i = 0; i < expected.size() && i < got.size(); ++i) {
            STRCMP_EQUAL(expected[i].first.c_str(), got[i].first.c_str());
            Nanos diff = got[i].second - expected[i].second;
            CHECK_TEXT(std::llabs(diff) <= kMs, ("head " + head + " " + expected[i].first +
                                                 " off by " + std::to_string(diff) + " ns")
                                                        .c_str());
            ++*compared;
        }
    }
}

} /* namespace */

TEST_GROUP(DriversHil){};

/* Yellow and red onsets to the millisecond (in fact to the nanosecond: the decoder
 * reports the first edge's kernel-style timestamp), yellow durations, loop speeds from
 * the loop spacing, and the beacon's flashing. */
TEST(DriversHil, GpioDriversMatchTheTruth)
{
    SimProcess sim("hil_signal.toml", {"--wait-for", "gpio", "--wait-timeout", "60"});
    asio::io_context io;
    auto gpio = hal::openGpioLines(
            io, simGpio(sim, {"NB_RED", "NB_YELLOW", "NB_GREEN", "EB_RED", "EB_YELLOW", "EB_GREEN",
                              "LOOP_NORTH_1_ENTRY", "LOOP_NORTH_1_EXIT", "BEACON_SZ"}));

    std::vector<PhaseChange> changes;
    std::vector<drivers::SignalFault> faults;
    std::vector<SignalInterval> intervals;
    PhaseDecoderConfig pc;
    pc.heads = {{"NB", "NB_RED", "NB_YELLOW", "NB_GREEN"},
                {"EB", "EB_RED", "EB_YELLOW", "EB_GREEN"}};
    PhaseDecoder decoder(pc, {[&](const PhaseChange &c) { changes.push_back(c); },
                              [&](const drivers::SignalFault &f) { faults.push_back(f); },
                              [&](const SignalInterval &i) { intervals.push_back(i); }});
    std::vector<LoopCrossing> crossings;
    LoopTrackerConfig lc;
    /* entry loop 3 m before the line and 1.8 m long, exit loop 1 m after: leading edge
     * to leading edge 5.8 m */
    lc.lanes = {{"north", 1, "LOOP_NORTH_1_ENTRY", "LOOP_NORTH_1_EXIT", 5.8}};
    LoopTracker loops(lc, {{}, [&](const LoopCrossing &c) { crossings.push_back(c); }});
    std::vector<BeaconState> beacon;
    BeaconDetectorConfig bc;
    bc.beacons = {{"SZ", "BEACON_SZ"}};
    BeaconDetector detector(bc, [&](const BeaconState &s) { beacon.push_back(s); });

    GpioDriver driver(io, gpio.get());
    driver.add(&decoder);
    driver.add(&loops);
    driver.add(&detector);
    driver.start();
    runUntilExit(io, sim, 90 * kNanosPerSecond);

    Nanos t0 = sim.truth("start").at(0)["t0_ns"];
    Nanos cutoff = t0 + 13 * kNanosPerSecond; /* decisions on the last second may be cut */
    int compared = 0;
    checkPhasesMatch(sim, changes, cutoff, &compared);
    CHECK(compared >= 10);
    CHECK_TEXT(faults.empty(), "no signal fault in a clean run");

    /* every yellow measured as the truth shows it, the short one included */
    int yellows = 0;
    for (const auto &r : sim.truth("phase")) {
        if (r.value("previous", "") != "yellow" || r["t_ns"].get<Nanos>() >= cutoff)
            continue;
        Nanos truthDuration = std::llround(r["previous_duration_s"].get<double>() * 1e9);
        bool found = false;
        for (const auto &i : intervals)
            if (i.kind == SignalInterval::Kind::Yellow && i.head == r["head"] &&
                std::llabs(i.endNs - r["t_ns"].get<Nanos>()) <= kMs) {
                CHECK(std::llabs(i.durationNs - truthDuration) <= kMs);
                found = true;
            }
        CHECK_TEXT(found, ("yellow ending at " + std::to_string(r["t_s"].get<double>())).c_str());
        ++yellows;
    }
    CHECK(yellows >= 3);

    /* loop pairs give the true speed */
    std::vector<Json> enters = sim.truth("vehicle_enter");
    LONGS_EQUAL(2, enters.size());
    LONGS_EQUAL(2, crossings.size());
    for (std::size_t i = 0; i < crossings.size(); ++i) {
        double truthMph = enters[i]["speed_mph"];
        DOUBLES_EQUAL(truthMph, crossings[i].speedMps / 0.44704, 0.05);
    }
    for (const auto &r : sim.truth("loop"))
        if (r["loop"] == "LOOP_NORTH_1_ENTRY" && r["occupied"] == true) {
            bool found = false;
            for (const auto &c : crossings)
                found |= std::llabs(c.entryOnNs - r["t_ns"].get<Nanos>()) <= kMs;
            CHECK(found);
        }

    /* the beacon: active since its first flash */
    auto truthBeacon = sim.truth("beacon");
    LONGS_EQUAL(2, truthBeacon.size());
    /* (the detector may first report the idle state it starts in) */
    auto active = std::find_if(beacon.begin(), beacon.end(),
                               [](const BeaconState &b) { return b.active; });
    CHECK_TEXT(active != beacon.end(), "the flashing is detected");
    CHECK(std::llabs(active->sinceNs - truthBeacon[0]["t_ns"].get<Nanos>()) <= kMs);
    bool lost = false;
    for (auto it = active; it != beacon.end(); ++it)
        lost |= !it->active;
    CHECK_TEXT(lost, "the end of flashing is detected");
}

/* The radar driver over the pty: every report it parses is one the truth recorded, and
 * after cosine correction it reads the vehicle's true speed within 0.5 mph. */
/* The driver against the emulated sensor of either firmware generation: it configures,
 * its self-check passes, and its speeds match the truth. */
void radarSpeedsMatchTheTruth(const char *firmware)
{
    SimProcess sim("hil_radar.toml",
                   {"--wait-for", "radar", "--wait-timeout", "60", "--radar-firmware", firmware});
    asio::io_context io;
    hal::SerialConfig sc;
    sc.device = sim.wires()["radar"]["pty"];
    hal::SerialPort port(io, sc);
    radar::Ops243DriverConfig rc;
    rc.unit = SpeedUnit::Mph;
    rc.targets = 1;
    rc.periodicCheckNs = 0;
    radar::Ops243Driver driver(io, &port, rc);
    std::vector<RadarReport> reports;
    std::vector<radar::RadarSelfCheck> checks;
    std::vector<std::string> errors;
    driver.start([&](const RadarReport &r) { reports.push_back(r); },
                 [&](const radar::RadarSelfCheck &c) { checks.push_back(c); },
                 [&](const std::string &e) { errors.push_back(e); });
    runUntilExit(io, sim, 120 * kNanosPerSecond);

    CHECK(driver.configured());
    CHECK(!checks.empty());
    for (const auto &i : checks.at(0).items)
        CHECK_TEXT(i.passed, (i.name + ": " + i.detail).c_str());
    CHECK(checks.at(0).passed);
    CHECK(driver.firmware() == (std::string(firmware) == "2025" ? radar::RadarFirmware::Current
                                                                : radar::RadarFirmware::Gen2019));
    STRCMP_EQUAL("OPS243 Doppler", driver.identity().product.c_str());
    CHECK(driver.identity().frequencyGHz.has_value());
    DOUBLES_EQUAL(24.125, *driver.identity().frequencyGHz, 1e-9);
    LONGS_EQUAL(0, driver.counters().rejectedTotal());

    Json start = sim.truth("start").at(0);
    double angle = start["radar"]["angle_deg"];
    double cosA = std::cos(angle * M_PI / 180);
    std::vector<Json> truth = sim.truth("radar");
    CHECK(truth.size() > 100);
    /* Match each report to the truth record of the same buffer by its content, in order:
     * the sensor's clock (OT, on every line) names the buffer, so neither a busy host's
     * late reading nor a burst of lines can pair a report with the wrong truth. */
    std::size_t matched = 0, j = 0;
    double worst = 0;
    for (const auto &r : reports) {
        if (r.targets.empty() || r.unit != SpeedUnit::Mph || !r.sensorTimeS)
            continue; /* a line from before the driver set the units and the clock */
        std::size_t k = j;
        while (k < truth.size() &&
               std::abs(truth[k]["sensor_time_s"].get<double>() - *r.sensorTimeS) > 5e-4)
            ++k;
        CHECK_TEXT(k < truth.size(), ("report at sensor time " + std::to_string(*r.sensorTimeS) +
                                      " s matches no line the simulator sent after the previous")
                                             .c_str());
        j = k + 1;
        const Json &t = truth[k];
        const Json &target = t["targets"][0];
        DOUBLES_EQUAL(target["value"].get<double>(), r.targets[0].speed, 1e-6);
        double corrected = r.targets[0].speed / cosA;
        double trueMph = target["vehicles"][0]["true_mph"];
        worst = std::max(worst, std::abs(corrected - trueMph));
        CHECK_TEXT(std::abs(corrected - trueMph) <= 0.5,
                   ("report " + std::to_string(r.targets[0].speed) + " mph corrected to " +
                    std::to_string(corrected) + " vs truth " + std::to_string(trueMph))
                           .c_str());
        ++matched;
    }
    /* nearly every line the simulator sent reached the driver and was matched */
    CHECK_TEXT(matched >= truth.size() * 95 / 100,
               (std::to_string(matched) + " of " + std::to_string(truth.size())).c_str());
    std::printf(
            "\nradar HIL (%s firmware): %zu reports matched of %zu sent, worst error %.3f mph\n",
            firmware, matched, truth.size(), worst);
}

TEST(DriversHil, RadarSpeedsMatchTheTruth)
{
    radarSpeedsMatchTheTruth("2019");
}

TEST(DriversHil, RadarOfCurrentFirmwareSpeedsMatchTheTruth)
{
    radarSpeedsMatchTheTruth("2025");
}

/* 1 kHz chatter on three lamp lines and 20 garbage lines a second on the radar: the phase
 * decoder reports exactly the truth's changes and no fault, the radar parser counts every
 * garbage line and still reads the real ones right. */
void chatterAndGarbage(const char *scenario, std::uint64_t minEdges)
{
    SimProcess sim(scenario, {"--wait-for", "gpio,radar", "--wait-timeout", "60"});
    asio::io_context io;
    auto gpio = hal::openGpioLines(io, simGpio(sim, {"NB_RED", "NB_YELLOW", "NB_GREEN", "EB_RED",
                                                     "EB_YELLOW", "EB_GREEN"}));
    std::vector<PhaseChange> changes;
    std::vector<drivers::SignalFault> faults;
    PhaseDecoderConfig pc;
    pc.heads = {{"NB", "NB_RED", "NB_YELLOW", "NB_GREEN"},
                {"EB", "EB_RED", "EB_YELLOW", "EB_GREEN"}};
    PhaseDecoder decoder(pc, {[&](const PhaseChange &c) { changes.push_back(c); },
                              [&](const drivers::SignalFault &f) { faults.push_back(f); },
                              {}});
    GpioDriver gpioDriver(io, gpio.get());
    gpioDriver.add(&decoder);
    gpioDriver.start();

    hal::SerialConfig sc;
    sc.device = sim.wires()["radar"]["pty"];
    hal::SerialPort port(io, sc);
    radar::Ops243DriverConfig rc;
    rc.periodicCheckNs = 0;
    radar::Ops243Driver radarDriver(io, &port, rc);
    std::vector<RadarReport> reports;
    radarDriver.start([&](const RadarReport &r) { reports.push_back(r); },
                      [](const radar::RadarSelfCheck &) {}, [](const std::string &) {});
    runUntilExit(io, sim, 90 * kNanosPerSecond);

    Nanos t0 = sim.truth("start").at(0)["t0_ns"];
    int compared = 0;
    checkPhasesMatch(sim, changes, t0 + 15 * kNanosPerSecond, &compared);
    CHECK(compared >= 12);
    CHECK_TEXT(faults.empty(), "chatter must not raise a signal fault");
    CHECK(gpioDriver.edges() > minEdges); /* the chatter really arrived */

    std::size_t garbage = sim.truth("radar_garbage").size();
    CHECK(garbage > 150);
    /* every garbage line was refused (some are split by the port's line limit into two
     * refused pieces), and real reports still came through */
    CHECK(radarDriver.counters().rejectedTotal() >= garbage);
    CHECK(radarDriver.counters().rejectedTotal() <= 2 * garbage);
    CHECK(reports.size() > 20);
    std::printf("\nfaults HIL: %" PRIu64 " GPIO edges, %zu garbage lines, %" PRIu64
                " rejected, %zu reports\n",
                gpioDriver.edges(), garbage, radarDriver.counters().rejectedTotal(),
                reports.size());
}

TEST(DriversHil, ChatterAndGarbageFoolNothing)
{
    chatterAndGarbage("hil_faults.toml", 15000);
}

/* Chatter that never pauses: only the debouncer's glitch filter (pulses under 1 ms are
 * dropped before the hold) lets real phase changes through with exact timestamps. */
TEST(DriversHil, ContinuousChatterFoolsNothing)
{
    chatterAndGarbage("hil_chatter_continuous.toml", 60000);
}

/* The camera over its wire: frames at the configured rate with exposure timestamps on the
 * scenario's clock, and in the frames the truth lists, a plate where the truth says. */
TEST(DriversHil, CameraFramesCarryPlatesWhereTheTruthSays)
{
    SimProcess sim("hil_mix.toml", {"--wait-for", "camera", "--wait-timeout", "60"});
    hal::CameraConfig cc;
    cc.backend = "sim";
    cc.device = sim.wires()["camera"]["socket"];
    hal::Clock clock;
    auto camera = hal::openCamera(cc, &clock);
    std::mutex lock;
    /* Grey copies of every third frame (holding the frames themselves would starve the
     * backend's small buffer pool, which then drops frames as designed). */
    struct Grey
    {
        Nanos ts;
        int width, height;
        std::vector<std::uint8_t> px;
    };
    std::map<std::uint64_t, Grey> frames;
    std::vector<std::pair<std::uint64_t, Nanos>> stamps;
    std::atomic<bool> stopped{false};
    camera->start(
            [&](hal::FramePtr f) {
                std::lock_guard g(lock);
                stamps.push_back({f->sequence, f->stamp.sampleNs});
                if (f->sequence % 3 != 0)
                    return;
                Grey grey{f->stamp.sampleNs, f->width, f->height, {}};
                grey.px.resize(static_cast<std::size_t>(f->width) * f->height);
                for (int y = 0; y < f->height; ++y)
                    for (int x = 0; x < f->width; ++x) {
                        const std::uint8_t *p = f->data + y * f->stride + x * 3;
                        grey.px[y * f->width + x] =
                                static_cast<std::uint8_t>((p[0] + p[1] + p[2]) / 3);
                    }
                frames[f->sequence] = std::move(grey);
            },
            [&](const std::string &) { stopped = true; });
    /* 14 s of the scenario is enough: plates of the first red-light runners */
    std::this_thread::sleep_for(std::chrono::seconds(16));
    camera->stop();
    sim.signal(SIGTERM);
    LONGS_EQUAL(0, sim.wait(20 * kNanosPerSecond));

    Nanos t0 = sim.truth("start").at(0)["t0_ns"];
    double fps = sim.wires()["camera"]["fps"];
    CHECK_TEXT(stamps.size() > 150, std::to_string(stamps.size()).c_str());
    LONGS_EQUAL(0, camera->framesDropped());
    for (const auto &[seq, ts] : stamps)
        CHECK(std::llabs(ts - (t0 + std::llround(seq * 1e9 / fps))) <= 1);

    int checked = 0;
    for (const auto &rec : sim.truth("frame")) {
        auto it = frames.find(rec["sequence"].get<std::uint64_t>());
        if (it == frames.end())
            continue;
        const Grey &f = it->second;
        LONGS_EQUAL(rec["t_ns"].get<Nanos>(), f.ts);
        for (const auto &p : rec["plates"]) {
            int x = p["box"][0], y = p["box"][1], w = p["box"][2], h = p["box"][3];
            /* the middle of the plate box is light (the plate) with dark strokes (the
             * characters) */
            long sum = 0, n = 0, dark = 0;
            for (int yy = y + h / 4; yy < y + 3 * h / 4; ++yy)
                for (int xx = x + w / 8; xx < x + 7 * w / 8; ++xx) {
                    int g = f.px[yy * f.width + xx];
                    sum += g;
                    dark += g < 120;
                    ++n;
                }
            CHECK(n > 0 && sum / n > 150);
            CHECK(dark > 0);
            ++checked;
        }
    }
    CHECK_TEXT(checked >= 10, std::to_string(checked).c_str());
}

#include <cmath>
#include <map>
#include <string>

#include "sim/world.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::sim;

namespace {

/* NB green 0-5, yellow 5-8, red 8-18 (EB 10 s); one lane with loops, a beacon, a radar
 * 5 m past the line looking at oncoming traffic, one vehicle running the red at 30 mph
 * crossing at 9.5 s. */
const std::string kScenario = R"([scenario]
duration_s = 20

[[signal.heads]]
name = "NB"
[[signal.heads]]
name = "EB"
[[signal.phases]]
heads = ["NB"]
green_s = 5
yellow_s = 3
all_red_s = 0
[[signal.phases]]
heads = ["EB"]
green_s = 7
yellow_s = 3
all_red_s = 0

[[approaches]]
name = "north"
head = "NB"
length_m = 100
[[approaches.lanes]]
number = 1
entry_loop = { distance_m = 3.0, length_m = 2.0 }
exit_loop = { distance_m = 1.0, length_m = 2.0 }

[[beacons]]
name = "SZ"
period_s = 1.0
on_fraction = 0.5
windows = [{ start_s = 2.0, end_s = 6.0 }]

[radar]
approach = "north"
position_m = 5
angle_deg = 20
range_min_m = 10
range_max_m = 60

[[vehicles]]
plate = "RUN1"
approach = "north"
lane = 1
speed_mph = 30
line_s = 9.5
length_m = 4.0
behaviour = "runs_red"
)";

World world(const std::string &extra = "")
{
    return World(parseScenario(kScenario + extra, "w.toml"));
}

unsigned offsetOf(const World &w, const std::string &name)
{
    for (const auto &l : w.lines())
        if (l.name == name)
            return l.offset;
    FAIL(("no line " + name).c_str());
    return 0;
}

std::vector<GpioEdgeEvent> edgesOf(const World &w, const std::string &name)
{
    std::vector<GpioEdgeEvent> out;
    unsigned o = offsetOf(w, name);
    for (const auto &e : w.edges())
        if (e.offset == o)
            out.push_back(e);
    return out;
}

const Json *firstTruth(const World &w, const std::string &type)
{
    for (const auto &r : w.truth())
        if (r.record["type"] == type)
            return &r.record;
    return nullptr;
}

} /* namespace */

TEST_GROUP(World){};

TEST(World, LampEdgesAreThePhaseChanges)
{
    World w = world();
    auto yellow = edgesOf(w, "NB_YELLOW");
    LONGS_EQUAL(2, yellow.size()); /* on at 5, off at 8 (the next green is at 20) */
    CHECK(yellow[0].rising);
    CHECK_EQUAL(5 * kNanosPerSecond, yellow[0].at);
    CHECK_EQUAL(8 * kNanosPerSecond, yellow[1].at);
    /* initial levels: green lit, others dark */
    CHECK(w.lines()[offsetOf(w, "NB_GREEN")].initial);
    CHECK(!w.lines()[offsetOf(w, "NB_RED")].initial);
    CHECK(w.lines()[offsetOf(w, "EB_RED")].initial);
    /* at a change the lamp going dark comes before the one lighting */
    for (std::size_t i = 1; i < w.edges().size(); ++i)
        if (w.edges()[i].at == w.edges()[i - 1].at)
            CHECK(!(w.edges()[i - 1].rising && !w.edges()[i].rising));
}

TEST(World, LoopEdgesFollowTheBumpers)
{
    World w = world();
    double v = mphToMps(30);
    double arrive = 9.5 - 100 / v;
    /* entry loop spans 5..3 m before the line: on when the front reaches -5 m, off when
     * the rear (4 m behind) leaves -3 m */
    auto entry = edgesOf(w, "LOOP_NORTH_1_ENTRY");
    LONGS_EQUAL(2, entry.size());
    CHECK_EQUAL(secondsToNanos(arrive + 95 / v), entry[0].at);
    CHECK_EQUAL(secondsToNanos(arrive + (97 + 4) / v), entry[1].at);
    auto exit = edgesOf(w, "LOOP_NORTH_1_EXIT");
    CHECK_EQUAL(secondsToNanos(arrive + 101 / v), exit[0].at);
    CHECK_EQUAL(secondsToNanos(arrive + (103 + 4) / v), exit[1].at);
}

TEST(World, BeaconFlashesInsideItsWindow)
{
    World w = world();
    auto beacon = edgesOf(w, "BEACON_SZ");
    LONGS_EQUAL(8, beacon.size()); /* 4 flashes in 2..6 s */
    CHECK_EQUAL(2 * kNanosPerSecond, beacon[0].at);
    CHECK_EQUAL(2500 * kNanosPerMilli, beacon[1].at);
    CHECK_EQUAL(5500 * kNanosPerMilli, beacon.back().at);
    const Json *on = firstTruth(w, "beacon");
    CHECK(on && (*on)["active"] == true);
}

TEST(World, ChatterInvertsTheLineBriefly)
{
    World w = world("\n[[faults.gpio_chatter]]\nline = \"NB_GREEN\"\nrate_hz = 1000\n"
                    "pulse_us = 50\nstart_s = 1\nend_s = 2\n");
    auto green = edgesOf(w, "NB_GREEN");
    /* 1000 pulses of two edges, plus green's own end at 5 s and return at 18 s */
    LONGS_EQUAL(2002, green.size());
    for (std::size_t i = 0; i + 1 < 2000; i += 2) {
        CHECK(!green[i].rising); /* the lit lamp drops out ... */
        CHECK(green[i + 1].rising);
        CHECK_EQUAL(50 * 1000, green[i + 1].at - green[i].at); /* ... for 50 us */
    }
    CHECK_EQUAL(5 * kNanosPerSecond, green[2000].at);
    CHECK(!green[2000].rising);
    CHECK_EQUAL(18 * kNanosPerSecond, green[2001].at);
}

TEST(World, CrossingTruthCarriesTimeIntoRed)
{
    World w = world();
    const Json *c = firstTruth(w, "crossing");
    CHECK(c != nullptr);
    STRCMP_EQUAL("red", (*c)["phase"].get<std::string>().c_str());
    LONGS_EQUAL(1500 * kNanosPerMilli, (*c)["time_into_red_ns"].get<Nanos>());
    DOUBLES_EQUAL(3.0, (*c)["yellow_s"].get<double>(), 1e-9);
    DOUBLES_EQUAL(30, (*c)["speed_mph"].get<double>(), 1e-3);
    CHECK(!(*c)["stopped_before_line"].get<bool>());
}

TEST(World, RadarSeesCosineSpeedInRangeOnly)
{
    World w = world();
    double v = mphToMps(30);
    double arrive = 9.5 - 100 / v;
    /* the radar is at +5 m: in range while the front is 60..10 m before it */
    auto at = [&](double xFront) { return secondsToNanos(arrive + (100 + xFront) / v); };
    CHECK(w.radarReturns(at(-56)).empty());
    auto r = w.radarReturns(at(-30));
    LONGS_EQUAL(1, r.size());
    DOUBLES_EQUAL(v * std::cos(20 * M_PI / 180), r[0].losMps, 1e-9);
    DOUBLES_EQUAL(v, r[0].pathMps, 1e-9);
    DOUBLES_EQUAL(35, r[0].rangeM, 1e-6);
    CHECK(w.radarReturns(at(-4)).empty());
    /* facing away: the same vehicle reads negative once past the radar */
    World out = world();
    Scenario sc = out.scenario();
    sc.radar->facingInbound = false;
    World w2(sc);
    auto r2 = w2.radarReturns(at(30));
    LONGS_EQUAL(1, r2.size());
    CHECK(r2[0].losMps < 0);
}

TEST(World, LineSBeforeArrivalIsAnError)
{
    try {
        world("\n[[vehicles]]\napproach = \"north\"\nspeed_mph = 20\nline_s = 3\n"
              "behaviour = \"runs_red\"\n");
        FAIL("no error");
    } catch (const ScenarioError &e) {
        CHECK_TEXT(std::string(e.what()).find("line_s = 3.00 is too early") != std::string::npos,
                   e.what());
    }
}

TEST(World, WarnsWhenVehiclesOverlap)
{
    World w = world("\n[[vehicles]]\nplate = \"B\"\napproach = \"north\"\nspeed_mph = 30\n"
                    "line_s = 9.7\nbehaviour = \"runs_red\"\n");
    bool found = false;
    for (const auto &s : w.warnings())
        found |= s.find("overlap in lane 1") != std::string::npos;
    CHECK(found);
}

TEST(World, FaultWindowsAreQueriedByTime)
{
    World w = world("\n[[faults.radar_silence]]\nstart_s = 2\nend_s = 3\n"
                    "\n[[faults.camera_stall]]\nstart_s = 4\nend_s = 5\n"
                    "\n[[faults.radar_garbage]]\nrate_hz = 7\nstart_s = 1\nend_s = 6\n");
    CHECK(!w.radarSilent(1999 * kNanosPerMilli));
    CHECK(w.radarSilent(2 * kNanosPerSecond));
    CHECK(!w.radarSilent(3 * kNanosPerSecond));
    CHECK(w.cameraStalled(4500 * kNanosPerMilli));
    CHECK(!w.cameraStalled(5 * kNanosPerSecond));
    DOUBLES_EQUAL(7, w.radarGarbageRate(5 * kNanosPerSecond), 0);
    DOUBLES_EQUAL(0, w.radarGarbageRate(6 * kNanosPerSecond), 0);
    int faults = 0;
    for (const auto &r : w.truth())
        faults += r.record["type"] == "fault";
    LONGS_EQUAL(6, faults); /* each window begins and ends */
}

#include "drivers/loops/loop_tracker.h"

#include <stdexcept>
#include <string>
#include <vector>

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::drivers;

namespace {

constexpr Nanos ms = kNanosPerMilli;
constexpr Nanos s = kNanosPerSecond;
constexpr Nanos T0 = 500 * s;

/* inputs: lane 1 entry, lane 1 exit, lane 2 entry, lane 2 exit */
enum : std::size_t { E1 = 0, X1 = 1, E2 = 2, X2 = 3 };

LoopTrackerConfig twoLanes()
{
    LoopTrackerConfig config;
    config.lanes = {{"NB", 1, "LOOP_1A", "LOOP_1B", 6.0}, {"NB", 2, "LOOP_2A", "LOOP_2B", 5.0}};
    return config;
}

struct Recorder
{
    std::vector<LoopPresence> presence;
    std::vector<LoopCrossing> crossings;
    LoopSink sink()
    {
        return LoopSink{[this](const LoopPresence &p) { presence.push_back(p); },
                        [this](const LoopCrossing &c) { crossings.push_back(c); }};
    }
};

} /* namespace */

TEST_GROUP(LoopTracker)
{
    Recorder rec;
};

TEST(LoopTracker, PairGivesSpeedFromSpacing)
{
    LoopTracker loops(twoLanes(), rec.sink());
    STRCMP_EQUAL("LOOP_1B", loops.inputs()[X1].c_str());
    loops.begin({false, false, false, false}, T0);
    /* 6 m at 12 m/s: the exit loop is reached 500 ms after the entry loop. */
    loops.edge(E1, true, T0 + 1 * s);
    loops.edge(X1, true, T0 + 1500 * ms);
    loops.edge(E1, false, T0 + 1800 * ms);
    loops.edge(X1, false, T0 + 2300 * ms);
    loops.advance(T0 + 3 * s);
    LONGS_EQUAL(1, rec.crossings.size());
    const LoopCrossing &c = rec.crossings[0];
    STRCMP_EQUAL("NB", c.approach.c_str());
    LONGS_EQUAL(1, c.lane);
    LONGS_EQUAL(T0 + 1 * s, c.entryOnNs);
    LONGS_EQUAL(T0 + 1500 * ms, c.exitOnNs);
    LONGS_EQUAL(0, c.entryOffNs); /* still on the entry loop when it reached the exit */
    DOUBLES_EQUAL(6.0, c.spacingM, 0);
    DOUBLES_EQUAL(12.0, c.speedMps, 1e-9);
    LONGS_EQUAL(4, rec.presence.size());
    STRCMP_EQUAL("LOOP_1A", rec.presence[0].loop.c_str());
    CHECK(rec.presence[0].occupied);
    LONGS_EQUAL(T0 + 1 * s, rec.presence[0].at.sampleNs);
    CHECK(!rec.presence[3].occupied);
    LONGS_EQUAL(T0 + 2300 * ms, rec.presence[3].at.sampleNs);
}

TEST(LoopTracker, ShortVehicleLeavesTheEntryLoopFirst)
{
    LoopTracker loops(twoLanes(), rec.sink());
    loops.begin({false, false, false, false}, T0);
    loops.edge(E2, true, T0 + 1 * s);
    loops.edge(E2, false, T0 + 1200 * ms);
    loops.edge(X2, true, T0 + 1250 * ms); /* 5 m in 250 ms: 20 m/s */
    loops.advance(T0 + 2 * s);
    LONGS_EQUAL(1, rec.crossings.size());
    LONGS_EQUAL(2, rec.crossings[0].lane);
    LONGS_EQUAL(T0 + 1200 * ms, rec.crossings[0].entryOffNs);
    DOUBLES_EQUAL(20.0, rec.crossings[0].speedMps, 1e-9);
}

TEST(LoopTracker, VehiclesPairInOrderAndLanesAreIndependent)
{
    LoopTracker loops(twoLanes(), rec.sink());
    loops.begin({false, false, false, false}, T0);
    loops.edge(E1, true, T0 + 1 * s);
    loops.edge(E2, true, T0 + 1100 * ms);
    loops.edge(E1, false, T0 + 1300 * ms);
    loops.edge(X1, true, T0 + 1400 * ms); /* car A: 6 m / 0.4 s = 15 m/s */
    loops.edge(E1, true, T0 + 1600 * ms); /* car B enters */
    loops.edge(X1, false, T0 + 1700 * ms);
    loops.edge(X2, true, T0 + 1600 * ms + 500 * ms); /* lane 2: 5 m / 1.0 s */
    loops.edge(X1, true, T0 + 2200 * ms);            /* car B: 6 m / 0.6 s = 10 m/s */
    loops.advance(T0 + 3 * s);
    LONGS_EQUAL(3, rec.crossings.size());
    DOUBLES_EQUAL(15.0, rec.crossings[0].speedMps, 1e-9);
    DOUBLES_EQUAL(5.0, rec.crossings[1].speedMps, 1e-9);
    LONGS_EQUAL(2, rec.crossings[1].lane);
    DOUBLES_EQUAL(10.0, rec.crossings[2].speedMps, 1e-9);
    LONGS_EQUAL(T0 + 1600 * ms, rec.crossings[2].entryOnNs);
}

TEST(LoopTracker, ChatterIsNotAVehicle)
{
    LoopTracker loops(twoLanes(), rec.sink());
    loops.begin({false, false, false, false}, T0);
    bool level = true;
    for (Nanos t = T0 + 1 * s; t < T0 + 1100 * ms; t += 500'000) {
        loops.edge(E1, level, t);
        level = !level;
    }
    loops.edge(E1, false, T0 + 1100 * ms);
    loops.advance(T0 + 20 * s);
    CHECK(rec.presence.empty());
    CHECK(rec.crossings.empty());
}

TEST(LoopTracker, UnpairedEntriesExpireAQueuedVehicleDoesNot)
{
    LoopTracker loops(twoLanes(), rec.sink());
    loops.begin({false, false, false, false}, T0);
    loops.edge(X1, true, T0 + 1 * s); /* exit with no entry: a lane change */
    loops.edge(X1, false, T0 + 1500 * ms);
    loops.edge(E1, true, T0 + 2 * s); /* entry, then it turns away */
    loops.edge(E1, false, T0 + 2500 * ms);
    loops.advance(T0 + 15 * s);
    LONGS_EQUAL(1, loops.unpairedExits());
    LONGS_EQUAL(1, loops.unpairedEntries());
    /* A car waiting at the red on the entry loop for a minute still pairs. */
    loops.edge(E1, true, T0 + 20 * s);
    loops.advance(T0 + 80 * s);
    loops.edge(X1, true, T0 + 81 * s);
    loops.advance(T0 + 82 * s);
    LONGS_EQUAL(1, rec.crossings.size());
    LONGS_EQUAL(T0 + 20 * s, rec.crossings[0].entryOnNs);
    DOUBLES_EQUAL(6.0 / 61.0, rec.crossings[0].speedMps, 1e-9);
}

TEST(LoopTracker, BadConfigurationIsNamed)
{
    LoopTrackerConfig config = twoLanes();
    config.lanes[1].spacingM = 0;
    try {
        LoopTracker loops(config, {});
        FAIL("accepted zero spacing");
    } catch (const std::invalid_argument &e) {
        CHECK(std::string(e.what()).find("NB lane 2: loop spacing must be positive") !=
              std::string::npos);
    }
}

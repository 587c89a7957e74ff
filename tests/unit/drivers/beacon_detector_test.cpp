#include "drivers/beacon/beacon_detector.h"

#include <vector>

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::drivers;

namespace {

constexpr Nanos ms = kNanosPerMilli;
constexpr Nanos s = kNanosPerSecond;
constexpr Nanos T0 = 700 * s;

BeaconDetectorConfig oneBeacon()
{
    BeaconDetectorConfig config;
    config.beacons = {{"school-east", "BEACON_E"}};
    return config;
}

/* Flashes at 1 Hz (500 ms on) from `from`, `count` times. */
void flash(BeaconDetector &b, Nanos from, int count, Nanos period = 1 * s)
{
    for (int i = 0; i < count; ++i) {
        b.edge(0, true, from + i * period);
        b.edge(0, false, from + i * period + period / 2);
    }
}

} /* namespace */

TEST_GROUP(BeaconDetector)
{
    std::vector<BeaconState> states;
    std::function<void(const BeaconState &)> sink()
    {
        return [this](const BeaconState &state) { states.push_back(state); };
    }
};

TEST(BeaconDetector, FlashingIsDetectedFromItsFirstFlash)
{
    BeaconDetector b(oneBeacon(), sink());
    b.begin({false}, T0);
    LONGS_EQUAL(1, states.size());
    CHECK(!states[0].active);
    flash(b, T0 + 10 * s, 5);
    b.advance(T0 + 14 * s);
    LONGS_EQUAL(2, states.size());
    CHECK(states[1].active);
    STRCMP_EQUAL("school-east", states[1].beacon.c_str());
    LONGS_EQUAL(T0 + 10 * s, states[1].sinceNs);
    CHECK(b.active("school-east"));
}

TEST(BeaconDetector, LossIsDetectedAfterTheTimeout)
{
    BeaconDetector b(oneBeacon(), sink());
    b.begin({false}, T0);
    flash(b, T0 + 10 * s, 6); /* last on-edge at +15 s, last off-edge at +15.5 s */
    b.advance(T0 + 17 * s);
    CHECK(b.active("school-east"));
    b.advance(T0 + 17 * s + 900 * ms);
    CHECK(b.active("school-east")); /* 2.9 s since the last flash: not yet */
    b.advance(T0 + 18 * s + 100 * ms);
    CHECK(!b.active("school-east"));
    LONGS_EQUAL(3, states.size());
    CHECK(!states[2].active);
    LONGS_EQUAL(T0 + 15 * s + 500 * ms, states[2].sinceNs); /* dark since its last off-edge */
    /* It comes back. */
    flash(b, T0 + 60 * s, 4);
    b.advance(T0 + 65 * s);
    CHECK(b.active("school-east"));
    LONGS_EQUAL(T0 + 60 * s, states.back().sinceNs);
}

TEST(BeaconDetector, SteadyFastOrNoisyLampsAreNotFlashing)
{
    BeaconDetector b(oneBeacon(), sink());
    b.begin({false}, T0);
    b.edge(0, true, T0 + 1 * s); /* steady on */
    b.advance(T0 + 30 * s);
    b.edge(0, false, T0 + 30 * s);
    flash(b, T0 + 40 * s, 20, 200 * ms); /* 5 Hz */
    bool level = true;
    for (Nanos t = T0 + 60 * s; t < T0 + 62 * s; t += 500'000) { /* 1 kHz chatter */
        b.edge(0, level, t);
        level = !level;
    }
    b.edge(0, false, T0 + 62 * s);
    b.advance(T0 + 70 * s);
    LONGS_EQUAL(1, states.size());
    CHECK(!b.active("school-east"));
}

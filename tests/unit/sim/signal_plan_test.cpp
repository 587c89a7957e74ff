#include "sim/signal_plan.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::sim;

namespace {

Nanos s(double seconds)
{
    return secondsToNanos(seconds);
}

/* NB: green 5, yellow 3, all-red 2; EB: green 4, yellow 2, all-red 1 -> cycle 17 s. */
SignalSpec twoPhase()
{
    SignalSpec spec;
    spec.heads = {{"NB", "NB_RED", "NB_YELLOW", "NB_GREEN"},
                  {"EB", "EB_RED", "EB_YELLOW", "EB_GREEN"}};
    spec.phases = {{{"NB"}, 5, 3, 2}, {{"EB"}, 4, 2, 1}};
    return spec;
}

} /* namespace */

TEST_GROUP(SignalPlan){};

TEST(SignalPlan, UnrollsTheRing)
{
    SignalTimeline t(twoPhase(), {}, s(60));
    CHECK(t.phaseAt("NB", s(0)) == HeadPhase::Green);
    CHECK(t.phaseAt("NB", s(4.999999999)) == HeadPhase::Green);
    CHECK(t.phaseAt("NB", s(5)) == HeadPhase::Yellow);
    CHECK(t.phaseAt("NB", s(8)) == HeadPhase::Red);
    CHECK(t.phaseAt("NB", s(17)) == HeadPhase::Green);
    CHECK(t.phaseAt("EB", s(9.9)) == HeadPhase::Red);   /* NB's all-red */
    CHECK(t.phaseAt("EB", s(10)) == HeadPhase::Green);  /* 5 + 3 + 2 */
    CHECK(t.phaseAt("EB", s(14)) == HeadPhase::Yellow); /* + 4 */
    CHECK(t.phaseAt("EB", s(16)) == HeadPhase::Red);
    /* red intervals are merged across the all-red and the other phase */
    const PhaseInterval &red = t.intervalAt("NB", s(12));
    CHECK_EQUAL(s(8), red.start);
    CHECK_EQUAL(s(17), red.end);
}

TEST(SignalPlan, NextGreen)
{
    SignalTimeline t(twoPhase(), {}, s(60));
    CHECK_EQUAL(s(2), *t.nextGreen("NB", s(2)));
    CHECK_EQUAL(s(17), *t.nextGreen("NB", s(6)));
    CHECK_EQUAL(s(27), *t.nextGreen("EB", s(14.5)));
}

TEST(SignalPlan, OverrideChangesOneCycleOnly)
{
    SignalSpec spec = twoPhase();
    spec.overrides.push_back({2, 1, std::nullopt, 2.5, std::nullopt});
    SignalTimeline t(spec, {}, s(80));
    const PhaseInterval &y2 = t.intervalAt("NB", s(23));
    CHECK(y2.phase == HeadPhase::Yellow);
    CHECK_EQUAL(s(22), y2.start);
    CHECK_EQUAL(s(24.5), y2.end);
    CHECK(t.phaseAt("EB", s(26.4)) == HeadPhase::Red);
    CHECK(t.phaseAt("EB", s(26.5)) == HeadPhase::Green); /* the cycle is 0.5 s shorter */
    const PhaseInterval &y3 = t.intervalAt("NB", s(16.5 + 5 + 17 + 0.1));
    CHECK_EQUAL(s(16.5 + 17 + 5), y3.start);
    CHECK_EQUAL(s(3), y3.end - y3.start); /* cycle 3 is back to normal */
}

TEST(SignalPlan, OffsetStartsPartWayIntoTheCycle)
{
    SignalSpec spec = twoPhase();
    spec.offsetS = 3;
    SignalTimeline t(spec, {}, s(60));
    const PhaseInterval &g = t.intervalAt("NB", 0);
    CHECK(g.phase == HeadPhase::Green);
    CHECK_EQUAL(s(-3), g.start);
    CHECK(t.phaseAt("NB", s(2)) == HeadPhase::Yellow);
}

TEST(SignalPlan, LampsFollowThePlan)
{
    SignalTimeline t(twoPhase(), {}, s(60));
    LONGS_EQUAL(kLampGreen, t.lampsAt("NB", s(1)));
    LONGS_EQUAL(kLampYellow, t.lampsAt("NB", s(6)));
    LONGS_EQUAL(kLampRed, t.lampsAt("NB", s(9)));
    /* every listed change agrees with lampsAt, and consecutive entries differ */
    const auto &changes = t.lampChanges("NB");
    for (std::size_t i = 0; i < changes.size(); ++i) {
        LONGS_EQUAL(changes[i].lamps, t.lampsAt("NB", changes[i].at));
        if (i)
            CHECK(changes[i].lamps != changes[i - 1].lamps);
    }
}

TEST(SignalPlan, FaultsChangeTheLampsNotTheController)
{
    std::vector<SignalFault> faults{{"NB", SignalFaultKind::Stuck, {4, 12}},
                                    {"EB", SignalFaultKind::Dark, {0, 3}},
                                    {"NB", SignalFaultKind::FlashingRed, {20, 22}},
                                    {"EB", SignalFaultKind::Conflict, {30, 31}}};
    SignalTimeline t(twoPhase(), faults, s(60));
    /* stuck on what it showed at 4 s (green) through the yellow and into the red */
    LONGS_EQUAL(kLampGreen, t.lampsAt("NB", s(9)));
    CHECK(t.phaseAt("NB", s(9)) == HeadPhase::Red);
    LONGS_EQUAL(kLampRed, t.lampsAt("NB", s(12)));
    LONGS_EQUAL(0, t.lampsAt("EB", s(1)));
    LONGS_EQUAL(kLampRed, t.lampsAt("NB", s(20.2)));
    LONGS_EQUAL(0, t.lampsAt("NB", s(20.7)));
    LONGS_EQUAL(kLampRed, t.lampsAt("NB", s(21.2)));
    LONGS_EQUAL(kLampRed | kLampGreen, t.lampsAt("EB", s(30.5)));
    CHECK(t.faultAt("NB", s(5)) != nullptr);
    CHECK(t.faultAt("NB", s(12)) == nullptr);
}

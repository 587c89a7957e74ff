#include "pipeline/trigger/red_light.h"

#include <cmath>
#include <stdexcept>

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::pipeline;
using Verdict = Decision::Verdict;

namespace {

constexpr Nanos kMs = kNanosPerMilli;
constexpr Nanos kS = kNanosPerSecond;
constexpr double kMph = kMetersPerSecondPerMph;

/* Geometry shared by the tests: entry loop leading edge 4 m before the stop line,
 * exit loop 2 m past it (spacing 6 m). */
constexpr double kStopFromEntry = 4.0;
constexpr double kSpacing = 6.0;

RedLightConfig baseConfig()
{
    RedLightConfig c;
    c.heads.push_back({"NB", {"EB"}});
    LaneConfig through;
    through.approach = "NB";
    through.lane = 1;
    through.head = "NB";
    through.entryLoop = "NB1-entry";
    through.exitLoop = "NB1-exit";
    through.stopLineFromEntryM = kStopFromEntry;
    c.lanes.push_back(through);
    LaneConfig right = through;
    right.lane = 2;
    right.entryLoop = "NB2-entry";
    right.exitLoop = "NB2-exit";
    right.rightTurn = true;
    right.turnPolicy = TurnPolicy::Cite;
    right.minSpeedMph = 5;
    c.lanes.push_back(right);
    return c;
}

drivers::PhaseChange phase(const char *head, drivers::Phase p, drivers::Phase previous, Nanos at,
                           Nanos previousDuration = 0)
{
    drivers::PhaseChange c;
    c.head = head;
    c.phase = p;
    c.previous = previous;
    c.at.sampleNs = at;
    c.at.seenNs = at + 2 * kMs;
    c.previousDurationNs = previousDuration;
    return c;
}

/* A green, a yellow of `yellow`, then red at the returned instant. */
Nanos cycle(RedLightRule &rule, Nanos yellow, Nanos start = 1000 * kS)
{
    using drivers::Phase;
    rule.onPhaseChange(phase("NB", Phase::Red, Phase::Yellow, start - 40 * kS, 4 * kS));
    rule.onPhaseChange(phase("NB", Phase::Green, Phase::Red, start, 40 * kS));
    rule.onPhaseChange(phase("NB", Phase::Yellow, Phase::Green, start + 30 * kS, 30 * kS));
    Nanos red = start + 30 * kS + yellow;
    rule.onPhaseChange(phase("NB", Phase::Red, Phase::Yellow, red, yellow));
    return red;
}

/* The loop pair's view of a vehicle whose front crosses the stop line at `cross` at a
 * constant `speedMps`. */
drivers::LoopCrossing crossingAt(Nanos cross, double speedMps, unsigned lane = 1)
{
    drivers::LoopCrossing c;
    c.approach = "NB";
    c.lane = lane;
    c.entryOnNs = cross - std::llround(kStopFromEntry / speedMps * kS);
    c.exitOnNs = c.entryOnNs + std::llround(kSpacing / speedMps * kS);
    c.entryOffNs = 0;
    c.spacingM = kSpacing;
    c.speedMps = kSpacing / (double(c.exitOnNs - c.entryOnNs) / kS);
    return c;
}

drivers::LoopPresence presence(const char *loop, bool occupied, Nanos at)
{
    drivers::LoopPresence p;
    p.loop = loop;
    p.occupied = occupied;
    p.at.sampleNs = at;
    return p;
}

drivers::RadarReport radar(Nanos at, double mph)
{
    drivers::RadarReport r;
    r.targets.push_back({mph, 1200});
    r.unit = drivers::SpeedUnit::Mph;
    r.at.sampleNs = at;
    return r;
}

/* Crossing → Capture, then the exit loop clears → Cite; returns the final decision. */
Decision citeThrough(RedLightRule &rule, const drivers::LoopCrossing &c, const char *exitLoop)
{
    auto first = rule.onLoopCrossing(c);
    LONGS_EQUAL(1, first.size());
    STRCMP_EQUAL("capture", verdictName(first[0].verdict));
    auto second = rule.onLoopPresence(presence(exitLoop, false, c.exitOnNs + 400 * kMs));
    LONGS_EQUAL(1, second.size());
    LONGS_EQUAL(first[0].id, second[0].id);
    return second[0];
}

Decision single(const std::vector<Decision> &ds)
{
    LONGS_EQUAL(1, ds.size());
    return ds[0];
}

} /* namespace */

TEST_GROUP(RedLight){};

TEST(RedLight, graceBoundaryBothSides)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);

    Decision early = single(rule.onLoopCrossing(crossingAt(red + 299 * kMs, 15)));
    STRCMP_EQUAL("within_grace", reasonName(early.reason));
    CHECK(early.verdict == Verdict::NoCite);

    Decision exact = single(rule.onLoopCrossing(crossingAt(red + 300 * kMs, 15)));
    STRCMP_EQUAL("within_grace", reasonName(exact.reason));

    Decision late = citeThrough(rule, crossingAt(red + 301 * kMs, 15), "NB1-exit");
    CHECK(late.verdict == Verdict::Cite);
    STRCMP_EQUAL("cite", reasonName(late.reason));
    /* Time into red from the interpolated stop-line crossing, to the microsecond. */
    CHECK(std::llabs(late.redLight->timeIntoRedNs - 301 * kMs) < 1000);
    LONGS_EQUAL(red, late.redLight->redOnsetNs);
    LONGS_EQUAL(4 * kS, late.redLight->measuredYellowNs);
    LONGS_EQUAL(300 * kMs, late.redLight->graceNs);
    CHECK_FALSE(late.redLight->qualified);
    LONGS_EQUAL(2, rule.counts()[Reason::WithinGrace]);
    LONGS_EQUAL(1, rule.counts().citations());
}

TEST(RedLight, crossingTimeInterpolatedFromLoopsAndStopLine)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    /* 40 mph: entry 4 m before the line; the event is the line, not either loop. */
    drivers::LoopCrossing c = crossingAt(red + 1234567 * 1000, 40 * kMph);
    Decision d = citeThrough(rule, c, "NB1-exit");
    CHECK(std::llabs(d.eventNs - (red + 1234567 * 1000)) < 1000);
    CHECK(d.eventNs > c.entryOnNs && d.eventNs < c.exitOnNs);
    CHECK(std::llabs(d.redLight->timeIntoRedNs - 1234567 * 1000) < 1000);
    CHECK(d.redLight->qualified); /* > 1.0 s into red */
    DOUBLES_EQUAL(40 * kMph, d.redLight->speedAtLineMps, 1e-3);
    /* The capture plan is built around the crossing. */
    LONGS_EQUAL(d.eventNs, d.plan.aShotNs);
    LONGS_EQUAL(d.eventNs + 1 * kS, d.plan.bShotNs);
    LONGS_EQUAL(d.eventNs - 3 * kS, d.plan.clipFromNs);
    LONGS_EQUAL(d.eventNs + 3 * kS, d.plan.clipToNs);
    /* The timeline covers the last cycle: previous red, green, yellow, this red. */
    CHECK(d.redLight->timeline.size() >= 4);
    CHECK(d.redLight->timeline.front().phase == drivers::Phase::Red);
    CHECK(d.redLight->timeline.front().at.sampleNs < red - 30 * kS);
}

TEST(RedLight, yellowOneTenthUnderMinimumIsRefused)
{
    RedLightConfig config = baseConfig();
    config.minYellowNs = 3500 * kMs;
    RedLightRule rule(config);
    Nanos red = cycle(rule, 3400 * kMs);
    Decision d = single(rule.onLoopCrossing(crossingAt(red + 2 * kS, 15)));
    CHECK(d.verdict == Verdict::NoCite);
    STRCMP_EQUAL("yellow_too_short", reasonName(d.reason));
    LONGS_EQUAL(3400 * kMs, d.redLight->measuredYellowNs);
    LONGS_EQUAL(3500 * kMs, d.redLight->minYellowNs);
    LONGS_EQUAL(1, rule.counts()[Reason::YellowTooShort]);

    /* The same crossing after a yellow of exactly the minimum is cited. */
    RedLightRule ok(config);
    Nanos red2 = cycle(ok, 3500 * kMs);
    Decision cited = citeThrough(ok, crossingAt(red2 + 2 * kS, 15), "NB1-exit");
    CHECK(cited.verdict == Verdict::Cite);
}

TEST(RedLight, yellowMeasuredFromHistoryWhenDecoderGaveNoDuration)
{
    RedLightRule rule(baseConfig());
    using drivers::Phase;
    rule.onPhaseChange(phase("NB", Phase::Green, Phase::Unknown, 100 * kS));
    rule.onPhaseChange(phase("NB", Phase::Yellow, Phase::Green, 130 * kS));
    rule.onPhaseChange(phase("NB", Phase::Red, Phase::Yellow, 132500 * kMs));
    Decision d = single(rule.onLoopCrossing(crossingAt(134 * kS, 15)));
    STRCMP_EQUAL("yellow_too_short", reasonName(d.reason));
    LONGS_EQUAL(2500 * kMs, d.redLight->measuredYellowNs);
}

TEST(RedLight, redStraightAfterGreenIsAZeroYellow)
{
    RedLightRule rule(baseConfig());
    using drivers::Phase;
    rule.onPhaseChange(phase("NB", Phase::Green, Phase::Unknown, 100 * kS));
    rule.onPhaseChange(phase("NB", Phase::Red, Phase::Green, 130 * kS, 30 * kS));
    Decision d = single(rule.onLoopCrossing(crossingAt(132 * kS, 15)));
    STRCMP_EQUAL("yellow_too_short", reasonName(d.reason));
    LONGS_EQUAL(0, d.redLight->measuredYellowNs);
    CHECK(d.redLight->yellowMeasured);
}

TEST(RedLight, unknownYellowIsNotCited)
{
    RedLightRule rule(baseConfig());
    rule.onPhaseChange(phase("NB", drivers::Phase::Red, drivers::Phase::Unknown, 100 * kS));
    Decision d = single(rule.onLoopCrossing(crossingAt(105 * kS, 15)));
    STRCMP_EQUAL("yellow_unmeasured", reasonName(d.reason));
}

TEST(RedLight, noPhaseHistoryIsSignalUnknown)
{
    RedLightRule rule(baseConfig());
    Decision d = single(rule.onLoopCrossing(crossingAt(105 * kS, 15)));
    STRCMP_EQUAL("signal_unknown", reasonName(d.reason));
}

TEST(RedLight, greenAndYellowCrossingsAreLawful)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    STRCMP_EQUAL("not_red",
                 reasonName(single(rule.onLoopCrossing(crossingAt(red - 10 * kS, 15))).reason));
    STRCMP_EQUAL("not_red",
                 reasonName(single(rule.onLoopCrossing(crossingAt(red - 1 * kMs, 15))).reason));
    LONGS_EQUAL(2, rule.counts()[Reason::NotRed]);
}

TEST(RedLight, creepingVehicleBelowMinimumSpeed)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    Decision d = single(rule.onLoopCrossing(crossingAt(red + 5 * kS, 3 * kMph)));
    STRCMP_EQUAL("below_min_speed", reasonName(d.reason));
    DOUBLES_EQUAL(3 * kMph, d.redLight->speedAtLineMps, 1e-3);
    DOUBLES_EQUAL(15 * kMph, d.redLight->minSpeedMps, 1e-9);

    /* 15 mph exactly is not below the minimum. */
    Decision ok = citeThrough(rule, crossingAt(red + 6 * kS, 15 * kMph + 1e-6), "NB1-exit");
    CHECK(ok.verdict == Verdict::Cite);
}

TEST(RedLight, vehicleThatStopsOnTheExitLoopDidNotContinue)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    drivers::LoopCrossing c = crossingAt(red + 2 * kS, 20 * kMph);
    Decision capture = single(rule.onLoopCrossing(c));
    CHECK(capture.verdict == Verdict::Capture);
    rule.onLoopPresence(presence("NB1-exit", true, c.exitOnNs));
    LONGS_EQUAL(0, rule.poll(c.exitOnNs + 1 * kS).size());
    LONGS_EQUAL(1, rule.pendingCount());
    /* Window 3 s after the crossing plus 0.5 s slack. */
    LONGS_EQUAL(0, rule.poll(red + 2 * kS + 3500 * kMs).size());
    Decision d = single(rule.poll(red + 2 * kS + 3501 * kMs));
    CHECK(d.verdict == Verdict::NoCite);
    STRCMP_EQUAL("no_continuation", reasonName(d.reason));
    LONGS_EQUAL(capture.id, d.id);
    /* Clearing the loop after the window does not revive it. */
    LONGS_EQUAL(0, rule.onLoopPresence(presence("NB1-exit", false, red + 9 * kS)).size());
    LONGS_EQUAL(0, rule.counts().citations());
}

TEST(RedLight, continuationAlreadySeenCitesAtOnce)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    drivers::LoopCrossing c = crossingAt(red + 2 * kS, 30 * kMph);
    rule.onLoopPresence(presence("NB1-exit", true, c.exitOnNs));
    rule.onLoopPresence(presence("NB1-exit", false, c.exitOnNs + 300 * kMs));
    auto ds = rule.onLoopCrossing(c);
    LONGS_EQUAL(2, ds.size());
    CHECK(ds[0].verdict == Verdict::Capture);
    CHECK(ds[1].verdict == Verdict::Cite);
    LONGS_EQUAL(c.exitOnNs + 300 * kMs, ds[1].redLight->continuationNs);
}

TEST(RedLight, rightTurnPolicyCite)
{
    RedLightRule rule(baseConfig()); /* lane 2: right turn, policy cite */
    Nanos red = cycle(rule, 4 * kS);
    /* Even after a full stop (long dwell on the entry loop). */
    drivers::LoopCrossing c = crossingAt(red + 10 * kS, 8 * kMph, 2);
    c.entryOnNs -= 6 * kS;
    Decision d = citeThrough(rule, c, "NB2-exit");
    CHECK(d.verdict == Verdict::Cite);
    CHECK(d.redLight->turnedRight);
    CHECK(d.redLight->stopped);
    CHECK(d.redLight->turnPolicy == TurnPolicy::Cite);
}

TEST(RedLight, rightTurnPolicyNever)
{
    RedLightConfig config = baseConfig();
    config.lanes[1].turnPolicy = TurnPolicy::Never;
    RedLightRule rule(config);
    Nanos red = cycle(rule, 4 * kS);
    Decision d = single(rule.onLoopCrossing(crossingAt(red + 3 * kS, 12 * kMph, 2)));
    STRCMP_EQUAL("right_turn_exempt", reasonName(d.reason));
    /* The through lane of the same approach is still enforced. */
    CHECK(citeThrough(rule, crossingAt(red + 4 * kS, 30 * kMph, 1), "NB1-exit").verdict ==
          Verdict::Cite);
}

TEST(RedLight, rightTurnUnlessStoppedLoopDwell)
{
    RedLightConfig config = baseConfig();
    config.lanes[1].turnPolicy = TurnPolicy::CiteUnlessStopped;
    RedLightRule rule(config);
    Nanos red = cycle(rule, 4 * kS);

    /* Rolling turn at 10 mph: entry loop occupied ~1.5 s, no stop. */
    drivers::LoopCrossing rolling = crossingAt(red + 5 * kS, 10 * kMph, 2);
    rolling.entryOffNs = rolling.entryOnNs + 1500 * kMs;
    Decision cited = citeThrough(rule, rolling, "NB2-exit");
    CHECK(cited.verdict == Verdict::Cite);
    CHECK_FALSE(cited.redLight->stopped);

    /* Stopped at the line for 4 s on the entry loop, then turned. */
    drivers::LoopCrossing stopped = crossingAt(red + 20 * kS, 8 * kMph, 2);
    stopped.entryOnNs -= 4 * kS;
    Decision d = single(rule.onLoopCrossing(stopped));
    STRCMP_EQUAL("right_turn_stopped", reasonName(d.reason));
    CHECK(d.redLight->stopped);
    CHECK(d.redLight->stopEvidence.find("entry loop") != std::string::npos);
}

TEST(RedLight, rightTurnUnlessStoppedRadarTrack)
{
    RedLightConfig config = baseConfig();
    config.lanes[1].turnPolicy = TurnPolicy::CiteUnlessStopped;
    config.lanes[1].radarTrack = true;
    RedLightRule rule(config);
    Nanos red = cycle(rule, 4 * kS);

    /* Rolling: radar at 10 Hz, slowing from 20 to 9 mph, never stopping. */
    Nanos cross = red + 5 * kS;
    for (int i = 0; i < 40; ++i)
        rule.onRadar(radar(cross - 4 * kS + i * 100 * kMs, 20 - i * 0.275));
    drivers::LoopCrossing rolling = crossingAt(cross, 9 * kMph, 2);
    Decision cited = citeThrough(rule, rolling, "NB2-exit");
    CHECK(cited.verdict == Verdict::Cite);
    CHECK_FALSE(cited.redLight->stopped);
    CHECK(cited.redLight->radarSamples.size() >= 30);

    /* Slowing to 0.4 mph before the line: a complete stop on the radar track. */
    Nanos cross2 = red + 30 * kS;
    for (int i = 0; i < 30; ++i)
        rule.onRadar(radar(cross2 - 5 * kS + i * 100 * kMs, std::max(0.4, 15 - i * 0.6)));
    for (int i = 0; i < 20; ++i)
        rule.onRadar(radar(cross2 - 2 * kS + i * 100 * kMs, 1.5 + i * 0.3));
    Decision stopped = single(rule.onLoopCrossing(crossingAt(cross2, 7 * kMph, 2)));
    STRCMP_EQUAL("right_turn_stopped", reasonName(stopped.reason));
    CHECK(stopped.redLight->stopEvidence.find("0.4 mph") != std::string::npos);

    /* Slowing, then radar silence for 1.5 s while on the loops (Doppler sees no
     * stopped car), then pulling away. */
    Nanos cross3 = red + 60 * kS;
    drivers::LoopCrossing c3 = crossingAt(cross3, 6 * kMph, 2);
    c3.entryOnNs = cross3 - 3 * kS;
    for (int i = 0; i < 10; ++i)
        rule.onRadar(radar(c3.entryOnNs - 1 * kS + i * 100 * kMs, 12 - i));
    for (int i = 0; i < 5; ++i)
        rule.onRadar(radar(c3.entryOnNs + 1500 * kMs + i * 100 * kMs, 2 + i));
    Decision silent = single(rule.onLoopCrossing(c3));
    STRCMP_EQUAL("right_turn_stopped", reasonName(silent.reason));
    CHECK(silent.redLight->stopEvidence.find("silent") != std::string::npos);
}

TEST(RedLight, signalFaultsRefuse)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    drivers::SignalFault fault;
    fault.head = "NB";
    fault.kind = drivers::SignalFault::Kind::Dark;
    fault.active = true;
    fault.at.sampleNs = red + 1 * kS;
    rule.onSignalFault(fault);
    STRCMP_EQUAL("signal_fault",
                 reasonName(single(rule.onLoopCrossing(crossingAt(red + 2 * kS, 20))).reason));
    /* Cleared, but it overlapped this red: still refused. */
    fault.active = false;
    fault.at.sampleNs = red + 3 * kS;
    rule.onSignalFault(fault);
    STRCMP_EQUAL("signal_fault",
                 reasonName(single(rule.onLoopCrossing(crossingAt(red + 4 * kS, 20))).reason));
    /* The next cycle, clean, is enforced again. */
    Nanos red2 = cycle(rule, 4 * kS, 1100 * kS);
    CHECK(citeThrough(rule, crossingAt(red2 + 2 * kS, 20), "NB1-exit").verdict == Verdict::Cite);
    /* A conflict indication at the crossing is a fault. */
    rule.onPhaseChange(phase("NB", drivers::Phase::Conflict, drivers::Phase::Red, red2 + 10 * kS));
    STRCMP_EQUAL("signal_fault",
                 reasonName(single(rule.onLoopCrossing(crossingAt(red2 + 11 * kS, 20))).reason));
}

TEST(RedLight, faultDuringContinuationWindowRefusesTheCandidate)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    drivers::LoopCrossing c = crossingAt(red + 2 * kS, 20);
    CHECK(single(rule.onLoopCrossing(c)).verdict == Verdict::Capture);
    drivers::SignalFault fault;
    fault.head = "NB";
    fault.kind = drivers::SignalFault::Kind::Conflict;
    fault.at.sampleNs = c.exitOnNs + 100 * kMs;
    rule.onSignalFault(fault);
    Decision d = single(rule.onLoopPresence(presence("NB1-exit", false, c.exitOnNs + 400 * kMs)));
    STRCMP_EQUAL("signal_fault", reasonName(d.reason));
}

TEST(RedLight, suspendedEnforcementAndUnknownLanes)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    rule.setSuspended(true);
    STRCMP_EQUAL("enforcement_suspended",
                 reasonName(single(rule.onLoopCrossing(crossingAt(red + 2 * kS, 20))).reason));
    rule.setSuspended(false);
    STRCMP_EQUAL("unknown_lane",
                 reasonName(single(rule.onLoopCrossing(crossingAt(red + 2 * kS, 20, 7))).reason));
    drivers::LoopCrossing bad = crossingAt(red + 2 * kS, 20);
    bad.exitOnNs = bad.entryOnNs;
    STRCMP_EQUAL("bad_crossing", reasonName(single(rule.onLoopCrossing(bad)).reason));
    STRCMP_EQUAL("enforcement_suspended=1 bad_crossing=1 unknown_lane=1",
                 rule.counts().summary().c_str());
}

TEST(RedLight, allRedClearanceAndConflictingHeadInTimeline)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    drivers::LoopCrossing c = crossingAt(red + 1500 * kMs, 25 * kMph);
    CHECK(single(rule.onLoopCrossing(c)).verdict == Verdict::Capture);
    rule.onPhaseChange(phase("EB", drivers::Phase::Green, drivers::Phase::Red, red + 2 * kS));
    Decision d = single(rule.onLoopPresence(presence("NB1-exit", false, red + 2500 * kMs)));
    LONGS_EQUAL(2 * kS, d.redLight->allRedNs);
    CHECK(d.redLight->timeline.back().head == "EB");
}

TEST(RedLight, configurationErrorsNameTheField)
{
    RedLightConfig config = baseConfig();
    config.lanes[1].head = "";
    config.lanes.push_back(config.lanes[0]);
    config.continuationWindowNs = 0;
    std::vector<std::string> errors = validate(config);
    LONGS_EQUAL(3, errors.size());
    STRCMP_EQUAL("continuation_window: must be positive", errors[0].c_str());
    STRCMP_EQUAL("lanes[1].head: must name the signal head of the lane", errors[1].c_str());
    STRCMP_EQUAL("lanes[2]: approach \"NB\" lane 1 listed twice", errors[2].c_str());
    CHECK_THROWS(std::invalid_argument, RedLightRule{config});
    CHECK(validate(baseConfig()).empty());
}

TEST(RedLight, stopLineBeyondExitLoopIsABadCrossing)
{
    RedLightConfig config = baseConfig();
    config.lanes[0].stopLineFromEntryM = 7.0; /* past the exit loop at 6 m */
    RedLightRule rule(config);
    Nanos red = cycle(rule, 4 * kS);
    STRCMP_EQUAL("bad_crossing",
                 reasonName(single(rule.onLoopCrossing(crossingAt(red + 2 * kS, 20))).reason));
}

#include "pipeline/trigger/red_light.h"

#include "pipeline/trigger/duplicate_guard.h"

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

/* The loop pair's view of a car (4.5 m long, loops 1.8 m) whose front crosses the stop
 * line at `cross` at a constant `speedMps`: what the loop driver reports at exit-on. */
constexpr double kLoopLength = 1.8, kCarLength = 4.5;

drivers::LoopCrossing crossingAt(Nanos cross, double speedMps, unsigned lane = 1)
{
    drivers::LoopCrossing c;
    c.approach = "NB";
    c.lane = lane;
    c.entryOnNs = cross - std::llround(kStopFromEntry / speedMps * kS);
    c.exitOnNs = c.entryOnNs + std::llround(kSpacing / speedMps * kS);
    c.entryOffNs = 0; /* the car's rear leaves the entry loop after its front reaches the exit */
    c.spacingM = kSpacing;
    c.speedMps = kSpacing / (double(c.exitOnNs - c.entryOnNs) / kS);
    c.entryLengthM = kLoopLength;
    c.exitLengthM = kLoopLength;
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

/* After the crossing event: the trailing edges of the car leaving at `speedMps` (entry
 * loop, then exit loop unless `clears` is false), then time until every decision about it
 * is final. Returns every decision, in order. */
std::vector<Decision> drive(RedLightRule &rule, const drivers::LoopCrossing &c, bool clears = true)
{
    const double v = c.speedMps;
    const std::string entry = "NB" + std::to_string(c.lane) + "-entry";
    const std::string exit = "NB" + std::to_string(c.lane) + "-exit";
    std::vector<Decision> out = rule.onLoopCrossing(c);
    auto add = [&](std::vector<Decision> ds) { out.insert(out.end(), ds.begin(), ds.end()); };
    add(rule.onLoopPresence(presence(exit.c_str(), true, c.exitOnNs)));
    add(rule.onLoopPresence(
            presence(entry.c_str(), false,
                     c.exitOnNs + std::llround((kLoopLength + kCarLength - kSpacing) / v * kS))));
    if (clears)
        add(rule.onLoopPresence(
                presence(exit.c_str(), false,
                         c.exitOnNs + std::llround((kLoopLength + kCarLength) / v * kS))));
    const RedLightConfig &config = rule.config();
    add(rule.poll(c.exitOnNs + std::max(config.signalSettleNs, config.continuationWindowNs) +
                  config.eventSlackNs + 1 * kS));
    return out;
}

/* The final decision of a pass (the last of drive()). */
Decision finalOf(RedLightRule &rule, const drivers::LoopCrossing &c, bool clears = true)
{
    std::vector<Decision> ds = drive(rule, c, clears);
    CHECK(!ds.empty());
    CHECK(ds.back().verdict != Decision::Verdict::Capture);
    return ds.back();
}

/* Crossing → Capture, the car leaves → Cite; returns the final decision. */
Decision citeThrough(RedLightRule &rule, const drivers::LoopCrossing &c)
{
    std::vector<Decision> ds = drive(rule, c);
    LONGS_EQUAL(2, ds.size());
    STRCMP_EQUAL("capture", verdictName(ds[0].verdict));
    LONGS_EQUAL(ds[0].id, ds[1].id);
    return ds[1];
}

Decision single(const std::vector<Decision> &ds)
{
    LONGS_EQUAL(1, ds.size());
    return ds[0];
}

} /* namespace */

TEST_GROUP(RedLight){};

TEST(RedLight, graceBoundaryBothSidesOfTheUncertainty)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);

    /* Constant speed, four loop instants: the crossing is known to the timestamp jitter
     * (2 ms); a citation needs time into red minus that above the grace. */
    Decision early = finalOf(rule, crossingAt(red + 299 * kMs, 15));
    STRCMP_EQUAL("within_grace", reasonName(early.reason));
    CHECK(early.verdict == Verdict::NoCite);

    Decision edge = finalOf(rule, crossingAt(red + 302 * kMs, 15));
    STRCMP_EQUAL("within_grace", reasonName(edge.reason));

    Decision late = citeThrough(rule, crossingAt(red + 303 * kMs, 15));
    CHECK(late.verdict == Verdict::Cite);
    STRCMP_EQUAL("cite", reasonName(late.reason));
    CHECK(std::llabs(late.redLight->timeIntoRedNs - 303 * kMs) < 1000);
    CHECK(std::llabs(late.redLight->timeIntoRedUncertaintyNs - 2 * kMs) < 1000);
    STRCMP_EQUAL("kinematic", late.redLight->crossingMethod.c_str());
    LONGS_EQUAL(red, late.redLight->redOnsetNs);
    LONGS_EQUAL(4 * kS, late.redLight->measuredYellowNs);
    LONGS_EQUAL(300 * kMs, late.redLight->graceNs);
    CHECK_FALSE(late.redLight->qualified);
    LONGS_EQUAL(2, rule.counts()[Reason::WithinGrace]);
    LONGS_EQUAL(1, rule.counts().citations());
}

TEST(RedLight, crossingTimeEstimatedFromLoopsAndStopLine)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    /* 40 mph: entry 4 m before the line; the event is the line, not either loop. */
    drivers::LoopCrossing c = crossingAt(red + 1234567 * 1000, 40 * kMph);
    Decision d = citeThrough(rule, c);
    CHECK(std::llabs(d.eventNs - (red + 1234567 * 1000)) < 1000);
    CHECK(d.eventNs > c.entryOnNs && d.eventNs < c.exitOnNs);
    CHECK(d.redLight->crossingEarliestNs <= d.eventNs && d.eventNs <= d.redLight->crossingLatestNs);
    CHECK(std::llabs(d.redLight->timeIntoRedNs - 1234567 * 1000) < 1000);
    CHECK(d.redLight->qualified); /* > 1.0 s into red */
    DOUBLES_EQUAL(40 * kMph, d.redLight->speedAtLineMps, 1e-3);
    /* The pictures were planned at the provisional (leading-edge) crossing: the same
     * instant for a car at constant speed. */
    CHECK(std::llabs(d.eventNs - d.plan.aShotNs) < 1000);
    LONGS_EQUAL(d.plan.aShotNs + 1 * kS, d.plan.bShotNs);
    LONGS_EQUAL(d.plan.aShotNs - 3 * kS, d.plan.clipFromNs);
    LONGS_EQUAL(d.plan.aShotNs + 3 * kS, d.plan.clipToNs);
    /* The timeline covers the last cycle: previous red, green, yellow, this red. */
    CHECK(d.redLight->timeline.size() >= 4);
    CHECK(d.redLight->timeline.front().phase == drivers::Phase::Red);
    CHECK(d.redLight->timeline.front().at.sampleNs < red - 30 * kS);
}

TEST(RedLight, noDecisionBeforeTheSignalHasSettled)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    drivers::LoopCrossing c = crossingAt(red + 2 * kS, 30 * kMph);
    CHECK(single(rule.onLoopCrossing(c)).verdict == Verdict::Capture);
    LONGS_EQUAL(0, rule.onLoopPresence(presence("NB1-exit", false, c.exitOnNs + 1 * kS)).size());
    const Nanos settled = c.exitOnNs + rule.config().signalSettleNs + rule.config().eventSlackNs;
    LONGS_EQUAL(0, rule.poll(settled - 1).size());
    CHECK(single(rule.poll(settled)).verdict == Verdict::Cite);
}

TEST(RedLight, darkHeadRecognisedAfterTheCrossingStillRefuses)
{
    /* The head went dark 0.8 s before the crossing; the decoder, which needs 2 s of no
     * lamp, reports it (dated to the lamp going out) 1.2 s after the crossing. */
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    drivers::LoopCrossing c = crossingAt(red + 3 * kS, 30 * kMph);
    CHECK(single(rule.onLoopCrossing(c)).verdict == Verdict::Capture);
    drivers::SignalFault dark;
    dark.head = "NB";
    dark.kind = drivers::SignalFault::Kind::Dark;
    dark.at.sampleNs = red + 2200 * kMs;
    dark.at.seenNs = red + 4200 * kMs;
    rule.onSignalFault(dark);
    Decision d = drive(rule, c).back();
    STRCMP_EQUAL("signal_fault", reasonName(d.reason));
    LONGS_EQUAL(0, rule.counts().citations());
}

TEST(RedLight, faultBeginningAfterTheBShotDoesNotRefuse)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    drivers::LoopCrossing c = crossingAt(red + 2 * kS, 30 * kMph);
    CHECK(single(rule.onLoopCrossing(c)).verdict == Verdict::Capture);
    drivers::SignalFault flashing;
    flashing.head = "NB";
    flashing.kind = drivers::SignalFault::Kind::Flashing;
    flashing.at.sampleNs = red + 2 * kS + 1500 * kMs; /* 0.5 s after the B-shot */
    rule.onSignalFault(flashing);
    CHECK(drive(rule, c).back().verdict == Verdict::Cite);
}

TEST(RedLight, yellowOneTenthUnderMinimumIsRefused)
{
    RedLightConfig config = baseConfig();
    config.minYellowNs = 3500 * kMs;
    RedLightRule rule(config);
    Nanos red = cycle(rule, 3400 * kMs);
    Decision d = finalOf(rule, crossingAt(red + 2 * kS, 15));
    CHECK(d.verdict == Verdict::NoCite);
    STRCMP_EQUAL("yellow_too_short", reasonName(d.reason));
    LONGS_EQUAL(3400 * kMs, d.redLight->measuredYellowNs);
    LONGS_EQUAL(3500 * kMs, d.redLight->minYellowNs);
    LONGS_EQUAL(1, rule.counts()[Reason::YellowTooShort]);

    /* The same crossing after a yellow of exactly the minimum is cited. */
    RedLightRule ok(config);
    Nanos red2 = cycle(ok, 3500 * kMs);
    Decision cited = citeThrough(ok, crossingAt(red2 + 2 * kS, 15));
    CHECK(cited.verdict == Verdict::Cite);
}

TEST(RedLight, yellowMeasuredFromHistoryWhenDecoderGaveNoDuration)
{
    RedLightRule rule(baseConfig());
    using drivers::Phase;
    rule.onPhaseChange(phase("NB", Phase::Green, Phase::Unknown, 100 * kS));
    rule.onPhaseChange(phase("NB", Phase::Yellow, Phase::Green, 130 * kS));
    rule.onPhaseChange(phase("NB", Phase::Red, Phase::Yellow, 132500 * kMs));
    Decision d = finalOf(rule, crossingAt(134 * kS, 15));
    STRCMP_EQUAL("yellow_too_short", reasonName(d.reason));
    LONGS_EQUAL(2500 * kMs, d.redLight->measuredYellowNs);
}

TEST(RedLight, redStraightAfterGreenIsAZeroYellow)
{
    RedLightRule rule(baseConfig());
    using drivers::Phase;
    rule.onPhaseChange(phase("NB", Phase::Green, Phase::Unknown, 100 * kS));
    rule.onPhaseChange(phase("NB", Phase::Red, Phase::Green, 130 * kS, 30 * kS));
    Decision d = finalOf(rule, crossingAt(132 * kS, 15));
    STRCMP_EQUAL("yellow_too_short", reasonName(d.reason));
    LONGS_EQUAL(0, d.redLight->measuredYellowNs);
    CHECK(d.redLight->yellowMeasured);
}

TEST(RedLight, unknownYellowIsNotCited)
{
    RedLightRule rule(baseConfig());
    rule.onPhaseChange(phase("NB", drivers::Phase::Red, drivers::Phase::Unknown, 100 * kS));
    Decision d = finalOf(rule, crossingAt(105 * kS, 15));
    STRCMP_EQUAL("yellow_unmeasured", reasonName(d.reason));
}

TEST(RedLight, noPhaseHistoryIsSignalUnknown)
{
    RedLightRule rule(baseConfig());
    Decision d = finalOf(rule, crossingAt(105 * kS, 15));
    STRCMP_EQUAL("signal_unknown", reasonName(d.reason));
}

TEST(RedLight, greenAndYellowCrossingsAreLawful)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    std::vector<Decision> green = drive(rule, crossingAt(red - 10 * kS, 15));
    LONGS_EQUAL(1, green.size()); /* no pictures for a pass on green */
    STRCMP_EQUAL("not_red", reasonName(green[0].reason));
    /* 3 ms before the red: the latest possible crossing (2 ms jitter) is still yellow. */
    STRCMP_EQUAL("not_red", reasonName(finalOf(rule, crossingAt(red - 3 * kMs, 15)).reason));
    LONGS_EQUAL(2, rule.counts()[Reason::NotRed]);
}

TEST(RedLight, creepingVehicleBelowMinimumSpeed)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    Decision d = finalOf(rule, crossingAt(red + 5 * kS, 3 * kMph));
    STRCMP_EQUAL("below_min_speed", reasonName(d.reason));
    DOUBLES_EQUAL(3 * kMph, d.redLight->speedAtLineMps, 1e-3);
    DOUBLES_EQUAL(15 * kMph, d.redLight->minSpeedMps, 1e-9);

    /* Just over 15 mph is not below the minimum. */
    Decision ok = citeThrough(rule, crossingAt(red + 6 * kS, 15.01 * kMph));
    CHECK(ok.verdict == Verdict::Cite);
}

TEST(RedLight, vehicleThatStoodOnTheLoopsIsUndatedAndNeverCited)
{
    /* Arrived on red and stood on the entry loop for 7 s, then left on green: it may have
     * stopped before the line or crept over it; loops cannot tell, so the crossing is an
     * interval reaching back to its arrival, and the reason is below_min_speed, not
     * not_red (its crossing may have been on red). */
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    using drivers::Phase;
    rule.onPhaseChange(phase("NB", Phase::Green, Phase::Red, red + 10 * kS, 10 * kS));
    drivers::LoopCrossing c = crossingAt(red + 11 * kS, 6 * kMph);
    c.entryOnNs = red + 3 * kS;
    Decision d = finalOf(rule, c);
    STRCMP_EQUAL("below_min_speed", reasonName(d.reason));
    CHECK(d.redLight->stoppedOnLoops);
    STRCMP_EQUAL("after_stop", d.redLight->crossingMethod.c_str());
    LONGS_EQUAL(c.entryOnNs, d.redLight->crossingEarliestNs);
}

/* A right turner that stood 6 s on the entry loop in red, then turned: the loops cannot
 * date it; a calibrated camera can. */
drivers::LoopCrossing stoodOnTheLoops(Nanos red)
{
    drivers::LoopCrossing c = crossingAt(red + 11 * kS, 8 * kMph, 2);
    c.entryOnNs -= 6 * kS;
    return c;
}

TEST(RedLight, withACalibratedCameraTheJudgmentWaitsForItsDatingAndUsesIt)
{
    RedLightRule rule(baseConfig()); /* lane 2: right turn, policy cite, minimum 5 mph */
    rule.setCameraDating(true);
    Nanos red = cycle(rule, 4 * kS);
    const drivers::LoopCrossing c = stoodOnTheLoops(red);
    std::vector<Decision> ds = drive(rule, c);
    /* The Capture asked for the frames before the exit loop fired, and nothing is final
     * while the camera's answer is owed. */
    LONGS_EQUAL(1, ds.size());
    CHECK(ds[0].verdict == Verdict::Capture);
    CHECK(ds[0].plan.dating());
    LONGS_EQUAL(c.exitOnNs - rule.config().cameraDatingBeforeNs, ds[0].plan.datingFromNs);
    CHECK(ds[0].plan.datingToNs > c.exitOnNs);

    CameraCrossing camera;
    camera.decisionId = ds[0].id;
    camera.dated = true;
    camera.atNs = c.exitOnNs - 280 * kMs;
    camera.earliestNs = camera.atNs - 40 * kMs;
    camera.latestNs = camera.atNs + 40 * kMs;
    camera.speedMps = 3.6;
    camera.speedLowMps = 3.3;
    camera.speedHighMps = 3.9;
    camera.vehicleLengthM = 4.5;
    camera.how = "camera: rear followed";
    Decision d = single(rule.onCameraCrossing(camera));
    STRCMP_EQUAL("cite", reasonName(d.reason));
    CHECK(d.redLight->stoppedOnLoops);
    CHECK(d.redLight->cameraDated);
    CHECK(!d.redLight->undated());
    STRCMP_EQUAL("camera", d.redLight->crossingMethod.c_str());
    LONGS_EQUAL(camera.atNs, d.redLight->crossingNs);
    LONGS_EQUAL(40 * kMs, d.redLight->timeIntoRedUncertaintyNs);
    LONGS_EQUAL(camera.atNs - red, d.redLight->timeIntoRedNs);
    DOUBLES_EQUAL(4.5, d.redLight->vehicleLengthM, 1e-9);
    STRCMP_EQUAL("camera: rear followed", d.redLight->cameraDating.c_str());
}

TEST(RedLight, withoutTheCamerasDatingTheVehicleThatStoodOnTheLoopsStaysUndated)
{
    /* Not calibrated: no dating asked, judged at once as before. */
    {
        RedLightRule rule(baseConfig());
        Nanos red = cycle(rule, 4 * kS);
        std::vector<Decision> ds = drive(rule, stoodOnTheLoops(red));
        LONGS_EQUAL(2, ds.size());
        CHECK(!ds[0].plan.dating());
        STRCMP_EQUAL("below_min_speed", reasonName(ds[1].reason));
        CHECK(ds[1].redLight->undated());
    }
    /* The camera could not date it (lost the rear): undated, and the record says why. */
    {
        RedLightRule rule(baseConfig());
        rule.setCameraDating(true);
        Nanos red = cycle(rule, 4 * kS);
        std::vector<Decision> ds = drive(rule, stoodOnTheLoops(red));
        CameraCrossing none;
        none.decisionId = ds[0].id;
        none.how = "camera: the rear was not followed back 2.0 m";
        Decision d = single(rule.onCameraCrossing(none));
        STRCMP_EQUAL("below_min_speed", reasonName(d.reason));
        CHECK(d.redLight->undated());
        STRCMP_EQUAL(none.how.c_str(), d.redLight->cameraDating.c_str());
    }
    /* No answer at all (a stalled worker): judged undated once the wait is over. */
    {
        RedLightRule rule(baseConfig());
        rule.setCameraDating(true);
        Nanos red = cycle(rule, 4 * kS);
        const drivers::LoopCrossing c = stoodOnTheLoops(red);
        std::vector<Decision> ds = drive(rule, c);
        LONGS_EQUAL(1, ds.size());
        const RedLightConfig &config = rule.config();
        Decision d = single(rule.poll(c.exitOnNs + config.signalSettleNs +
                                      config.cameraDatingWaitNs + 1 * kS));
        STRCMP_EQUAL("below_min_speed", reasonName(d.reason));
        CHECK(d.redLight->undated());
        STRCMP_EQUAL("the camera's dating did not arrive in time", d.redLight->cameraDating.c_str());
    }
}

TEST(RedLight, aCameraDatingThatContradictsTheLoopsIsNotUsed)
{
    RedLightRule rule(baseConfig());
    rule.setCameraDating(true);
    Nanos red = cycle(rule, 4 * kS);
    /* 10 mph at constant speed: slow enough to ask the camera, dated by the loops ±2 ms. */
    const drivers::LoopCrossing c = crossingAt(red + 10 * kS, 10 * kMph, 2);
    std::vector<Decision> ds = drive(rule, c);
    LONGS_EQUAL(1, ds.size());
    CHECK(ds[0].plan.dating());
    CameraCrossing camera; /* narrower, but 2 s away from every instant the loops allow */
    camera.decisionId = ds[0].id;
    camera.dated = true;
    camera.atNs = red + 8 * kS;
    camera.earliestNs = camera.atNs - 1 * kMs;
    camera.latestNs = camera.atNs + 1 * kMs;
    camera.speedMps = camera.speedLowMps = camera.speedHighMps = 4.5;
    camera.how = "camera: rear followed";
    Decision d = single(rule.onCameraCrossing(camera));
    STRCMP_EQUAL("kinematic", d.redLight->crossingMethod.c_str());
    CHECK(!d.redLight->cameraDated);
    CHECK(std::llabs(d.redLight->crossingNs - (red + 10 * kS)) < 5 * kMs);
    STRCMP_CONTAINS("not used", d.redLight->cameraDating.c_str());
}

TEST(RedLight, aFastPassIsDatedByTheLoopsEvenWithACamera)
{
    RedLightRule rule(baseConfig());
    rule.setCameraDating(true);
    Nanos red = cycle(rule, 4 * kS);
    Decision d = citeThrough(rule, crossingAt(red + 2 * kS, 30 * kMph));
    STRCMP_EQUAL("kinematic", d.redLight->crossingMethod.c_str());
    CHECK(!d.plan.dating());
}

TEST(RedLight, vehicleThatStopsOnTheExitLoopDidNotContinue)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    drivers::LoopCrossing c = crossingAt(red + 2 * kS, 20 * kMph);
    std::vector<Decision> ds = drive(rule, c, false);
    LONGS_EQUAL(2, ds.size());
    CHECK(ds[0].verdict == Verdict::Capture);
    CHECK(ds[1].verdict == Verdict::NoCite);
    STRCMP_EQUAL("no_continuation", reasonName(ds[1].reason));
    LONGS_EQUAL(ds[0].id, ds[1].id);
    /* Clearing the loop after the window does not revive it. */
    LONGS_EQUAL(0, rule.onLoopPresence(presence("NB1-exit", false, red + 20 * kS)).size());
    LONGS_EQUAL(0, rule.counts().citations());
}

TEST(RedLight, continuationSeenBeforeTheCrossingEventCounts)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    drivers::LoopCrossing c = crossingAt(red + 2 * kS, 30 * kMph);
    const Nanos exitOff = c.exitOnNs + std::llround((kLoopLength + kCarLength) / c.speedMps * kS);
    rule.onLoopPresence(presence("NB1-exit", true, c.exitOnNs));
    rule.onLoopPresence(presence(
            "NB1-entry", false,
            c.exitOnNs + std::llround((kLoopLength + kCarLength - kSpacing) / c.speedMps * kS)));
    rule.onLoopPresence(presence("NB1-exit", false, exitOff));
    CHECK(single(rule.onLoopCrossing(c)).verdict == Verdict::Capture);
    Decision d = single(rule.poll(c.exitOnNs + 10 * kS));
    CHECK(d.verdict == Verdict::Cite);
    LONGS_EQUAL(exitOff, d.redLight->continuationNs);
}

TEST(RedLight, rightTurnPolicyCite)
{
    RedLightRule rule(baseConfig()); /* lane 2: right turn, policy cite */
    Nanos red = cycle(rule, 4 * kS);
    Decision d = citeThrough(rule, crossingAt(red + 10 * kS, 12 * kMph, 2));
    CHECK(d.verdict == Verdict::Cite);
    CHECK(d.redLight->turnedRight);
    CHECK(d.redLight->turnPolicy == TurnPolicy::Cite);
    /* After a full stop on the loops the crossing is undated: not cited from loops. */
    drivers::LoopCrossing c = crossingAt(red + 20 * kS, 8 * kMph, 2);
    c.entryOnNs -= 6 * kS;
    Decision stopped = finalOf(rule, c);
    STRCMP_EQUAL("below_min_speed", reasonName(stopped.reason));
    CHECK(stopped.redLight->stoppedOnLoops);
}

TEST(RedLight, rightTurnPolicyNever)
{
    RedLightConfig config = baseConfig();
    config.lanes[1].turnPolicy = TurnPolicy::Never;
    RedLightRule rule(config);
    Nanos red = cycle(rule, 4 * kS);
    Decision d = finalOf(rule, crossingAt(red + 3 * kS, 12 * kMph, 2));
    STRCMP_EQUAL("right_turn_exempt", reasonName(d.reason));
    /* The through lane of the same approach is still enforced. */
    CHECK(citeThrough(rule, crossingAt(red + 4 * kS, 30 * kMph, 1)).verdict == Verdict::Cite);
}

TEST(RedLight, rightTurnUnlessStoppedLoopDwell)
{
    RedLightConfig config = baseConfig();
    config.lanes[1].turnPolicy = TurnPolicy::CiteUnlessStopped;
    RedLightRule rule(config);
    Nanos red = cycle(rule, 4 * kS);

    /* Rolling turn at 10 mph: no stop. */
    Decision cited = citeThrough(rule, crossingAt(red + 5 * kS, 10 * kMph, 2));
    CHECK(cited.verdict == Verdict::Cite);
    CHECK_FALSE(cited.redLight->stopped);

    /* Stopped at the line for 4 s on the entry loop, then turned. */
    drivers::LoopCrossing stopped = crossingAt(red + 20 * kS, 8 * kMph, 2);
    stopped.entryOnNs -= 4 * kS;
    Decision d = finalOf(rule, stopped);
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
    Decision cited = citeThrough(rule, crossingAt(cross, 9 * kMph, 2));
    CHECK(cited.verdict == Verdict::Cite);
    CHECK_FALSE(cited.redLight->stopped);
    CHECK(cited.redLight->radarSamples.size() >= 30);

    /* Slowing to 0.4 mph before the line: a complete stop on the radar track. */
    Nanos cross2 = red + 30 * kS;
    for (int i = 0; i < 30; ++i)
        rule.onRadar(radar(cross2 - 5 * kS + i * 100 * kMs, std::max(0.4, 15 - i * 0.6)));
    for (int i = 0; i < 20; ++i)
        rule.onRadar(radar(cross2 - 2 * kS + i * 100 * kMs, 1.5 + i * 0.3));
    Decision stopped = finalOf(rule, crossingAt(cross2, 7 * kMph, 2));
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
    Decision silent = finalOf(rule, c3);
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
    STRCMP_EQUAL("signal_fault", reasonName(finalOf(rule, crossingAt(red + 2 * kS, 20)).reason));
    /* Cleared, but it overlapped this red: still refused. */
    fault.active = false;
    fault.at.sampleNs = red + 3 * kS;
    rule.onSignalFault(fault);
    STRCMP_EQUAL("signal_fault", reasonName(finalOf(rule, crossingAt(red + 4 * kS, 20)).reason));
    /* The next cycle, clean, is enforced again. */
    Nanos red2 = cycle(rule, 4 * kS, 1100 * kS);
    CHECK(citeThrough(rule, crossingAt(red2 + 2 * kS, 20)).verdict == Verdict::Cite);
    /* A conflict indication at the crossing is a fault. */
    rule.onPhaseChange(phase("NB", drivers::Phase::Conflict, drivers::Phase::Red, red2 + 10 * kS));
    STRCMP_EQUAL("signal_fault", reasonName(finalOf(rule, crossingAt(red2 + 11 * kS, 20)).reason));
}

TEST(RedLight, faultDuringContinuationWindowRefusesTheCandidate)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    drivers::LoopCrossing c = crossingAt(red + 2 * kS, 20);
    drivers::SignalFault fault;
    fault.head = "NB";
    fault.kind = drivers::SignalFault::Kind::Conflict;
    fault.at.sampleNs = c.exitOnNs + 100 * kMs;
    rule.onSignalFault(fault);
    std::vector<Decision> ds = drive(rule, c);
    CHECK(ds.front().verdict == Verdict::Capture);
    STRCMP_EQUAL("signal_fault", reasonName(ds.back().reason));
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
    Decision d = drive(rule, c).back();
    CHECK(d.verdict == Verdict::Cite);
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

TEST(RedLight, duplicateGuardRefusesTheSameVehicleTwice)
{
    RedLightRule rule(baseConfig());
    Nanos red = cycle(rule, 4 * kS);
    Decision first = citeThrough(rule, crossingAt(red + 2 * kS, 30 * kMph));
    Decision next = citeThrough(rule, crossingAt(red + 4 * kS, 30 * kMph));
    DuplicateGuard guard;
    CHECK(!guard.duplicateOf(first));
    guard.remember(first);
    Decision copy = first;
    copy.id = 77;
    CHECK(guard.duplicateOf(copy) == first.id);
    CHECK(!guard.duplicateOf(next)); /* another vehicle 2 s later in the same lane */
    Decision otherLane = copy;
    otherLane.redLight->lane = 2;
    CHECK(!guard.duplicateOf(otherLane));
}

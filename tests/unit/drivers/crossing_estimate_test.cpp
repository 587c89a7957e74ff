/* The stop-line crossing estimate against vehicle motion computed by the simulator's own
 * kinematics (piecewise constant acceleration, closed form): the truth is where the
 * physics puts the front bumper, never what the estimator believes. Geometry as in the
 * demo: entry loop 1.8 m from 5.8 m to 4.0 m before the line, exit loop 1.8 m from
 * 1.0 m past it. */
#include "drivers/loops/crossing_estimate.h"

#include <cmath>
#include <cstdio>

#include "sim/kinematics.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::drivers;

namespace {

constexpr double kMph = 0.44704;
constexpr double kLine = 5.8, kSpacing = 6.8, kLoop = 1.8;
constexpr Nanos kS = kNanosPerSecond;

LoopGeometry demoGeometry()
{
    LoopGeometry g;
    g.stopLineM = kLine;
    g.spacingM = kSpacing;
    g.entryLengthM = kLoop;
    g.exitLengthM = kLoop;
    return g;
}

Nanos nanos(double seconds)
{
    return std::llround(seconds * kS);
}

/* Positions along travel from 20 m before the entry loop; the loop instants of a vehicle of
 * `length` metres following `motion`. */
constexpr double kStart = -20.0;

struct Pass
{
    LoopPassTimes times;
    Nanos truthNs = 0;
    double truthMps = 0;
};

Pass passOf(const sim::Trajectory &motion, double length)
{
    auto when = [&](double s) { return nanos(*motion.timeAt(s - kStart)); };
    Pass p;
    p.times.entryOnNs = when(0);
    p.times.exitOnNs = when(kSpacing);
    p.times.entryOffNs = when(kLoop + length);
    p.times.exitOffNs = when(kSpacing + kLoop + length);
    double t = *motion.timeAt(kLine - kStart);
    p.truthNs = nanos(t);
    p.truthMps = motion.speedAt(t);
    return p;
}

void checkCovers(const Pass &p, const CrossingEstimate &e, double maxUncertaintyMs)
{
    const double errMs = (e.atNs - p.truthNs) / 1e6;
    std::printf("  %s: error %+.1f ms, uncertainty %.1f ms, speed %.2f m/s [%.2f, %.2f] "
                "(truth %.2f)\n",
                crossingMethodName(e.method), errMs, e.uncertaintyNs() / 1e6, e.speedMps,
                e.speedLowMps, e.speedHighMps, p.truthMps);
    CHECK(e.earliestNs <= p.truthNs);
    CHECK(p.truthNs <= e.latestNs);
    CHECK(e.uncertaintyNs() <= nanos(maxUncertaintyMs / 1000));
}

} /* namespace */

TEST_GROUP(CrossingEstimate){};

TEST(CrossingEstimate, constantSpeedIsExactToTheTimestampJitter)
{
    sim::Trajectory motion(0, 0, 33 * kMph);
    motion.append(10, 0);
    Pass p = passOf(motion, 4.5);
    CrossingEstimate e = estimateCrossing(p.times, demoGeometry());
    CHECK(e.method == CrossingEstimate::Method::Kinematic);
    CHECK(!e.stopped);
    checkCovers(p, e, 3);
    DOUBLES_EQUAL(p.truthMps, e.speedMps, 0.01);
}

TEST(CrossingEstimate, hardBrakingThroughTheLine)
{
    sim::Trajectory motion(0, 0, 40 * kMph);
    motion.append(1.0, 0);
    motion.append(1.5, -6.0); /* 40 mph less 20 mph: still rolling at exit-off */
    motion.append(10, 0);
    Pass p = passOf(motion, 4.5);
    CrossingEstimate e = estimateCrossing(p.times, demoGeometry());
    CHECK(!e.stopped);
    checkCovers(p, e, 50);
    CHECK(e.speedLowMps <= p.truthMps && p.truthMps <= e.speedHighMps);
}

TEST(CrossingEstimate, rollingRightTurnSlowsToTurningSpeedAtTheLine)
{
    /* 27 mph, braking at 3 m/s² to 10 mph exactly at the line, then steady. */
    sim::Trajectory motion(0, 0, 27 * kMph);
    motion.driveTo(kLine - kStart - ((27 * 27 - 100) * kMph * kMph) / (2 * 3.0), 27 * kMph, 3.0);
    motion.driveTo(kLine - kStart, 10 * kMph, 3.0);
    motion.append(10, 0);
    Pass p = passOf(motion, 4.5);
    CrossingEstimate e = estimateCrossing(p.times, demoGeometry());
    CHECK(!e.stopped);
    checkCovers(p, e, 150);
}

TEST(CrossingEstimate, acceleratingThroughOnTheYellowLongTruck)
{
    sim::Trajectory motion(0, 0, 15 * kMph);
    motion.append(8, 1.5);
    Pass p = passOf(motion, 16.0);
    CrossingEstimate e = estimateCrossing(p.times, demoGeometry());
    CHECK(!e.stopped);
    checkCovers(p, e, 50);
}

TEST(CrossingEstimate, stopBeforeTheLineThenPullAwayIsUndatedButCovered)
{
    /* Stops with its front 3 m before the line, waits 6 s, pulls away at 2 m/s². */
    sim::Trajectory motion(0, 0, 25 * kMph);
    motion.driveTo(kLine - 3.0 - kStart - (25 * 25 * kMph * kMph) / (2 * 4.0), 25 * kMph, 4.0);
    motion.append(25 * kMph / 4.0, -4.0);
    motion.waitUntil(motion.endTime() + 6);
    motion.append(8, 2.0);
    Pass p = passOf(motion, 4.5);
    CrossingEstimate e = estimateCrossing(p.times, demoGeometry());
    CHECK(e.method == CrossingEstimate::Method::AfterStop);
    CHECK(e.stopped);
    CHECK(e.earliestNs <= p.truthNs && p.truthNs <= e.latestNs);
    DOUBLES_EQUAL(0.0, e.speedLowMps, 1e-9);
    /* The best estimate assumes the stop came before the line, as it did here. */
    CHECK(std::llabs(e.atNs - p.truthNs) < nanos(0.15));
}

TEST(CrossingEstimate, creeperOverTheLineIsCoveredByTheUndatedInterval)
{
    /* Creeps 0.3 m over the line and stops there; pulls away 7 s later. */
    sim::Trajectory motion(0, 0, 20 * kMph);
    motion.driveTo(kLine + 0.3 - kStart - (20 * 20 * kMph * kMph) / (2 * 3.0), 20 * kMph, 3.0);
    motion.append(20 * kMph / 3.0, -3.0);
    motion.waitUntil(motion.endTime() + 7);
    motion.append(8, 2.0);
    Pass p = passOf(motion, 4.5);
    CrossingEstimate e = estimateCrossing(p.times, demoGeometry());
    CHECK(e.stopped);
    CHECK(e.earliestNs <= p.truthNs && p.truthNs <= e.latestNs);
}

TEST(CrossingEstimate, leadingEdgesOnlyInterpolateWithABrakingMargin)
{
    sim::Trajectory motion(0, 0, 30 * kMph);
    motion.append(0.3, 0);
    motion.append(1.0, -5.0);
    motion.append(10, 0);
    Pass p = passOf(motion, 4.5);
    p.times.entryOffNs.reset();
    p.times.exitOffNs.reset();
    CrossingEstimate e = estimateCrossing(p.times, demoGeometry());
    CHECK(e.method == CrossingEstimate::Method::Interpolated);
    checkCovers(p, e, 100);
}

TEST(CrossingEstimate, unknownLoopLengthsFallBackToInterpolation)
{
    sim::Trajectory motion(0, 0, 30 * kMph);
    motion.append(10, 0);
    Pass p = passOf(motion, 4.5);
    LoopGeometry g = demoGeometry();
    g.entryLengthM = 0;
    CrossingEstimate e = estimateCrossing(p.times, g);
    CHECK(e.method == CrossingEstimate::Method::Interpolated);
    checkCovers(p, e, 50);
}

TEST(CrossingEstimate, creeperWithAShortStandIsStillUndated)
{
    /* As the simulator's `stops` behaviour with stop_gap -0.3 m: 20 mph, braking at 3 m/s²
     * to a stop 0.3 m past the line, 1.3 s standing, away at 2 m/s². */
    const double v = 20 * kMph, x0 = kLine + 0.3 - kStart - v * v / (2 * 3.0);
    sim::Trajectory motion(0, 0, v);
    motion.driveTo(x0, v, 3.0);
    motion.append(v / 3.0, -3.0);
    motion.waitUntil(motion.endTime() + 1.3);
    motion.append(8, 2.0);
    Pass p = passOf(motion, 4.5);
    CrossingEstimate e = estimateCrossing(p.times, demoGeometry());
    std::printf("  %s earliest %+.0f ms latest %+.0f ms\n", crossingMethodName(e.method),
                (e.earliestNs - p.truthNs) / 1e6, (e.latestNs - p.truthNs) / 1e6);
    CHECK(e.stopped);
    CHECK(e.earliestNs <= p.truthNs && p.truthNs <= e.latestNs);
}

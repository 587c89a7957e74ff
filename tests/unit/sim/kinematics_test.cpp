#include <cmath>

#include "sim/kinematics.h"

#include <CppUTest/TestHarness.h>

using namespace stopline::sim;

namespace {

ApproachSpec approach()
{
    ApproachSpec a;
    a.name = "north";
    a.lengthM = 100;
    a.exitM = 30;
    LaneSpec l1;
    l1.number = 1;
    l1.rightTurn = true;
    LaneSpec l2;
    l2.number = 2;
    a.lanes = {l1, l2};
    return a;
}

VehicleSpec vehicle(Behaviour b, double mph, double arrive)
{
    VehicleSpec v;
    v.id = 1;
    v.approach = "north";
    v.lane = 1;
    v.behaviour = b;
    v.speedMph = mph;
    v.arriveS = arrive;
    v.lengthM = 4.5;
    return v;
}

/* Red from `redFrom` to `greenAt`, green otherwise. */
class FixedSignal : public SignalView
{
public:
    FixedSignal(double redFrom, double greenAt) : redFrom_(redFrom), greenAt_(greenAt) {}
    bool redAt(double t) const override { return t >= redFrom_ && t < greenAt_; }
    bool greenAt(double t) const override { return !redAt(t); }
    std::optional<double> nextGreen(double t) const override { return redAt(t) ? greenAt_ : t; }

private:
    double redFrom_, greenAt_;
};

/* Position never decreases and speed is never negative, sampled finely. */
void checkPhysical(const Trajectory &tr)
{
    double last = tr.positionAt(tr.startTime());
    for (double t = tr.startTime(); t <= tr.endTime(); t += 0.005) {
        double s = tr.positionAt(t);
        CHECK(s >= last - 1e-9);
        CHECK(tr.speedAt(t) >= 0);
        last = s;
    }
}

} /* namespace */

TEST_GROUP(Kinematics){};

TEST(Kinematics, TimeAtInvertsPositionAt)
{
    Trajectory tr(1.0, 0, 10);
    tr.append(2, 1.5);
    tr.append(3, -2);
    tr.append(1, 0);
    for (double t = 1.0; t < tr.endTime(); t += 0.37) {
        double s = tr.positionAt(t);
        DOUBLES_EQUAL(t, *tr.timeAt(s), 1e-9);
    }
    CHECK(!tr.timeAt(tr.endPosition() + 1));
}

TEST(Kinematics, BrakingNeverReverses)
{
    Trajectory tr(0, 0, 6);
    tr.append(10, -2); /* would stop after 3 s */
    DOUBLES_EQUAL(3, tr.endTime(), 1e-12);
    DOUBLES_EQUAL(9, tr.endPosition(), 1e-12);
    DOUBLES_EQUAL(0, tr.endSpeed(), 1e-12);
}

TEST(Kinematics, ConstantSpeedCrossingIsExact)
{
    ApproachSpec a = approach();
    VehiclePlan p = planVehicle(vehicle(Behaviour::RunsRed, 30, 2.0), a, nullptr);
    double v = mphToMps(30);
    DOUBLES_EQUAL(2.0 + 100 / v, *p.crossTime, 1e-9);
    DOUBLES_EQUAL(2.0 + 130 / v, p.exitTime, 1e-9);
    CHECK(!p.stopTime.has_value());
}

TEST(Kinematics, ProfileRampsLinearly)
{
    VehicleSpec v = vehicle(Behaviour::RunsRed, 30, 0);
    v.profile = {{2.0, 40}};
    Trajectory tr = freeFlow(v, 5.0, 200);
    DOUBLES_EQUAL(mphToMps(35), tr.speedAt(6.0), 1e-9);
    DOUBLES_EQUAL(mphToMps(40), tr.speedAt(8.0), 1e-9);
    DOUBLES_EQUAL(200, tr.endPosition(), 1e-9);
}

TEST(Kinematics, LawfulDriverStopsForRedAndGoesOnGreen)
{
    ApproachSpec a = approach();
    VehicleSpec spec = vehicle(Behaviour::Complies, 25, 0);
    double freeCross = 100 / mphToMps(25); /* 8.95 s */
    FixedSignal signal(freeCross - 2, freeCross + 10);
    VehiclePlan p = planVehicle(spec, a, &signal);
    CHECK(p.stopTime.has_value());
    DOUBLES_EQUAL(100 - spec.stopGapM, p.motion.positionAt(*p.stopTime), 1e-6);
    DOUBLES_EQUAL(0, p.motion.speedAt(*p.stopTime), 1e-9);
    DOUBLES_EQUAL(freeCross + 10 + spec.reactionS, *p.goTime, 1e-9);
    CHECK(*p.crossTime > *p.goTime);
    CHECK(signal.greenAt(*p.crossTime));
    checkPhysical(p.motion);

    /* the same driver on green just drives through */
    FixedSignal green(1000, 1001);
    VehiclePlan q = planVehicle(spec, a, &green);
    CHECK(!q.stopTime.has_value());
    DOUBLES_EQUAL(freeCross, *q.crossTime, 1e-9);
}

TEST(Kinematics, StopsDwellsAtLeastStopS)
{
    ApproachSpec a = approach();
    VehicleSpec spec = vehicle(Behaviour::Stops, 20, 0);
    spec.stopS = 1.5;
    FixedSignal green(1000, 1001);
    VehiclePlan p = planVehicle(spec, a, &green);
    CHECK(p.stopTime.has_value() && p.goTime.has_value());
    DOUBLES_EQUAL(*p.stopTime + 1.5, *p.goTime, 1e-9);
    /* braking at the comfortable rate, from the cruise speed to zero */
    double v = mphToMps(20);
    double brakeStart = *p.stopTime - v / spec.decelMps2;
    DOUBLES_EQUAL(v, p.motion.speedAt(brakeStart - 0.01), 1e-9);
    DOUBLES_EQUAL(v / 2, p.motion.speedAt(brakeStart + v / spec.decelMps2 / 2), 1e-6);
    checkPhysical(p.motion);
}

TEST(Kinematics, CreepingStopCrossesTheLineSlowly)
{
    ApproachSpec a = approach();
    VehicleSpec spec = vehicle(Behaviour::Stops, 20, 0);
    spec.stopGapM = -0.8; /* stops with its nose 0.8 m over the line */
    FixedSignal red(0, 30);
    VehiclePlan p = planVehicle(spec, a, &red);
    CHECK(*p.crossTime < *p.stopTime);
    /* v^2 = 2 a d: 0.8 m before stopping at 3 m/s^2 */
    DOUBLES_EQUAL(std::sqrt(2 * spec.decelMps2 * 0.8), p.motion.speedAt(*p.crossTime), 1e-6);
}

TEST(Kinematics, RollingRightTurnCrossesAtTurnSpeed)
{
    ApproachSpec a = approach();
    VehicleSpec spec = vehicle(Behaviour::RightTurnRolling, 30, 0);
    spec.turnMph = 9;
    VehiclePlan p = planVehicle(spec, a, nullptr);
    CHECK(!p.stopTime.has_value());
    DOUBLES_EQUAL(mphToMps(9), p.motion.speedAt(*p.crossTime), 1e-6);
    CHECK(p.path.rightTurn());
    Pose end = p.path.poseAt(p.path.endS());
    DOUBLES_EQUAL(-M_PI / 2, end.heading, 1e-12);
    DOUBLES_EQUAL(a.rightTurnStartM + a.turnRadiusM, end.x, 1e-9);
    checkPhysical(p.motion);
}

TEST(Kinematics, RightTurnAfterStopWaitsStopS)
{
    ApproachSpec a = approach();
    VehicleSpec spec = vehicle(Behaviour::RightTurnAfterStop, 25, 0);
    spec.stopS = 2.5;
    FixedSignal red(0, 1000); /* red throughout: the turn does not wait for green */
    VehiclePlan p = planVehicle(spec, a, &red);
    DOUBLES_EQUAL(*p.stopTime + 2.5, *p.goTime, 1e-9);
    CHECK(*p.crossTime > *p.goTime);
    CHECK(p.exitTime < 100);
}

TEST(Kinematics, PathPoseAlongTheTurn)
{
    ApproachSpec a = approach();
    Path path(a, 1, true);
    Pose atLine = path.poseAt(path.lineS());
    DOUBLES_EQUAL(0, atLine.x, 1e-12);
    DOUBLES_EQUAL(1.8, atLine.y, 1e-12);
    /* halfway round the quarter circle: 45 degrees */
    Pose mid = path.poseAt(path.straightEndS() + a.turnRadiusM * M_PI / 4);
    DOUBLES_EQUAL(-M_PI / 4, mid.heading, 1e-12);
    DOUBLES_EQUAL(a.rightTurnStartM + a.turnRadiusM * std::sin(M_PI / 4), mid.x, 1e-9);
    DOUBLES_EQUAL(1.8 - a.turnRadiusM * (1 - std::cos(M_PI / 4)), mid.y, 1e-9);
}

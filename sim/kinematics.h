#pragma once

#include <optional>
#include <vector>

#include "sim/scenario.h"

/* Vehicle motion as piecewise-constant acceleration along a path. Piecewise motion has
 * closed-form answers, so the moment a bumper reaches the stop line or a loop is exact
 * (no integration step), which is what lets the ground truth be compared to the
 * drivers' timestamps at the microsecond. Times are seconds from the scenario start;
 * positions are metres along the vehicle's path from where it appeared. */
namespace stopline::sim {

struct Segment
{
    double t0 = 0;
    double t1 = 0;
    double s0 = 0;
    double v0 = 0;
    double a = 0;
    double positionAt(double t) const;
    double speedAt(double t) const { return v0 + a * (t - t0); }
};

class Trajectory
{
public:
    Trajectory() = default;
    Trajectory(double t, double s, double v)
        : t_(t), s_(s), v_(v), start_(t), startS_(s), startV_(v)
    {}

    /* Extends the motion by `duration` seconds at acceleration `a` (speed never goes
     * below zero: a braking segment is cut where the vehicle stops). */
    void append(double duration, double a);
    /* Holds still until t. */
    void waitUntil(double t);
    /* Changes speed at `accel` (magnitude) to vTarget, then cruises, ending exactly at
     * position sEnd. */
    void driveTo(double sEnd, double vTarget, double accel);
    /* Drops everything after time t. */
    void truncate(double t);

    double startTime() const { return start_; }
    double endTime() const { return t_; }
    double endPosition() const { return s_; }
    double endSpeed() const { return v_; }

    double positionAt(double t) const;
    double speedAt(double t) const;
    /* The first moment the position reaches s, if it ever does. */
    std::optional<double> timeAt(double s) const;

    const std::vector<Segment> &segments() const { return segments_; }

private:
    const Segment *segmentAt(double t) const;

    std::vector<Segment> segments_;
    double t_ = 0, s_ = 0, v_ = 0;
    double start_ = 0, startS_ = 0, startV_ = 0;
};

/* Where a vehicle is: x metres along its approach's direction of travel from the stop
 * line (negative before it), y metres left of the kerb, heading radians (0 = along x,
 * negative = turning right). */
struct Pose
{
    double x = 0;
    double y = 0;
    double heading = 0;
};

/* The path of one vehicle on its approach: straight through, or straight to the turn
 * point and then a quarter circle to the right onto the cross street. */
class Path
{
public:
    Path(const ApproachSpec &approach, unsigned lane, bool rightTurn);

    double lineS() const { return lineS_; }        /* front bumper on the stop line */
    double straightEndS() const { return turnS_; } /* the turn begins (end for through) */
    double endS() const { return endS_; }
    bool rightTurn() const { return rightTurn_; }
    double laneCentreY() const { return y_; }
    Pose poseAt(double s) const;

private:
    double lineS_, turnS_, endS_, y_, radius_;
    bool rightTurn_;
};

/* A vehicle's whole plan: its path, its motion, and the moments that matter. */
struct VehiclePlan
{
    VehicleSpec spec;
    Path path;
    Trajectory motion;
    std::optional<double> stopTime; /* came to a standstill */
    std::optional<double> goTime;   /* moved off again */
    std::optional<double> crossTime;
    double exitTime = 0;
};

/* What the planner needs from the signal: the head's green times (seconds). */
class SignalView
{
public:
    virtual ~SignalView() = default;
    virtual bool redAt(double t) const = 0;
    virtual bool greenAt(double t) const = 0;
    /* First moment at or after t the head shows green. */
    virtual std::optional<double> nextGreen(double t) const = 0;
};

/* The motion a vehicle drives given only its speed profile, starting at time `start`. */
Trajectory freeFlow(const VehicleSpec &spec, double start, double endS);

/* Plans a vehicle's motion for its behaviour; `signal` is null when its approach has no
 * head. spec.arriveS must be resolved. */
VehiclePlan planVehicle(const VehicleSpec &spec, const ApproachSpec &approach,
                        const SignalView *signal);

} /* namespace stopline::sim */

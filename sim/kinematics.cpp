#include "sim/kinematics.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace stopline::sim {

namespace {

constexpr double kEps = 1e-9;
/* How far a right-turner drives along the cross street before it leaves the scene. */
constexpr double kAfterTurnM = 25;

} /* namespace */

double Segment::positionAt(double t) const
{
    double dt = t - t0;
    return s0 + v0 * dt + 0.5 * a * dt * dt;
}

void Trajectory::append(double duration, double a)
{
    if (duration <= 0)
        return;
    if (a < 0 && v_ + a * duration < 0)
        duration = v_ / -a; /* stops: never reverse */
    Segment seg{t_, t_ + duration, s_, v_, a};
    segments_.push_back(seg);
    s_ = seg.positionAt(seg.t1);
    v_ = std::max(0.0, seg.speedAt(seg.t1));
    t_ = seg.t1;
}

void Trajectory::waitUntil(double t)
{
    if (t > t_) {
        if (v_ > kEps)
            throw std::logic_error("waitUntil while moving");
        v_ = 0;
        append(t - t_, 0);
    }
}

void Trajectory::driveTo(double sEnd, double vTarget, double accel)
{
    if (s_ >= sEnd)
        return;
    if (std::abs(vTarget - v_) > kEps) {
        double a = vTarget > v_ ? accel : -accel;
        double dur = (vTarget - v_) / a;
        double dist = v_ * dur + 0.5 * a * dur * dur;
        if (s_ + dist >= sEnd) {
            /* Reaches the end while still changing speed: solve for the time. */
            double disc = v_ * v_ + 2 * a * (sEnd - s_);
            double tau = (-v_ + std::sqrt(std::max(0.0, disc))) / a;
            append(tau, a);
            s_ = sEnd;
            return;
        }
        append(dur, a);
        v_ = vTarget;
    }
    if (v_ <= kEps)
        throw std::logic_error("driveTo with zero target speed");
    append((sEnd - s_) / v_, 0);
    s_ = sEnd;
}

void Trajectory::truncate(double t)
{
    while (!segments_.empty() && segments_.back().t0 >= t)
        segments_.pop_back();
    if (segments_.empty()) {
        t_ = start_;
        s_ = startS_;
        v_ = startV_;
        return;
    }
    Segment &last = segments_.back();
    if (last.t1 > t)
        last.t1 = t;
    t_ = last.t1;
    s_ = last.positionAt(last.t1);
    v_ = std::max(0.0, last.speedAt(last.t1));
}

const Segment *Trajectory::segmentAt(double t) const
{
    if (segments_.empty())
        return nullptr;
    auto it = std::upper_bound(segments_.begin(), segments_.end(), t,
                               [](double v, const Segment &s) { return v < s.t0; });
    if (it == segments_.begin())
        return &segments_.front();
    return &*std::prev(it);
}

double Trajectory::positionAt(double t) const
{
    if (segments_.empty() || t >= t_)
        return s_;
    const Segment *seg = segmentAt(t);
    if (t <= seg->t0)
        return seg->s0;
    return seg->positionAt(std::min(t, seg->t1));
}

double Trajectory::speedAt(double t) const
{
    if (segments_.empty())
        return v_;
    if (t >= t_)
        return v_;
    const Segment *seg = segmentAt(t);
    if (t <= seg->t0)
        return seg->v0;
    return std::max(0.0, seg->speedAt(std::min(t, seg->t1)));
}

std::optional<double> Trajectory::timeAt(double s) const
{
    for (const auto &seg : segments_) {
        double s1 = seg.positionAt(seg.t1);
        if (s1 < s - kEps)
            continue;
        if (seg.s0 >= s)
            return seg.t0;
        double d = s - seg.s0;
        double tau;
        if (std::abs(seg.a) < 1e-12) {
            if (seg.v0 <= 0)
                continue;
            tau = d / seg.v0;
        } else {
            double disc = seg.v0 * seg.v0 + 2 * seg.a * d;
            tau = (-seg.v0 + std::sqrt(std::max(0.0, disc))) / seg.a;
        }
        return std::min(seg.t1, seg.t0 + std::max(0.0, tau));
    }
    return std::nullopt;
}

Path::Path(const ApproachSpec &approach, unsigned lane, bool rightTurn) : rightTurn_(rightTurn)
{
    lineS_ = approach.lengthM;
    y_ = (lane - 0.5) * approach.laneWidthM;
    radius_ = approach.turnRadiusM;
    if (rightTurn) {
        turnS_ = lineS_ + approach.rightTurnStartM;
        endS_ = turnS_ + radius_ * M_PI / 2 + kAfterTurnM;
    } else {
        turnS_ = lineS_ + approach.exitM;
        endS_ = turnS_;
    }
}

Pose Path::poseAt(double s) const
{
    if (s <= turnS_ || !rightTurn_)
        return {s - lineS_, y_, 0};
    double xTurn = turnS_ - lineS_;
    double arc = s - turnS_;
    double quarter = radius_ * M_PI / 2;
    if (arc <= quarter) {
        double phi = arc / radius_;
        return {xTurn + radius_ * std::sin(phi), y_ - radius_ * (1 - std::cos(phi)), -phi};
    }
    return {xTurn + radius_, y_ - radius_ - (arc - quarter), -M_PI / 2};
}

Trajectory freeFlow(const VehicleSpec &spec, double start, double endS)
{
    Trajectory tr(start, 0, mphToMps(spec.speedMph));
    double lastT = 0;
    double lastV = mphToMps(spec.speedMph);
    for (const auto &p : spec.profile) {
        double v = mphToMps(p.mph);
        double dur = p.tS - lastT;
        tr.append(dur, (v - lastV) / dur);
        lastT = p.tS;
        lastV = v;
        if (tr.endPosition() >= endS)
            break;
    }
    if (tr.endPosition() < endS)
        tr.append((endS - tr.endPosition()) / tr.endSpeed(), 0);
    /* Trim the overshoot of the last profile segment exactly at the end. */
    if (auto t = tr.timeAt(endS))
        tr.truncate(*t);
    return tr;
}

namespace {

/* Braking from the free-flow motion so that speed falls to vTarget exactly at position
 * sTarget, at `decel` (or harder, if the vehicle appears too close to manage it).
 * Returns the motion up to sTarget. */
Trajectory brakeTo(const Trajectory &free, double sTarget, double vTarget, double decel)
{
    /* Braking must begin when s + (v^2 - vT^2) / 2d reaches sTarget: scan for the first
     * such moment, then refine by bisection. */
    auto need = [&](double t) {
        double v = free.speedAt(t);
        return free.positionAt(t) + (v * v - vTarget * vTarget) / (2 * decel) - sTarget;
    };
    double t0 = free.startTime();
    double t1 = free.timeAt(sTarget).value_or(free.endTime());
    double tb;
    if (need(t0) >= 0) {
        tb = t0;
    } else {
        double step = 0.01;
        double lo = t0, hi = t1;
        for (double t = t0; t <= t1; t += step) {
            if (need(t) >= 0) {
                hi = t;
                break;
            }
            lo = t;
        }
        for (int i = 0; i < 60; ++i) {
            double mid = 0.5 * (lo + hi);
            (need(mid) >= 0 ? hi : lo) = mid;
        }
        tb = hi;
    }
    Trajectory out = free;
    out.truncate(tb);
    double v = out.endSpeed();
    double dist = sTarget - out.endPosition();
    if (v <= vTarget || dist <= 0)
        return out;
    double a = (vTarget * vTarget - v * v) / (2 * dist);
    double dur = (vTarget - v) / a;
    out.append(dur, a);
    return out;
}

} /* namespace */

VehiclePlan planVehicle(const VehicleSpec &spec, const ApproachSpec &approach,
                        const SignalView *signal)
{
    bool turning = spec.behaviour == Behaviour::RightTurnRolling ||
                   spec.behaviour == Behaviour::RightTurnAfterStop;
    VehiclePlan plan{spec, Path(approach, spec.lane, turning), {}, {}, {}, {}, 0};
    const Path &path = plan.path;
    double cruise = mphToMps(spec.speedMph);
    if (!spec.profile.empty())
        cruise = mphToMps(spec.profile.back().mph);
    Trajectory free = freeFlow(spec, spec.arriveS, path.endS());

    auto stopAtLine = [&]() {
        double sStop = path.lineS() - spec.stopGapM;
        Trajectory tr = brakeTo(free, sStop, 0, spec.decelMps2);
        plan.stopTime = tr.endTime();
        return tr;
    };

    switch (spec.behaviour) {
    case Behaviour::RunsRed:
        plan.motion = free;
        break;
    case Behaviour::Speeds:
    case Behaviour::Complies: {
        /* A lawful driver: crosses on green or yellow, stops for a red. */
        double tc = *free.timeAt(path.lineS());
        if (!signal || !signal->redAt(tc)) {
            plan.motion = free;
            break;
        }
        Trajectory tr = stopAtLine();
        auto green = signal->nextGreen(*plan.stopTime);
        double go = green ? *green + spec.reactionS : tr.endTime() + 1e6;
        tr.waitUntil(go);
        plan.goTime = go;
        tr.driveTo(path.endS(), cruise, spec.accelMps2);
        plan.motion = tr;
        break;
    }
    case Behaviour::Stops: {
        Trajectory tr = stopAtLine();
        double go = *plan.stopTime + spec.stopS;
        if (signal && !signal->greenAt(go)) {
            auto green = signal->nextGreen(go);
            go = green ? *green + spec.reactionS : go + 1e6;
        }
        tr.waitUntil(go);
        plan.goTime = go;
        tr.driveTo(path.endS(), cruise, spec.accelMps2);
        plan.motion = tr;
        break;
    }
    case Behaviour::RightTurnRolling: {
        double vt = mphToMps(spec.turnMph);
        Trajectory tr = brakeTo(free, path.lineS(), vt, spec.decelMps2);
        tr.driveTo(path.endS(), std::min(vt, tr.endSpeed()), spec.accelMps2);
        plan.motion = tr;
        break;
    }
    case Behaviour::RightTurnAfterStop: {
        Trajectory tr = stopAtLine();
        double go = *plan.stopTime + spec.stopS;
        tr.waitUntil(go);
        plan.goTime = go;
        tr.driveTo(path.endS(), mphToMps(spec.turnMph), spec.accelMps2);
        plan.motion = tr;
        break;
    }
    }
    plan.crossTime = plan.motion.timeAt(path.lineS());
    plan.exitTime = plan.motion.endTime();
    return plan;
}

} /* namespace stopline::sim */

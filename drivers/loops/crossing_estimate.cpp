#include "drivers/loops/crossing_estimate.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace stopline::drivers {

namespace {

/* Loop detectors report an edge within a millisecond or so of the vehicle reaching
 * the loop (the first edge of the debounced change is kept); both ends of every
 * interval are widened by this much. */
constexpr double kTimestampJitterS = 0.002;
constexpr double kMinVehicleM = 1.0, kMaxVehicleM = 30.0;
constexpr double kMovingMps = 0.3; /* slower than this is not moving at all */
/* A constant-acceleration fit through a pass whose slowest speed is below walking pace
 * (2 m/s, 4.5 mph) stands for a vehicle that stopped or nearly stopped over the loops: a
 * short stand between braking and pulling away fits a slow, smooth pass that is seconds off
 * (measured: a creeper standing 0-2 s fits 0.15-1.9 m/s). Such a pass is undated. */
constexpr double kWalkingPaceMps = 2.0;
constexpr double kMaxBrakeMps2 = 8.0; /* hard braking on dry asphalt, for interpolation only */
constexpr double kMaxAccelMps2 = 12.0;

struct Model
{
    double t = 0; /* seconds after entry-on */
    double v = 0; /* speed at the line */
};

double seconds(Nanos ns)
{
    return static_cast<double>(ns) / kNanosPerSecond;
}

bool plausibleLength(double l)
{
    return std::isfinite(l) && l >= kMinVehicleM && l <= kMaxVehicleM;
}

/* Constant acceleration through all four instants: s(t) = v0 t + a t²/2 from entry-on,
 * front at the spacing at exit-on, rear leaving each loop at the loop's far edge. Three
 * unknowns (v0, a, vehicle length), three equations. `stopped` is set when the fit needs
 * the vehicle to stand still (or reverse) within the pass. */
std::optional<Model> constantAcceleration(double T, double te, double tx, const LoopGeometry &g,
                                          bool *stopped)
{
    const double S = g.spacingM, rearGap = g.spacingM + g.exitLengthM - g.entryLengthM;
    const double det = 0.5 * T * (tx - te) * (tx + te - T);
    if (std::fabs(det) < 1e-9)
        return std::nullopt;
    const double v0 = (S * (tx * tx - te * te) / 2 - rearGap * T * T / 2) / det;
    const double a = (T * rearGap - (tx - te) * S) / det;
    const double length = v0 * te + a * te * te / 2 - g.entryLengthM;
    if (!std::isfinite(v0) || !std::isfinite(a))
        return std::nullopt;
    if (std::min(v0, v0 + a * tx) <= kWalkingPaceMps) {
        *stopped = true;
        return std::nullopt;
    }
    if (!plausibleLength(length) || std::fabs(a) > kMaxAccelMps2)
        return std::nullopt;
    const double disc = v0 * v0 + 2 * a * g.stopLineM;
    if (disc < 0)
        return std::nullopt;
    const double t = 2 * g.stopLineM / (v0 + std::sqrt(disc));
    return Model{t, v0 + a * t};
}

/* Constant speed over the exit side, anchored at exit-on: the rear leaving the entry loop
 * and the rear leaving the exit loop are a known distance apart whatever the length. */
std::optional<Model> exitSide(double T, double te, double tx, const LoopGeometry &g)
{
    const double rearGap = g.spacingM + g.exitLengthM - g.entryLengthM;
    if (!(tx > te))
        return std::nullopt;
    const double v = rearGap / (tx - te);
    const double length = g.spacingM + v * (te - T) - g.entryLengthM;
    if (v <= kMovingMps || !plausibleLength(length))
        return std::nullopt;
    return Model{T - (g.spacingM - g.stopLineM) / v, v};
}

Nanos at(Nanos entryOn, double t)
{
    return entryOn + std::llround(t * kNanosPerSecond);
}

} /* namespace */

const char *crossingMethodName(CrossingEstimate::Method method)
{
    switch (method) {
    case CrossingEstimate::Method::Interpolated:
        return "interpolated";
    case CrossingEstimate::Method::Kinematic:
        return "kinematic";
    case CrossingEstimate::Method::AfterStop:
        return "after_stop";
    }
    return "?";
}

CrossingEstimate estimateCrossing(const LoopPassTimes &pass, const LoopGeometry &g)
{
    CrossingEstimate out;
    const double T = seconds(pass.exitOnNs - pass.entryOnNs);
    if (!(T > 0) || !(g.spacingM > 0)) {
        out.atNs = out.earliestNs = out.latestNs = pass.exitOnNs;
        return out;
    }
    const Model linear{T * g.stopLineM / g.spacingM, g.spacingM / T};

    const bool fourInstants =
            pass.entryOffNs && pass.exitOffNs && g.entryLengthM > 0 && g.exitLengthM > 0;
    if (!fourInstants) {
        /* Only the leading edges: constant speed, widened by what hard braking or
         * acceleration could make of the same two instants (position error up to
         * A·T²/8 at mid-pass, converted to time at the mean speed). */
        const double slack = kMaxBrakeMps2 * T * T / 8 / linear.v + kTimestampJitterS;
        out.method = CrossingEstimate::Method::Interpolated;
        out.atNs = at(pass.entryOnNs, linear.t);
        out.earliestNs = at(pass.entryOnNs, std::max(0.0, linear.t - slack));
        out.latestNs = at(pass.entryOnNs, std::min(T, linear.t + slack));
        out.speedMps = linear.v;
        out.speedLowMps = std::max(0.0, linear.v - kMaxBrakeMps2 * T / 2);
        out.speedHighMps = linear.v + kMaxBrakeMps2 * T / 2;
        return out;
    }

    const double te = seconds(*pass.entryOffNs - pass.entryOnNs);
    const double tx = seconds(*pass.exitOffNs - pass.entryOnNs);
    bool stopped = false;
    const std::optional<Model> accel = constantAcceleration(T, te, tx, g, &stopped);
    const std::optional<Model> back = exitSide(T, te, tx, g);

    if (stopped && back) {
        /* It stood on the loops. Had it stopped before the line, it crossed while pulling
         * away: back-extrapolate from exit-on over the last metres at a speed bounded by
         * the exit-side mean and the start acceleration. Loops cannot rule out that it
         * crept over the line before stopping, so the interval reaches back to the
         * earliest instant the front could have reached the line after entry-on. */
        const double gap = g.spacingM - g.stopLineM;
        const double mid = (te + tx) / 2;
        const double drift = g.maxStartAccelMps2 * (std::fabs(mid - back->t));
        const double vHigh = back->v + drift;
        out.method = CrossingEstimate::Method::AfterStop;
        out.stopped = true;
        out.atNs = at(pass.entryOnNs, back->t);
        out.earliestNs = pass.entryOnNs;
        out.latestNs = at(pass.entryOnNs, T - gap / vHigh + kTimestampJitterS);
        out.speedMps = back->v;
        out.speedLowMps = 0;
        out.speedHighMps = vHigh;
        return out;
    }

    std::vector<Model> models{linear};
    if (accel)
        models.push_back(*accel);
    if (back)
        models.push_back(*back);
    auto [tLow, tHigh] = std::minmax_element(
            models.begin(), models.end(), [](const Model &a, const Model &b) { return a.t < b.t; });
    auto [vLow, vHigh] = std::minmax_element(
            models.begin(), models.end(), [](const Model &a, const Model &b) { return a.v < b.v; });
    const double mid = (tLow->t + tHigh->t) / 2;
    out.method = CrossingEstimate::Method::Kinematic;
    out.atNs = at(pass.entryOnNs, mid);
    out.earliestNs = at(pass.entryOnNs, tLow->t - kTimestampJitterS);
    out.latestNs = at(pass.entryOnNs, tHigh->t + kTimestampJitterS);
    out.speedMps = (vLow->v + vHigh->v) / 2;
    out.speedLowMps = vLow->v;
    out.speedHighMps = vHigh->v;
    return out;
}

} /* namespace stopline::drivers */

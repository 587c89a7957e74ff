/* The camera dates a stop-line crossing the loops cannot (issue 13).
 *
 * A vehicle that stood on the loops — stopped short of the line, then pulled away or
 * turned — leaves loop edges that say nothing about when its front reached the line.
 * One loop instant still holds: when the exit loop fired, the front was at that loop's
 * leading edge, `exitLeadM` past the line. A vehicle is rigid and drives straight over
 * that last stretch, so its front was at the line exactly when its rear was `exitLeadM`
 * behind where the rear was at exit-on. The camera sees the rear on the road plane
 * (LaneView), so both rear positions are measured in the same frames, 1-2 m apart:
 * the calibration's bias is nearly the same in both and cancels, and the vehicle's
 * length, which nothing measures well for a vehicle that stopped, is never needed.
 *
 * Each position is a local quadratic fit of the rear through the frames around its
 * instant (the vehicle accelerates from a stop); the uncertainty is the fit's scatter
 * and the grid step at both ends, divided by the speed at the line. */
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "pipeline/evidence/vehicle_identity.h"

namespace stopline::pipeline {

namespace {

/* The frames a fit uses: those within this of its instant. */
constexpr double kFitHalfWindowS = 0.4;
/* The shortest vehicle whose rear is looked for behind the exit loop's leading edge (a
 * motorcycle is about 2 m; its rear is this far behind its front at least). */
constexpr double kShortestVehicleM = 1.5;
/* Dating needs the rear followed without a gap longer than this (a stalled camera). */
constexpr double kLongestGapS = 0.2;
/* Below this speed at the line the rear's scatter is worth seconds: not dated. */
constexpr double kSlowestMps = 0.2;
/* The exit loop's edge is stamped by the GPIO driver to within about a millisecond. */
constexpr double kEdgeStampS = 0.002;

double secondsOf(Nanos ns)
{
    return static_cast<double>(ns) / kNanosPerSecond;
}

std::string fmt(double v, int decimals)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

struct RearAt
{
    double t; /* seconds since exit-on */
    double rearM;
};

/* rear(t) = c0 + c1 t + c2 t² about `centre`, least squares over the sightings within
 * the window; linear when too few for a quadratic. */
struct LocalFit
{
    double centre = 0;
    double c0 = 0, c1 = 0, c2 = 0;
    double rmsM = 0;
    std::size_t points = 0;

    double at(double t) const
    {
        const double x = t - centre;
        return c0 + c1 * x + c2 * x * x;
    }
    double slopeAt(double t) const { return c1 + 2 * c2 * (t - centre); }
};

std::optional<LocalFit> fitAround(const std::vector<RearAt> &path, double centre)
{
    std::vector<const RearAt *> near;
    for (const RearAt &s : path)
        if (std::fabs(s.t - centre) <= kFitHalfWindowS)
            near.push_back(&s);
    if (near.size() < 3)
        return std::nullopt;
    const int order = near.size() >= 6 ? 3 : 2;
    cv::Mat a(static_cast<int>(near.size()), order, CV_64F),
            b(static_cast<int>(near.size()), 1, CV_64F);
    for (int i = 0; i < a.rows; ++i) {
        const double x = near[static_cast<std::size_t>(i)]->t - centre;
        for (int j = 0; j < order; ++j)
            a.at<double>(i, j) = std::pow(x, j);
        b.at<double>(i) = near[static_cast<std::size_t>(i)]->rearM;
    }
    cv::Mat c;
    if (!cv::solve(a, b, c, cv::DECOMP_SVD))
        return std::nullopt;
    LocalFit fit;
    fit.centre = centre;
    fit.c0 = c.at<double>(0);
    fit.c1 = c.at<double>(1);
    fit.c2 = order > 2 ? c.at<double>(2) : 0;
    fit.points = near.size();
    double sum = 0;
    for (const RearAt *s : near)
        sum += std::pow(s->rearM - fit.at(s->t), 2);
    /* Scatter about the fit, corrected for the parameters it used. */
    fit.rmsM = std::sqrt(sum / std::max<double>(1, static_cast<double>(near.size()) - order));
    return fit;
}

} /* namespace */

CameraCrossing VehicleBinder::dateCrossing(const Decision &d, const Snapshot &snapshot) const
{
    CameraCrossing out;
    out.decisionId = d.id;
    auto fail = [&](std::string why) {
        out.how = "camera: " + why;
        return out;
    };
    if (!d.redLight || !d.plan.dating())
        return fail("no dating span was asked for");
    const RedLightFacts &f = *d.redLight;
    const LaneView *lane = view(f.lane);
    if (!lane)
        return fail("lane " + std::to_string(f.lane) + " is not in the camera calibration");
    const double exitLeadM = f.crossing.spacingM - f.stopLineFromEntryM;
    const Nanos exitOn = f.crossing.exitOnNs;

    std::vector<hal::FramePtr> frames;
    for (const hal::FramePtr &fr : snapshot.search)
        if (fr->stamp.sampleNs >= d.plan.datingFromNs && fr->stamp.sampleNs <= d.plan.datingToNs)
            frames.push_back(fr);
    if (frames.size() < 4)
        return fail("only " + std::to_string(frames.size()) + " frames in the dating span");
    const auto seen = observe(frames, snapshot);
    const auto &mine = seen[static_cast<std::size_t>(lane - views_.data())];
    auto tOf = [&](std::size_t k) { return secondsOf(frames[k]->stamp.sampleNs - exitOn); };

    /* The last frame at or before exit-on, and in it the rear that can belong to the
     * vehicle whose front was at the exit loop: the first rear behind the loop by at
     * least a short vehicle's length (a vehicle ahead has cleared the exit loop). */
    std::size_t k0 = frames.size();
    for (std::size_t k = 0; k < frames.size(); ++k)
        if (frames[k]->stamp.sampleNs <= exitOn)
            k0 = k;
    if (k0 == frames.size() || k0 + 1 >= frames.size())
        return fail("no frames either side of the exit loop's edge");
    const VehicleRear *start = nullptr;
    for (const VehicleRear &r : mine[k0])
        if (!r.clipped && r.alongM <= exitLeadM - kShortestVehicleM &&
            (!start || r.alongM > start->alongM))
            start = &r;
    if (!start)
        return fail("no vehicle in lane " + std::to_string(f.lane) +
                    " whose front could be at the exit loop when it fired");

    /* Follow that rear frame by frame, back to the start of the span and on past exit-on:
     * each frame's rear nearest the last, no further than a slow vehicle moves. */
    std::vector<RearAt> path{{tOf(k0), start->alongM}};
    auto follow = [&](std::size_t from, int step) {
        double last = start->alongM;
        Nanos lastNs = frames[from]->stamp.sampleNs;
        for (std::ptrdiff_t k = static_cast<std::ptrdiff_t>(from) + step;
             k >= 0 && k < static_cast<std::ptrdiff_t>(frames.size()); k += step) {
            const std::size_t i = static_cast<std::size_t>(k);
            const double dt = std::fabs(secondsOf(frames[i]->stamp.sampleNs - lastNs));
            if (dt > kLongestGapS)
                return;
            const double reach = 0.25 + 12.0 * dt; /* up to ~27 mph, plus scatter */
            const VehicleRear *best = nullptr;
            for (const VehicleRear &r : mine[i]) {
                /* Rears do not move backwards (beyond the scatter). */
                const double move = (r.alongM - last) * step;
                if (r.clipped || move < -0.25 || move > reach)
                    continue;
                if (!best || std::fabs(r.alongM - last) < std::fabs(best->alongM - last))
                    best = &r;
            }
            if (!best)
                continue; /* a frame without it: the gap check stops a long run of them */
            last = best->alongM;
            lastNs = frames[i]->stamp.sampleNs;
            path.push_back({tOf(i), last});
        }
    };
    follow(k0, -1);
    follow(k0, +1);
    std::sort(path.begin(), path.end(), [](const RearAt &a, const RearAt &b) { return a.t < b.t; });

    const auto atExit = fitAround(path, 0.0);
    if (!atExit)
        return fail("the vehicle was not followed through the exit loop's edge");
    const double rearAtExit = atExit->at(0.0);
    const double target = rearAtExit - exitLeadM;

    /* The latest pair of sightings that brackets the target, then the fit around it. */
    std::optional<double> guess;
    for (std::size_t i = path.size(); i-- > 1;)
        if (path[i - 1].rearM < target && path[i].rearM >= target && path[i].t <= 0.05) {
            const double span = path[i].rearM - path[i - 1].rearM;
            guess = path[i - 1].t +
                    (path[i].t - path[i - 1].t) * (target - path[i - 1].rearM) / span;
            break;
        }
    if (!guess)
        return fail("the rear was not followed back " + fmt(exitLeadM, 1) +
                    " m from where it was when the exit loop fired");
    /* The frames must surround the crossing without a stall. */
    double previous = path.front().t;
    for (const RearAt &s : path) {
        if (s.t > *guess - kFitHalfWindowS && s.t - previous > kLongestGapS)
            return fail("the camera missed " + fmt(s.t - previous, 2) +
                        " s while the vehicle crossed the line");
        previous = s.t;
    }
    std::optional<LocalFit> atLine;
    double tc = *guess;
    for (int iteration = 0; iteration < 3; ++iteration) {
        atLine = fitAround(path, tc);
        if (!atLine)
            return fail("too few sightings of the rear around the crossing");
        /* Newton steps on the local fit for rear(t) = target. */
        for (int n = 0; n < 4; ++n) {
            const double slope = atLine->slopeAt(tc);
            if (!(slope > 1e-3))
                break;
            tc -= (atLine->at(tc) - target) / slope;
        }
        tc = std::clamp(tc, *guess - 0.2, *guess + 0.2);
    }
    const double speed = atLine->slopeAt(tc);
    if (!(speed >= kSlowestMps))
        return fail("the vehicle crossed the line at " + fmt(speed, 2) +
                    " m/s, too slowly to date from its rear");

    /* Each rear position is good to its scatter about the fit (twice its standard error
     * at the point, which for a quadratic through n points is about sqrt(3/n) of the
     * scatter, with the scatter itself estimated) and the grid step. */
    auto positionError = [&](const LocalFit &fit) {
        return lane->stepM() + 2.0 * fit.rmsM * std::sqrt(3.0 / static_cast<double>(fit.points)) +
               0.5 * fit.rmsM;
    };
    const double uncertaintyS =
            (positionError(*atExit) + positionError(*atLine)) / speed + kEdgeStampS;
    const Nanos at = exitOn + static_cast<Nanos>(std::llround(tc * kNanosPerSecond));
    const Nanos u = static_cast<Nanos>(std::llround(uncertaintyS * kNanosPerSecond));
    out.dated = true;
    out.atNs = at;
    out.earliestNs = at - u;
    out.latestNs = at + u;
    out.speedMps = speed;
    /* Two such errors across the fit's window. */
    const double speedError = positionError(*atLine) / kFitHalfWindowS;
    out.speedLowMps = std::max(0.0, speed - speedError);
    out.speedHighMps = speed + speedError;
    out.vehicleLengthM = exitLeadM - rearAtExit;
    out.how = "camera: lane " + std::to_string(f.lane) + " rear " + fmt(rearAtExit, 2) +
              " m when the exit loop fired (its front at " + fmt(exitLeadM, 2) +
              " m), so at the line when the rear was at " + fmt(target, 2) + " m: " + fmt(-tc, 3) +
              " s before; " + std::to_string(path.size()) + " frames, scatter " +
              fmt(atLine->rmsM * 100, 1) + " cm, " + fmt(speed, 2) + " m/s at the line, ±" +
              fmt(uncertaintyS * 1000, 0) + " ms";
    return out;
}

} /* namespace stopline::pipeline */

#include "pipeline/evidence/vehicle_identity.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "pipeline/evidence/evidence_builder.h"

namespace stopline::pipeline {

namespace {

/* The lane views reach this far beyond the photo zones: a vehicle is followed from
 * before it enters a zone until after it leaves. */
constexpr double kViewBeforeM = 12, kViewAfterM = 14;
/* A vehicle unseen for longer than this (hidden, merged with another) is lost. */
constexpr Nanos kLostAfterNs = 300 * kNanosPerMilli;
/* The fastest a vehicle is followed at (100 mph): how far a rear may move between frames
 * before its speed is known. */
constexpr double kFastestMps = 45;
/* Sightings before a track counts as another vehicle in the zone. */
constexpr std::size_t kFewestSightings = 4;
/* Rears move forward; allow this much backwards jitter between frames. */
constexpr double kBackJitterM = 0.3;
/* Frames of the search span used for the background, besides the clip's. */
constexpr std::size_t kBackgroundEvery = 3;
/* The learnt background: a minute of frames at about one a second, its median
 * recomputed every few, used once it holds this many. */
constexpr std::size_t kBackgroundKeep = 60, kBackgroundRecompute = 4, kBackgroundEnough = 12;

std::string fmt1(double v)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

double seconds(Nanos ns)
{
    return static_cast<double>(ns) / kNanosPerSecond;
}

RoadSpan viewSpan(const CameraCalibration &c)
{
    return {std::min(c.redLightZone.fromM, c.speedZone.fromM) - kViewBeforeM,
            std::max(c.redLightZone.toM, c.speedZone.toM) + kViewAfterM};
}

} /* namespace */

double photoSpeedMph(const hal::Frame &a, double aRearM, const hal::Frame &b, double bRearM)
{
    const double s = seconds(b.stamp.sampleNs - a.stamp.sampleNs);
    return fromMetersPerSecond((bRearM - aRearM) / s, drivers::SpeedUnit::Mph);
}

VehicleBinder::VehicleBinder(CameraCalibration calibration, RearFinderOptions finder)
    : calibration_(std::move(calibration)),
      homography_(RoadHomography::fit(calibration_.points)), finder_(finder)
{
    if (auto problems = calibrationProblems(calibration_); !problems.empty())
        throw CalibrationError("camera " + calibration_.cameraId + ": " + problems.front());
    for (const LaneBand &lane : calibration_.lanes)
        views_.emplace_back(homography_, lane, viewSpan(calibration_),
                            cv::Size(static_cast<int>(calibration_.width), static_cast<int>(calibration_.height)));
}

const LaneView *VehicleBinder::view(unsigned lane) const
{
    for (const LaneView &v : views_)
        if (v.lane() == lane)
            return &v;
    return nullptr;
}

cv::Rect VehicleBinder::plateRegion(const LaneBand &lane, double alongM) const
{
    const double margin = 0.4;
    std::vector<cv::Point2d> corners;
    for (double along : {alongM - margin, alongM + 0.6})
        for (double across : {lane.fromM - margin, lane.toM + margin})
            if (auto p = homography_.toImage({along, across}))
                corners.push_back(*p);
    if (corners.size() < 4)
        return {};
    const double scale = homography_.pixelsPerMetreAcross({alongM, lane.middleM()});
    double x0 = corners[0].x, x1 = x0, y1 = corners[0].y;
    for (const auto &p : corners) {
        x0 = std::min(x0, p.x);
        x1 = std::max(x1, p.x);
        y1 = std::max(y1, p.y);
    }
    /* The bottom row is the nearest ground point; the plate sits at most about 1.3 m
     * above the road, which at that distance is 1.3 m of lane width in pixels. */
    const double y0 = y1 - (1.3 + margin) * scale;
    cv::Rect r(cv::Point(static_cast<int>(std::floor(x0)), static_cast<int>(std::floor(y0))),
               cv::Point(static_cast<int>(std::ceil(x1)), static_cast<int>(std::ceil(y1))));
    return r & cv::Rect(0, 0, static_cast<int>(calibration_.width),
                        static_cast<int>(calibration_.height));
}

void VehicleBinder::learnBackground(const hal::Frame &frame) const
{
    if (frame.width != static_cast<int>(calibration_.width) ||
        frame.height != static_cast<int>(calibration_.height))
        return;
    const cv::Mat bgr = toBgr(frame);
    std::vector<cv::Mat> samples;
    for (const LaneView &v : views_)
        samples.push_back(v.sample(bgr));
    std::vector<std::vector<cv::Mat>> copy;
    {
        std::lock_guard<std::mutex> guard(backgroundLock_);
        backgroundSamples_.push_back(std::move(samples));
        if (backgroundSamples_.size() > kBackgroundKeep)
            backgroundSamples_.pop_front();
        if (backgroundSamples_.size() < kBackgroundEnough || ++sinceMedian_ < kBackgroundRecompute)
            return;
        sinceMedian_ = 0;
        copy.assign(backgroundSamples_.begin(), backgroundSamples_.end());
    }
    auto medians = std::make_shared<std::vector<cv::Mat>>();
    for (std::size_t v = 0; v < views_.size(); ++v) {
        std::vector<cv::Mat> lane;
        for (const auto &s : copy)
            lane.push_back(s[v]);
        medians->push_back(medianBackground(lane));
    }
    std::lock_guard<std::mutex> guard(backgroundLock_);
    background_ = std::move(medians);
}

std::size_t VehicleBinder::backgroundSamples() const
{
    std::lock_guard<std::mutex> guard(backgroundLock_);
    return backgroundSamples_.size();
}

std::shared_ptr<const std::vector<cv::Mat>> VehicleBinder::learntBackground() const
{
    std::lock_guard<std::mutex> guard(backgroundLock_);
    return background_;
}

std::vector<std::vector<std::vector<VehicleRear>>>
VehicleBinder::observe(const std::vector<hal::FramePtr> &frames, const Snapshot &snapshot) const
{
    /* The empty road: learnt over the last minute, or until then the median of the
     * clip's frames and some of the search span's. */
    std::vector<cv::Mat> bgrs;
    for (const hal::FramePtr &f : frames)
        bgrs.push_back(toBgr(*f));
    const auto learnt = learntBackground();
    std::vector<cv::Mat> backgroundFrames;
    std::set<std::uint64_t> used;
    if (!learnt) {
        for (const hal::FramePtr &f : snapshot.range)
            if (used.insert(f->sequence).second)
                backgroundFrames.push_back(toBgr(*f));
        for (std::size_t i = 0; i < frames.size(); i += kBackgroundEvery)
            if (used.insert(frames[i]->sequence).second)
                backgroundFrames.push_back(bgrs[i]);
    }
    std::vector<std::vector<std::vector<VehicleRear>>> out;
    for (std::size_t i = 0; i < views_.size(); ++i) {
        const LaneView &v = views_[i];
        cv::Mat background;
        if (learnt) {
            background = (*learnt)[i];
        } else {
            std::vector<cv::Mat> samples;
            for (const cv::Mat &b : backgroundFrames)
                samples.push_back(v.sample(b));
            background = medianBackground(samples);
        }
        std::vector<std::vector<VehicleRear>> perFrame;
        for (const cv::Mat &b : bgrs)
            perFrame.push_back(v.findRears(v.sample(b), background, finder_));
        out.push_back(std::move(perFrame));
    }
    return out;
}

namespace {

struct Track
{
    std::vector<std::pair<std::size_t, double>> path; /* (frame, rear) */
    double speedMps = 0;                              /* latest estimate */
    bool open = true;
    bool speedKnown = false;
};

/* Follows vehicles through one lane's observations frame by frame: each rear joins the
 * track whose predicted position it is nearest (within a tolerance that grows with the
 * distance travelled per frame), else starts a track. */
std::vector<Track> followLane(const std::vector<std::vector<VehicleRear>> &seen,
                              const std::vector<hal::FramePtr> &frames,
                              std::optional<double> firstTrackSpeedMps = std::nullopt)
{
    std::vector<Track> tracks;
    for (std::size_t k = 0; k < seen.size(); ++k) {
        const Nanos t = frames[k]->stamp.sampleNs;
        std::vector<bool> taken(seen[k].size(), false);
        for (Track &tr : tracks) {
            if (!tr.open)
                continue;
            const auto &[lastK, lastRear] = tr.path.back();
            const double dt = seconds(t - frames[lastK]->stamp.sampleNs);
            if (dt * kNanosPerSecond > kLostAfterNs) {
                tr.open = false;
                continue;
            }
            /* Known speed: the rear nearest where it should be now. Unknown (a new
             * track): the nearest rear ahead that a vehicle could have reached. */
            const double predicted = tr.speedKnown ? lastRear + tr.speedMps * dt : lastRear;
            const double tolerance = tr.speedKnown ? 0.6 + 0.3 * tr.speedMps * dt
                                                   : kFastestMps * dt + kBackJitterM;
            int best = -1;
            double bestErr = tolerance;
            for (std::size_t i = 0; i < seen[k].size(); ++i) {
                const double r = seen[k][i].alongM;
                if (taken[i] || seen[k][i].clipped || r < lastRear - kBackJitterM)
                    continue;
                const double err = std::fabs(r - predicted);
                if (err <= bestErr) {
                    bestErr = err;
                    best = static_cast<int>(i);
                }
            }
            if (best < 0)
                continue;
            taken[best] = true;
            const double r = seen[k][best].alongM;
            if (dt > 0) {
                const auto &first = tr.path.front();
                const double span = seconds(t - frames[first.first]->stamp.sampleNs);
                if (span > 0.05) {
                    tr.speedMps = std::max(0.0, (r - first.second) / span);
                    tr.speedKnown = true;
                }
            }
            tr.path.push_back({k, r});
        }
        for (std::size_t i = 0; i < seen[k].size(); ++i)
            if (!taken[i] && !seen[k][i].clipped) {
                Track t{{{k, seen[k][i].alongM}}, 0, true, false};
                if (k == 0 && firstTrackSpeedMps && tracks.empty()) {
                    t.speedMps = *firstTrackSpeedMps;
                    t.speedKnown = true;
                }
                tracks.push_back(std::move(t));
            }
    }
    return tracks;
}

/* The first sighting at or past `along`, if any. */
const std::pair<std::size_t, double> *firstAtOrPast(const Track &t, double along)
{
    for (const auto &s : t.path)
        if (s.second >= along)
            return &s;
    return nullptr;
}

} /* namespace */

VehicleIdentity VehicleBinder::bind(const Decision &decision, const Snapshot &snapshot) const
{
    return decision.kind == ViolationKind::RedLight ? bindRedLight(decision, snapshot)
                                                    : bindSpeed(decision, snapshot);
}

VehicleIdentity VehicleBinder::bindRedLight(const Decision &d, const Snapshot &snapshot) const
{
    VehicleIdentity id;
    id.method = "loops+image";
    id.zone = calibration_.redLightZone;
    const RedLightFacts &f = *d.redLight;
    id.lane = f.lane;
    const LaneView *lane = view(f.lane);
    auto refuse = [&](Reason r, std::string why) {
        id.reason = r;
        id.why = std::move(why);
        return id;
    };
    if (!lane)
        return refuse(Reason::VehicleNotInView,
                      "lane " + std::to_string(f.lane) + " is not in the camera calibration");
    if (snapshot.keyFrames.empty() || !snapshot.keyFrames[0])
        return refuse(Reason::VehicleNotInView, "no frame at the crossing");

    /* The A-frame first, then every frame of the search span after it. */
    std::vector<hal::FramePtr> frames{snapshot.keyFrames[0]};
    for (const hal::FramePtr &fr : snapshot.search)
        if (fr->stamp.sampleNs > frames.front()->stamp.sampleNs)
            frames.push_back(fr);
    id.searchedFromNs = frames.front()->stamp.sampleNs;
    id.searchedToNs = frames.back()->stamp.sampleNs;
    const auto seen = observe(frames, snapshot);
    const auto &mine = seen[static_cast<std::size_t>(lane - views_.data())];

    /* Where the loops put the vehicle in the A-frame: its front at the line (moved on by
     * the frame's offset), its rear a vehicle length behind, the length from how long it
     * covered the entry loop. */
    const double v = std::max(f.speedAtLineMps, 0.5);
    const double frontA = v * seconds(frames.front()->stamp.sampleNs - f.crossingNs);
    std::optional<double> length;
    if (f.vehicleLengthM > 0) {
        length = f.vehicleLengthM; /* the camera measured it when it dated the crossing */
    } else if (f.entryOffNs && f.crossing.entryLengthM > 0) {
        const double l = v * seconds(f.entryOffNs - f.crossing.entryOnNs) - f.crossing.entryLengthM;
        if (l > 1 && l < 30)
            length = l;
    }
    /* With the vehicle's length from the loops, its rear is where a run begins near
     * `frontA - length`; a run that begins elsewhere is another vehicle or a part of this
     * one (a body the colour of the road shows only its shadow and glass). Without the
     * length, the run that reaches the line is the vehicle, its start the rear unless
     * longer than any vehicle (one behind merges with it). */
    const std::vector<VehicleRear> &atA = mine.front();
    double rearA = 0;
    if (length) {
        const double predicted = frontA - *length;
        const VehicleRear *best = nullptr;
        for (const VehicleRear &r : atA)
            if (!r.clipped && std::fabs(r.alongM - predicted) <= 1.2 &&
                (!best || std::fabs(r.alongM - predicted) < std::fabs(best->alongM - predicted)))
                best = &r;
        bool occupied = false;
        for (const VehicleRear &r : atA)
            occupied = occupied || (r.alongM <= frontA + 1.0 && r.alongM + r.seenM >= predicted);
        if (!best && !occupied)
            return refuse(Reason::VehicleNotInView,
                          "nothing at the stop line in lane " + std::to_string(f.lane) +
                                  " in the crossing frame");
        rearA = best ? best->alongM : predicted;
    } else {
        const VehicleRear *run = nullptr;
        for (const VehicleRear &r : atA)
            if (r.alongM <= frontA + 1.0 && r.alongM + r.seenM >= frontA - 0.5)
                run = &r;
        if (!run)
            return refuse(Reason::VehicleNotInView,
                          "nothing at the stop line in lane " + std::to_string(f.lane) +
                                  " in the crossing frame");
        if (run->clipped)
            return refuse(Reason::VehicleNotInView,
                          "the rear of the vehicle at the line is out of the image");
        if (frontA - run->alongM > 13.5)
            return refuse(Reason::IdentityAmbiguous,
                          "the vehicle at the line is not separable from the one behind it");
        rearA = run->alongM;
    }
    if (!id.zone.contains(rearA))
        return refuse(Reason::VehicleNotInView, "the vehicle's rear (" + fmt1(rearA) +
                                                        " m) is outside the photo zone at "
                                                        "the crossing");

    /* Follow that rear to the B position. */
    std::vector<std::vector<VehicleRear>> rest(mine.begin(), mine.end());
    rest[0] = {{rearA, 1}};
    std::vector<Track> tracks = followLane(rest, frames, v);
    const Track *accused = nullptr;
    for (const Track &t : tracks)
        if (t.path.front().first == 0)
            accused = &t;
    const auto *atB = accused ? firstAtOrPast(*accused, calibration_.bShotRearPastLineM) : nullptr;
    if (!atB)
        return refuse(Reason::VehicleNotInView,
                      "the vehicle was not seen " + fmt1(calibration_.bShotRearPastLineM) +
                              " m past the line within " +
                              fmt1(seconds(id.searchedToNs - id.searchedFromNs)) + " s");
    if (!id.zone.contains(atB->second))
        return refuse(Reason::VehicleNotInView, "the vehicle left the photo zone between frames");
    id.a = frames.front();
    id.b = frames[atB->first];
    for (const auto &q : accused->path)
        if (q.first > atB->first && id.zone.contains(q.second))
            id.laterB.push_back({frames[q.first], q.second});
    id.aRearM = rearA;
    id.bRearM = atB->second;
    id.aRegion = plateRegion(lane->band(), rearA);
    id.bRegion = plateRegion(lane->band(), atB->second);
    id.vehiclesSeen = 1;
    id.why = "lane " + std::to_string(f.lane) + ": rear at " + fmt1(rearA) + " m at the crossing, " +
             fmt1(id.bRearM) + " m in the B-shot";
    return id;
}

VehicleIdentity VehicleBinder::bindSpeed(const Decision &d, const Snapshot &snapshot) const
{
    VehicleIdentity id;
    id.method = "radar+image";
    id.zone = calibration_.speedZone;
    const SpeedFacts &f = *d.speed;
    id.radarSpeedMph = convertSpeed(f.correctedSpeed, f.unit, drivers::SpeedUnit::Mph);
    auto refuse = [&](Reason r, std::string why) {
        id.reason = r;
        id.why = std::move(why);
        return id;
    };
    const std::vector<hal::FramePtr> &frames = snapshot.search;
    if (frames.size() < 2)
        return refuse(Reason::VehicleNotInView, "no frames while the vehicle could be in the "
                                                "photo zone");
    id.searchedFromNs = frames.front()->stamp.sampleNs;
    id.searchedToNs = frames.back()->stamp.sampleNs;
    const auto seen = observe(frames, snapshot);

    struct Candidate
    {
        std::size_t view;
        const Track *track;
        std::pair<std::size_t, double> a, b;
        double mph;
    };
    std::vector<std::vector<Track>> tracks;
    for (const auto &lane : seen)
        tracks.push_back(followLane(lane, frames));
    /* Could this track be the vehicle the radar measured? Not when it was followed long
     * enough to know its speed and that speed is not the radar's. */
    auto couldBeMeasured = [&](const Track &t) {
        const auto &first = t.path.front(), &last = t.path.back();
        const double span = seconds(frames[last.first]->stamp.sampleNs -
                                    frames[first.first]->stamp.sampleNs);
        if (span < 0.25)
            return true;
        const double mph = fromMetersPerSecond((last.second - first.second) / span,
                                               drivers::SpeedUnit::Mph);
        return std::fabs(mph - id.radarSpeedMph) <= 2 * calibration_.photoSpeedToleranceMph;
    };
    /* Who else is in the zone in frame k and could have been measured. */
    auto othersInZone = [&](std::size_t k, const Track *except) {
        unsigned n = 0;
        for (const auto &lane : tracks)
            for (const Track &t : lane) {
                /* A vehicle in the zone is seen in many frames (0.8 s at 45 mph); a
                 * run seen in a few is a fragment of one, not another vehicle. */
                if (&t == except || t.path.size() < kFewestSightings || !couldBeMeasured(t))
                    continue;
                for (const auto &s : t.path)
                    if (s.first == k && id.zone.contains(s.second))
                        ++n;
            }
        return n;
    };
    std::vector<Candidate> inZone, matching;
    for (std::size_t v = 0; v < tracks.size(); ++v)
        for (const Track &t : tracks[v]) {
            const std::pair<std::size_t, double> *a = nullptr;
            for (const auto &s : t.path)
                if (id.zone.contains(s.second)) {
                    a = &s;
                    break;
                }
            if (!a)
                continue;
            const auto *b = firstAtOrPast(t, a->second + calibration_.speedBShotDistanceM);
            if (!b || !id.zone.contains(b->second)) {
                inZone.push_back({v, &t, *a, *a, -1});
                continue;
            }
            std::size_t sightings = 0;
            for (const auto &q : t.path)
                sightings += q.first >= a->first && q.first <= b->first;
            if (2 * sightings < b->first - a->first + 1) {
                inZone.push_back({v, &t, *a, *a, -1});
                continue;
            }
            Candidate c{v, &t, *a, *b,
                        photoSpeedMph(*frames[a->first], a->second, *frames[b->first],
                                      b->second)};
            inZone.push_back(c);
            if (std::fabs(c.mph - id.radarSpeedMph) <= calibration_.photoSpeedToleranceMph)
                matching.push_back(c);
        }
    id.vehiclesSeen = static_cast<unsigned>(inZone.size());
    if (inZone.empty())
        return refuse(Reason::VehicleNotInView,
                      "no vehicle entered the photo zone between " +
                              fmt1(seconds(id.searchedFromNs - d.eventNs)) + " and " +
                              fmt1(seconds(id.searchedToNs - d.eventNs)) +
                              " s after the radar measurement");
    if (matching.size() > 1)
        return refuse(Reason::IdentityAmbiguous,
                      std::to_string(matching.size()) +
                              " vehicles in the photo zone move at the radar's speed");
    if (matching.empty()) {
        std::string speeds;
        bool measured = false;
        for (const Candidate &c : inZone)
            if (c.mph >= 0) {
                speeds += (measured ? ", " : "") + fmt1(c.mph);
                measured = true;
            }
        if (!measured)
            return refuse(Reason::VehicleNotInView,
                          "no vehicle could be followed " +
                                  fmt1(calibration_.speedBShotDistanceM) +
                                  " m through the photo zone");
        return refuse(Reason::PhotoSpeedMismatch, "photo speed " + speeds + " mph, radar " +
                                                          fmt1(id.radarSpeedMph) + " mph");
    }
    const Candidate &c = matching.front();
    id.lane = views_[c.view].lane();
    id.photoSpeedMph = c.mph;
    if (othersInZone(c.a.first, c.track) || othersInZone(c.b.first, c.track))
        return refuse(Reason::IdentityAmbiguous,
                      "another vehicle is in the photo zone with the one in lane " +
                              std::to_string(id.lane));
    id.a = frames[c.a.first];
    id.b = frames[c.b.first];
    for (const auto &q : c.track->path)
        if (q.first > c.b.first && id.zone.contains(q.second))
            id.laterB.push_back({frames[q.first], q.second});
    id.aRearM = c.a.second;
    id.bRearM = c.b.second;
    id.aRegion = plateRegion(views_[c.view].band(), c.a.second);
    id.bRegion = plateRegion(views_[c.view].band(), c.b.second);
    id.why = "lane " + std::to_string(id.lane) + ": rear at " + fmt1(id.aRearM) + " m, then " +
             fmt1(id.bRearM) + " m " +
             fmt1(seconds(id.b->stamp.sampleNs - id.a->stamp.sampleNs)) + " s later: " +
             fmt1(c.mph) + " mph (radar " + fmt1(id.radarSpeedMph) + " mph)";
    return id;
}

} /* namespace stopline::pipeline */

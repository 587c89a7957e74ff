#include "pipeline/evidence/evidence_builder.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "evidence/crypto.h"
#include "evidence/version.h"

namespace stopline::pipeline {

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point start)
{
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::int64_t micros(Nanos ns)
{
    /* Round to the nearest microsecond: the record's time fields are in µs. */
    return ns >= 0 ? (ns + 500) / 1000 : -((-ns + 500) / 1000);
}

void fillHeader(evidence::Record *r, const SiteIdentity &site, const CaptureContext &context)
{
    *r->mutable_created() = instantAt(monotonicNow(), context);
    *r->mutable_clock() = context.clock;
    r->set_software_version(site.softwareVersion.empty() ? kSoftwareVersion : site.softwareVersion);
    r->set_config_hash(site.configHash);
    r->set_calibration_id(site.calibrationId);
    r->set_device_serial(site.deviceSerial);
}

/* One encoded picture of the record, and the pixels it came from (for plate crops). */
struct Shot
{
    hal::FramePtr frame;
    cv::Mat bgr;
    evidence::Frame *proto = nullptr;
};

evidence::Frame *addFrame(evidence::Violation *v, evidence::FrameRole role, const hal::Frame &frame,
                          const cv::Mat &image, int quality, const CaptureContext &context)
{
    evidence::Frame *f = v->add_frames();
    f->set_role(role);
    *f->mutable_captured() = instantAt(frame.stamp.sampleNs, context);
    f->set_encoding("jpeg");
    f->set_width(static_cast<std::uint32_t>(image.cols));
    f->set_height(static_cast<std::uint32_t>(image.rows));
    f->set_data(encodeJpeg(image, quality));
    f->set_sha256(evidence::sha256(f->data()));
    f->set_sequence(frame.sequence);
    return f;
}

void addPlates(evidence::Violation *v, const std::vector<Shot *> &shots,
               const std::vector<std::vector<PlateBox>> &found, const EvidenceOptions &options,
               const CaptureContext &context)
{
    /* Scores only order candidates within one image, so the shots take turns: the
     * A-shot's best first, then the B-shot's best, then the runners-up. */
    int taken = 0;
    for (std::size_t rank = 0; taken < options.plateCandidates; ++rank) {
        bool any = false;
        for (std::size_t i = 0; i < shots.size() && taken < options.plateCandidates; ++i) {
            if (rank >= found[i].size())
                continue;
            any = true;
            const PlateBox &p = found[i][rank];
            const cv::Mat &image = shots[i]->bgr;
            cv::Rect box = p.box & cv::Rect(0, 0, image.cols, image.rows);
            if (box.empty())
                continue;
            int mx = static_cast<int>(std::lround(box.width * options.cropMargin));
            int my = static_cast<int>(std::lround(box.height * options.cropMargin));
            cv::Rect crop =
                    cv::Rect(box.x - mx, box.y - my, box.width + 2 * mx, box.height + 2 * my) &
                    cv::Rect(0, 0, image.cols, image.rows);

            evidence::PlateCandidate *c = v->mutable_plate()->add_candidates();
            c->mutable_box()->set_x(box.x);
            c->mutable_box()->set_y(box.y);
            c->mutable_box()->set_width(box.width);
            c->mutable_box()->set_height(box.height);
            c->set_score(p.score);
            c->set_source_sha256(shots[i]->proto->sha256());
            evidence::Frame *f = c->mutable_crop();
            f->set_role(evidence::FRAME_PLATE_CROP);
            *f->mutable_captured() = instantAt(shots[i]->frame->stamp.sampleNs, context);
            f->set_encoding("jpeg");
            f->set_width(static_cast<std::uint32_t>(crop.width));
            f->set_height(static_cast<std::uint32_t>(crop.height));
            f->set_data(encodeJpeg(image(crop), options.cropJpegQuality));
            f->set_sha256(evidence::sha256(f->data()));
            f->set_sequence(shots[i]->frame->sequence);
            ++taken;
        }
        if (!any)
            break;
    }
}

evidence::Box toBox(const cv::Rect &r)
{
    evidence::Box b;
    b.set_x(r.x);
    b.set_y(r.y);
    b.set_width(r.width);
    b.set_height(r.height);
    return b;
}

void fillIdentity(evidence::Violation *v, const VehicleIdentity &id, double toleranceMph,
                  const std::string &calibration, const CaptureContext &context)
{
    evidence::VehicleIdentity *out = v->mutable_identity();
    out->set_method(id.method);
    out->set_lane(id.lane);
    out->set_a_rear_along_m(id.aRearM);
    out->set_b_rear_along_m(id.bRearM);
    *out->mutable_a_plate_region() = toBox(id.aRegion);
    *out->mutable_b_plate_region() = toBox(id.bRegion);
    out->set_zone_from_m(id.zone.fromM);
    out->set_zone_to_m(id.zone.toM);
    if (id.photoSpeedMph) {
        out->set_photo_speed_mph(*id.photoSpeedMph);
        out->set_radar_speed_mph(id.radarSpeedMph);
        out->set_photo_speed_tolerance_mph(toleranceMph);
    }
    *out->mutable_searched_from() = instantAt(id.searchedFromNs, context);
    *out->mutable_searched_to() = instantAt(id.searchedToNs, context);
    out->set_vehicles_in_zone(id.vehiclesSeen);
    out->set_explanation(id.why);
    out->set_calibration(calibration);
}

evidence::RadarSample toSample(const SpeedSample &s, double speed, const CaptureContext &context)
{
    evidence::RadarSample out;
    *out.mutable_at() = instantAt(s.atNs, context);
    out.set_speed(speed);
    out.set_magnitude(s.magnitude);
    out.set_target_index(s.targetIndex);
    if (s.sensorTimeS)
        out.set_sensor_time_s(*s.sensorTimeS);
    return out;
}

void fillRedLight(evidence::Violation *v, const Decision &d, const Shot *b,
                  const SiteIdentity &site, const CaptureContext &context)
{
    const RedLightFacts &f = *d.redLight;
    v->set_type(evidence::RED_LIGHT);
    v->set_statute_code(site.redLightStatute);
    v->set_statute_description(site.redLightDescription);
    v->mutable_location()->set_lane(f.lane);

    evidence::SignalTimeline *s = v->mutable_signal();
    s->set_head(f.head);
    for (const drivers::PhaseChange &c : f.timeline) {
        evidence::PhaseChange *p = s->add_changes();
        p->set_head(c.head);
        p->set_phase(toProto(c.phase));
        *p->mutable_at() = instantAt(c.at.sampleNs, context);
    }
    s->set_measured_yellow_us(micros(f.measuredYellowNs));
    s->set_measured_all_red_us(micros(f.allRedNs));
    *s->mutable_red_onset() = instantAt(f.redOnsetNs, context);
    s->set_time_into_red_a_us(micros(f.timeIntoRedNs));
    Nanos bAt = b ? b->frame->stamp.sampleNs : d.plan.bShotNs;
    s->set_time_into_red_b_us(micros(bAt - f.redOnsetNs));
    s->set_grace_us(micros(f.graceNs));
    s->set_minimum_yellow_us(micros(f.minYellowNs));
    s->set_time_into_red_uncertainty_us(micros(f.timeIntoRedUncertaintyNs));

    const double lineMph = fromMetersPerSecond(f.speedAtLineMps, drivers::SpeedUnit::Mph);
    evidence::LoopCrossing *l = v->mutable_crossing();
    l->set_lane(f.lane);
    *l->mutable_entry_on() = instantAt(f.crossing.entryOnNs, context);
    *l->mutable_exit_on() = instantAt(f.crossing.exitOnNs, context);
    l->set_speed(lineMph);
    l->set_spacing_m(f.crossing.spacingM);
    if (f.entryOffNs)
        *l->mutable_entry_off() = instantAt(f.entryOffNs, context);
    if (f.exitOffNs)
        *l->mutable_exit_off() = instantAt(f.exitOffNs, context);
    *l->mutable_crossing_earliest() = instantAt(f.crossingEarliestNs, context);
    *l->mutable_crossing_latest() = instantAt(f.crossingLatestNs, context);
    l->set_crossing_method(f.crossingMethod);
    l->set_stopped_on_loops(f.stoppedOnLoops);
    l->set_camera_dating(f.cameraDating);
    l->set_stop_line_from_entry_m(f.stopLineFromEntryM);
    l->set_speed_low(fromMetersPerSecond(f.speedAtLineLowMps, drivers::SpeedUnit::Mph));
    l->set_speed_high(fromMetersPerSecond(f.speedAtLineHighMps, drivers::SpeedUnit::Mph));

    /* Speed at the line: the loop pair's figure; radar samples of the stop check. */
    evidence::SpeedMeasurement *m = v->mutable_speed();
    m->set_unit(evidence::MPH);
    for (const SpeedSample &sample : f.radarSamples)
        *m->add_samples() = toSample(
                sample, convertSpeed(sample.speed, f.radarUnit, drivers::SpeedUnit::Mph), context);
    m->set_measured_speed(lineMph);
    m->set_corrected_speed(lineMph);
    m->set_loop_speed(lineMph);
    m->set_targets_in_beam(f.radarSamples.empty() ? 0 : 1);

    v->set_turn_policy(turnPolicyName(f.turnPolicy));
    v->set_turned_right(f.turnedRight);
    v->set_qualified(f.qualified);
}

void fillSpeed(evidence::Violation *v, const Decision &d, const SiteIdentity &site,
               const CaptureContext &context)
{
    const SpeedFacts &f = *d.speed;
    v->set_type(evidence::SCHOOL_ZONE_SPEED);
    v->set_statute_code(site.speedStatute);
    v->set_statute_description(site.speedDescription);

    evidence::SpeedMeasurement *m = v->mutable_speed();
    for (const SpeedSample &s : f.samples)
        *m->add_samples() = toSample(s, s.speed, context);
    m->set_unit(toProto(f.unit));
    m->set_cosine_angle_deg(f.cosineAngleDeg);
    m->set_measured_speed(f.measuredSpeed);
    m->set_corrected_speed(f.correctedSpeed);
    m->set_posted_limit(f.limit);
    m->set_threshold_over(f.thresholdOver);
    m->set_spread(f.spread);
    m->set_targets_in_beam(f.targetsInBeam);
    m->set_multi_target_policy(f.multiTargetPolicy);
    m->set_longest_gap_us(micros(f.longestGapNs));

    evidence::SchoolZoneState *z = v->mutable_school_zone();
    z->set_beacon_flashing(f.beaconFlashing);
    if (f.beaconFlashing)
        *z->mutable_flashing_since() = instantAt(f.beaconSinceNs, context);
    z->set_calendar_entry(f.calendarEntry);
    z->set_school_in_session(f.schoolInSession);
    z->set_enforcement_window(f.enforcementWindow);
}

} /* namespace */

SnapshotRequest snapshotRequestFor(const Decision &decision, const EvidenceOptions &options)
{
    SnapshotRequest r;
    r.keyTimes = {decision.plan.aShotNs, decision.plan.bShotNs};
    r.rangeFrom = decision.plan.clipFromNs;
    r.rangeTo = decision.plan.clipToNs;
    r.rangeSpacingNs = options.clipFps > 0
                               ? static_cast<Nanos>(std::llround(kNanosPerSecond / options.clipFps))
                               : 0;
    r.searchFrom = decision.plan.searchFromNs;
    r.searchTo = decision.plan.searchToNs;
    if (decision.plan.dating()) { /* one span of every frame holds both */
        if (r.searchFrom > r.searchTo) {
            r.searchFrom = decision.plan.datingFromNs;
            r.searchTo = decision.plan.datingToNs;
        } else {
            r.searchFrom = std::min(r.searchFrom, decision.plan.datingFromNs);
            r.searchTo = std::max(r.searchTo, decision.plan.datingToNs);
        }
    }
    r.timeoutNs = options.snapshotTimeoutNs;
    return r;
}

evidence::Instant instantAt(Nanos monotonicNs, const CaptureContext &context)
{
    evidence::Instant i;
    i.set_monotonic_ns(monotonicNs);
    i.set_utc_ns(monotonicNs + context.utcMinusMonotonicNs);
    return i;
}

namespace {

void checkPixels(const hal::Frame &frame)
{
    if (!frame.data || frame.width <= 0 || frame.height <= 0)
        throw EvidenceError("frame " + std::to_string(frame.sequence) + " has no pixels");
    const std::size_t need = hal::frameBytes(frame.format, frame.width, frame.height);
    if (frame.size && frame.size < need)
        throw EvidenceError("frame " + std::to_string(frame.sequence) + " holds " +
                            std::to_string(frame.size) + " bytes, needs " + std::to_string(need));
}

} /* namespace */

cv::Mat toBgr(const hal::Frame &frame)
{
    checkPixels(frame);
    const std::size_t step = frame.stride > 0 ? static_cast<std::size_t>(frame.stride)
                                              : static_cast<std::size_t>(cv::Mat::AUTO_STEP);
    switch (frame.format) {
    case hal::PixelFormat::BGR888:
        return cv::Mat(frame.height, frame.width, CV_8UC3, frame.data, step);
    case hal::PixelFormat::GRAY8: {
        cv::Mat gray(frame.height, frame.width, CV_8UC1, frame.data, step);
        cv::Mat bgr;
        cv::cvtColor(gray, bgr, cv::COLOR_GRAY2BGR);
        return bgr;
    }
    case hal::PixelFormat::YUV420: {
        cv::Mat yuv(frame.height * 3 / 2, frame.width, CV_8UC1, frame.data, step);
        cv::Mat bgr;
        cv::cvtColor(yuv, bgr, cv::COLOR_YUV2BGR_I420);
        return bgr;
    }
    }
    throw EvidenceError("frame " + std::to_string(frame.sequence) + " has an unknown format");
}

cv::Mat clipImage(const hal::Frame &frame, int width)
{
    if (width <= 0 || frame.width <= width)
        return toBgr(frame);
    cv::Mat bgr;
    /* Exact halvings with INTER_AREA (OpenCV's fast 2x box path), then one bilinear
     * step of less than 2x: a fraction of the cost of one INTER_AREA at 3x, alike to
     * the eye. YUV420 is halved plane by plane before conversion, so only the small
     * image is converted. */
    checkPixels(frame);
    if (frame.format == hal::PixelFormat::YUV420 && frame.width % 4 == 0 && frame.height % 4 == 0 &&
        frame.width / 2 >= width) {
        const int s = frame.stride > 0 ? frame.stride : frame.width;
        int w = frame.width, h = frame.height;
        cv::Mat y(h, w, CV_8UC1, frame.data, s);
        cv::Mat u(h / 2, w / 2, CV_8UC1, frame.data + std::size_t(s) * h, s / 2);
        cv::Mat v(h / 2, w / 2, CV_8UC1,
                  frame.data + std::size_t(s) * h + std::size_t(s / 2) * (h / 2), s / 2);
        cv::Mat i420;
        while (w / 2 >= width && w % 4 == 0 && h % 4 == 0) {
            const cv::Mat previous = i420; /* y, u, v may view it: keep it alive */
            w /= 2;
            h /= 2;
            i420 = cv::Mat(h * 3 / 2, w, CV_8UC1);
            cv::Mat ny(h, w, CV_8UC1, i420.data);
            cv::Mat nu(h / 2, w / 2, CV_8UC1, i420.data + std::size_t(w) * h);
            cv::Mat nv(h / 2, w / 2, CV_8UC1,
                       i420.data + std::size_t(w) * h + std::size_t(w / 2) * (h / 2));
            cv::resize(y, ny, ny.size(), 0, 0, cv::INTER_AREA);
            cv::resize(u, nu, nu.size(), 0, 0, cv::INTER_AREA);
            cv::resize(v, nv, nv.size(), 0, 0, cv::INTER_AREA);
            y = ny;
            u = nu;
            v = nv;
        }
        cv::cvtColor(i420, bgr, cv::COLOR_YUV2BGR_I420);
    } else {
        bgr = toBgr(frame);
        while (bgr.cols / 2 >= width) {
            cv::Mat half;
            cv::resize(bgr, half, cv::Size(bgr.cols / 2, bgr.rows / 2), 0, 0, cv::INTER_AREA);
            bgr = half;
        }
    }
    if (bgr.cols == width)
        return bgr;
    int height = std::max(1, static_cast<int>(std::lround(double(bgr.rows) * width / bgr.cols)));
    cv::Mat out;
    cv::resize(bgr, out, cv::Size(width, height), 0, 0, cv::INTER_LINEAR);
    return out;
}

std::string encodeJpeg(const cv::Mat &image, int quality)
{
    std::vector<unsigned char> buffer;
    std::vector<int> params{cv::IMWRITE_JPEG_QUALITY, std::clamp(quality, 1, 100)};
    if (image.empty() || !cv::imencode(".jpg", image, buffer, params))
        throw EvidenceError("cannot encode a " + std::to_string(image.cols) + "x" +
                            std::to_string(image.rows) + " image as JPEG");
    return std::string(buffer.begin(), buffer.end());
}

std::vector<PlateBox> locateInRegion(const PlateLocator &locator, const cv::Mat &bgr,
                                     const cv::Rect &region)
{
    const cv::Rect r = region & cv::Rect(0, 0, bgr.cols, bgr.rows);
    if (r.empty())
        return {};
    std::vector<PlateBox> found = locator.locate(bgr(r));
    for (PlateBox &p : found)
        p.box += r.tl();
    return found;
}

BoundShots bindShots(const VehicleBinder &binder, const PlateLocator &locator,
                     const Decision &decision, const Snapshot &snapshot, bool locateOnBShot)
{
    BoundShots out;
    out.identity = binder.bind(decision, snapshot);
    out.toleranceMph = binder.calibration().photoSpeedToleranceMph;
    out.calibration = describeCalibration(binder.calibration(), binder.homography());
    VehicleIdentity &id = out.identity;
    if (!id.bound())
        return out;
    out.aPlates = locateInRegion(locator, toBgr(*id.a), id.aRegion);
    if (id.b && locateOnBShot)
        out.bPlates = locateInRegion(locator, toBgr(*id.b), id.bRegion);
    /* Neither shot shows the plate readably (glare, a frame the locator misses): a later
     * frame of the same vehicle, still in the zone, becomes the B-shot. */
    const LaneBand *lane = binder.calibration().findLane(id.lane);
    for (std::size_t i = 0; out.aPlates.empty() && out.bPlates.empty() && lane &&
                            locateOnBShot && i < id.laterB.size();
         ++i) {
        const auto &[frame, rear] = id.laterB[i];
        const cv::Rect region = binder.plateRegion(*lane, rear);
        std::vector<PlateBox> found = locateInRegion(locator, toBgr(*frame), region);
        if (found.empty())
            continue;
        if (id.photoSpeedMph) {
            const double mph = photoSpeedMph(*id.a, id.aRearM, *frame, rear);
            if (std::fabs(mph - id.radarSpeedMph) > binder.calibration().photoSpeedToleranceMph)
                continue;
            id.photoSpeedMph = mph;
        }
        id.b = frame;
        id.bRearM = rear;
        id.bRegion = region;
        out.bPlates = std::move(found);
        id.why += "; the plate read in a later frame, " +
                  std::to_string((id.b->stamp.sampleNs - id.a->stamp.sampleNs) / kNanosPerMilli) +
                  " ms after the A-shot";
    }
    if (out.aPlates.empty() && out.bPlates.empty()) {
        id.reason = Reason::PlateNotFound;
        id.why += "; no plate in the vehicle's image region of either shot";
    }
    return out;
}

evidence::Record buildViolationRecord(const Decision &decision, const Snapshot &snapshot,
                                      const SiteIdentity &site, const CaptureContext &context,
                                      const EvidenceOptions &options, const PlateLocator &locator,
                                      BuildStats *stats, const BoundShots *bound)
{
    const Clock::time_point start = Clock::now();
    BuildStats local;
    BuildStats &st = stats ? *stats : local;
    st = {};
    if (decision.kind == ViolationKind::RedLight && !decision.redLight)
        throw EvidenceError("red-light decision " + std::to_string(decision.id) + " has no facts");
    if (decision.kind == ViolationKind::SchoolZoneSpeed && !decision.speed)
        throw EvidenceError("speed decision " + std::to_string(decision.id) + " has no facts");
    if (!bound && (snapshot.keyFrames.empty() || !snapshot.keyFrames[0]))
        throw EvidenceError("no camera frame near the event of decision " +
                            std::to_string(decision.id) + " (snapshot " +
                            snapshotStatusName(snapshot.status) + ")");

    evidence::Record record;
    fillHeader(&record, site, context);
    evidence::Violation *v = record.mutable_violation();
    *v->mutable_location() = site.location;
    *v->mutable_event() = instantAt(decision.eventNs, context);
    if (context.radar)
        *v->mutable_radar() = *context.radar;
    if (context.latestSelfCheck)
        *v->mutable_latest_self_check() = *context.latestSelfCheck;

    Clock::time_point t = Clock::now();
    const hal::FramePtr aFrame = bound ? bound->identity.a : snapshot.keyFrames[0];
    hal::FramePtr bFrame = bound ? bound->identity.b : nullptr;
    if (!bound && snapshot.keyFrames.size() > 1)
        bFrame = snapshot.keyFrames[1];
    if (!aFrame)
        throw EvidenceError("decision " + std::to_string(decision.id) + " has no A-shot frame");
    Shot a{aFrame, toBgr(*aFrame)};
    a.proto =
            addFrame(v, evidence::FRAME_A_SHOT, *a.frame, a.bgr, options.shotJpegQuality, context);
    a.proto->set_offset_from_planned_us(micros(a.frame->stamp.sampleNs - decision.plan.aShotNs));
    std::optional<Shot> b;
    if (bFrame) {
        b.emplace();
        b->frame = bFrame;
        b->bgr = toBgr(*b->frame);
        b->proto = addFrame(v, evidence::FRAME_B_SHOT, *b->frame, b->bgr, options.shotJpegQuality,
                            context);
        b->proto->set_offset_from_planned_us(
                micros(b->frame->stamp.sampleNs - decision.plan.bShotNs));
    }
    st.shotsMs = msSince(t);

    t = Clock::now();
    std::vector<Shot *> shots{&a};
    if (b && (options.locateOnBShot || bound))
        shots.push_back(&*b);
    std::vector<std::vector<PlateBox>> found;
    if (bound) {
        found = {bound->aPlates, bound->bPlates};
        found.resize(shots.size());
    } else {
        for (Shot *s : shots)
            found.push_back(locator.locate(s->bgr));
    }
    addPlates(v, shots, found, options, context);
    st.plateMs = msSince(t);

    t = Clock::now();
    v->set_clip_fps(options.clipFps > 0 ? options.clipFps : 0);
    v->set_clip_width(static_cast<uint32_t>(std::max(options.clipWidth, 0)));
    for (const hal::FramePtr &frame : snapshot.range) {
        addFrame(v, evidence::FRAME_CLIP, *frame, clipImage(*frame, options.clipWidth),
                 options.clipJpegQuality, context);
        ++st.clipFrames;
    }
    st.clipMs = msSince(t);

    if (decision.kind == ViolationKind::RedLight)
        fillRedLight(v, decision, b ? &*b : nullptr, site, context);
    else
        fillSpeed(v, decision, site, context);
    if (bound) {
        fillIdentity(v, bound->identity, bound->toleranceMph, bound->calibration, context);
        if (bound->identity.lane)
            v->mutable_location()->set_lane(bound->identity.lane);
    }

    for (const evidence::Frame &f : v->frames())
        st.bytes += f.data().size();
    for (const evidence::PlateCandidate &c : v->plate().candidates())
        st.bytes += c.crop().data().size();
    st.totalMs = msSince(start);
    return record;
}

evidence::RadarIdentity toProto(const RadarInfo &radar)
{
    evidence::RadarIdentity r;
    r.set_product(radar.product);
    r.set_version(radar.version);
    r.set_build(radar.build);
    r.set_uid(radar.uid);
    r.set_reset_reason(radar.resetReason);
    r.set_frequency_ghz(radar.frequencyGhz);
    r.set_serial_port(radar.serialPort);
    return r;
}

evidence::SpeedUnit toProto(drivers::SpeedUnit unit)
{
    switch (unit) {
    case drivers::SpeedUnit::Mph:
        return evidence::MPH;
    case drivers::SpeedUnit::Kmh:
        return evidence::KMH;
    case drivers::SpeedUnit::MetersPerSecond:
        return evidence::METERS_PER_SECOND;
    case drivers::SpeedUnit::FeetPerSecond:
        return evidence::FEET_PER_SECOND;
    case drivers::SpeedUnit::CentimetersPerSecond:
        return evidence::CENTIMETERS_PER_SECOND;
    }
    return evidence::SPEED_UNIT_UNSPECIFIED;
}

evidence::Phase toProto(drivers::Phase phase)
{
    switch (phase) {
    case drivers::Phase::Unknown:
        return evidence::PHASE_UNKNOWN;
    case drivers::Phase::Green:
        return evidence::PHASE_GREEN;
    case drivers::Phase::Yellow:
        return evidence::PHASE_YELLOW;
    case drivers::Phase::Red:
        return evidence::PHASE_RED;
    case drivers::Phase::Dark:
        return evidence::PHASE_DARK;
    case drivers::Phase::FlashingRed:
        return evidence::PHASE_FLASHING_RED;
    case drivers::Phase::FlashingYellow:
        return evidence::PHASE_FLASHING_YELLOW;
    case drivers::Phase::Conflict:
        return evidence::PHASE_CONFLICT;
    }
    return evidence::PHASE_UNKNOWN;
}

evidence::SelfCheck toProto(const SelfCheckResult &check, const CaptureContext &context)
{
    evidence::SelfCheck s;
    switch (check.kind) {
    case SelfCheckResult::Kind::PowerOn:
        s.set_kind(evidence::SELF_CHECK_POWER_ON);
        break;
    case SelfCheckResult::Kind::Periodic:
        s.set_kind(evidence::SELF_CHECK_PERIODIC);
        break;
    case SelfCheckResult::Kind::Fork:
        s.set_kind(evidence::SELF_CHECK_FORK);
        break;
    case SelfCheckResult::Kind::Reset:
        s.set_kind(evidence::SELF_CHECK_RESET);
        break;
    case SelfCheckResult::Kind::Recovery:
        s.set_kind(evidence::SELF_CHECK_RECOVERY);
        break;
    }
    *s.mutable_at() = instantAt(check.atNs, context);
    s.set_passed(check.passed);
    for (const SelfCheckResult::Item &item : check.items) {
        evidence::SelfCheckItem *i = s.add_items();
        i->set_name(item.name);
        i->set_passed(item.passed);
        i->set_detail(item.detail);
    }
    if (context.radar)
        *s.mutable_radar() = *context.radar;
    s.set_reference_speed(check.referenceSpeed);
    s.set_measured_speed(check.measuredSpeed);
    s.set_tolerance(check.tolerance);
    s.set_unit(toProto(check.unit));
    return s;
}

evidence::Record buildSelfCheckRecord(const SelfCheckResult &check, const SiteIdentity &site,
                                      const CaptureContext &context)
{
    evidence::Record record;
    fillHeader(&record, site, context);
    *record.mutable_self_check() = toProto(check, context);
    return record;
}

evidence::Record buildCalibrationRecord(const CalibrationChangeInfo &change,
                                        const SiteIdentity &site, const CaptureContext &context)
{
    evidence::Record record;
    fillHeader(&record, site, context);
    if (!change.newCalibrationId.empty())
        record.set_calibration_id(change.newCalibrationId);
    evidence::CalibrationChange *c = record.mutable_calibration();
    c->set_key(change.key);
    c->set_old_value(change.oldValue);
    c->set_new_value(change.newValue);
    c->set_technician(change.technician);
    c->set_new_calibration_id(change.newCalibrationId);
    c->set_note(change.note);
    c->set_expires(change.expires);
    return record;
}

} /* namespace stopline::pipeline */

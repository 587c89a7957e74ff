#include "pipeline/trigger/school_zone.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <numbers>
#include <stdexcept>

namespace stopline::pipeline {

namespace {

bool parseInt(std::string_view text, int *out)
{
    if (text.empty())
        return false;
    for (char c : text)
        if (c < '0' || c > '9')
            return false;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
    return ec == std::errc() && ptr == text.data() + text.size();
}

int daysInMonth(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

std::optional<int> parseClock(std::string_view text)
{
    if (text.size() != 5 || text[2] != ':')
        return std::nullopt;
    int h = 0, m = 0;
    if (!parseInt(text.substr(0, 2), &h) || !parseInt(text.substr(3, 2), &m) || h > 24 || m > 59 ||
        (h == 24 && m != 0))
        return std::nullopt;
    return h * 3600 + m * 60;
}

double median(std::vector<double> values)
{
    if (values.empty())
        return 0;
    std::sort(values.begin(), values.end());
    std::size_t n = values.size();
    return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/* How many distinct speeds a report holds: targets closer than `tolerance` to an
 * already counted one are the same vehicle (a truck's second reflection). */
unsigned distinctSpeeds(const std::vector<double> &speeds, double tolerance)
{
    std::vector<double> seen;
    for (double s : speeds) {
        bool same = std::any_of(seen.begin(), seen.end(),
                                [&](double t) { return std::fabs(s - t) <= tolerance; });
        if (!same)
            seen.push_back(s);
    }
    return static_cast<unsigned>(seen.size());
}

} /* namespace */

const char *multiTargetPolicyName(MultiTargetPolicy policy)
{
    return policy == MultiTargetPolicy::DiscardPass ? "discard_pass" : "discard_reports";
}

std::optional<MultiTargetPolicy> parseMultiTargetPolicy(std::string_view text)
{
    if (text == "discard_pass")
        return MultiTargetPolicy::DiscardPass;
    if (text == "discard_reports")
        return MultiTargetPolicy::DiscardReports;
    return std::nullopt;
}

std::string CivilDate::text() const
{
    char out[16];
    std::snprintf(out, sizeof(out), "%04d-%02d-%02d", year, month, day);
    return out;
}

CivilTime civilTimeFromUtc(std::int64_t utcNs)
{
    std::time_t seconds = static_cast<std::time_t>(utcNs / kNanosPerSecond);
    std::tm tm{};
    localtime_r(&seconds, &tm);
    CivilTime out;
    out.date = {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday};
    out.weekday = tm.tm_wday;
    out.secondOfDay = tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    return out;
}

std::optional<CivilDate> parseDate(std::string_view text)
{
    if (text.size() != 10 || text[4] != '-' || text[7] != '-')
        return std::nullopt;
    CivilDate d;
    if (!parseInt(text.substr(0, 4), &d.year) || !parseInt(text.substr(5, 2), &d.month) ||
        !parseInt(text.substr(8, 2), &d.day))
        return std::nullopt;
    if (d.month < 1 || d.month > 12 || d.day < 1 || d.day > daysInMonth(d.year, d.month))
        return std::nullopt;
    return d;
}

std::optional<TimeWindow> parseWindow(std::string_view text)
{
    if (text.size() != 11 || text[5] != '-')
        return std::nullopt;
    auto from = parseClock(text.substr(0, 5));
    auto to = parseClock(text.substr(6, 5));
    if (!from || !to || *from >= *to)
        return std::nullopt;
    return TimeWindow{*from, *to, std::string(text)};
}

SchoolCalendar::Verdict SchoolCalendar::check(const CivilTime &time) const
{
    Verdict v;
    for (const NoSchoolDay &d : noSchoolDays)
        if (d.date == time.date) {
            v.entry = "no school " + d.date.text() + (d.name.empty() ? "" : " " + d.name);
            return v;
        }
    const Session *session = nullptr;
    for (const Session &s : sessions)
        if (s.first <= time.date && time.date <= s.last) {
            session = &s;
            break;
        }
    if (!session) {
        v.entry = "no session on " + time.date.text();
        return v;
    }
    std::string sessionText = "session " + session->first.text() + ".." + session->last.text() +
                              (session->name.empty() ? "" : " " + session->name);
    if (time.weekday < 0 || time.weekday > 6 || !schoolWeekdays[time.weekday]) {
        v.entry = sessionText + ", not a school weekday";
        return v;
    }
    v.inSession = true;
    v.entry = sessionText;
    for (const TimeWindow &w : windows) {
        if (time.secondOfDay >= w.fromSecond && time.secondOfDay < w.toSecond) {
            v.inWindow = true;
            v.window = w.text;
            return v;
        }
    }
    for (const TimeWindow &w : windows)
        v.window += (v.window.empty() ? "" : ",") + w.text;
    return v;
}

std::vector<std::string> validate(const SchoolZoneConfig &c)
{
    std::vector<std::string> errors;
    auto need = [&](bool ok, const std::string &message) {
        if (!ok)
            errors.push_back(message);
    };
    need(std::isfinite(c.limit) && c.limit > 0, "limit: must be a positive speed");
    need(std::isfinite(c.thresholdOver) && c.thresholdOver >= 0,
         "threshold_over: must not be negative");
    need(std::isfinite(c.cosineAngleDeg) && c.cosineAngleDeg >= 0 && c.cosineAngleDeg < 60,
         "cosine_angle_deg: must be in [0, 60) degrees");
    need(std::isfinite(c.maxSpread) && c.maxSpread >= 0, "max_spread: must not be negative");
    need(std::isfinite(c.sameSpeedTolerance) && c.sameSpeedTolerance >= 0,
         "same_speed_tolerance: must not be negative");
    need(c.selfCheckMaxAgeNs > 0, "self_check_max_age: must be positive");
    need(c.trackGapNs > 0, "track_gap: must be positive");
    need(c.passGapNs >= c.trackGapNs, "pass_gap: must be at least track_gap");
    need(c.newVehicleMagnitudeRatio > 0 && c.newVehicleMagnitudeRatio <= 1,
         "new_vehicle_magnitude_ratio: must be in (0, 1]");
    need(std::isfinite(c.trackBreak) && c.trackBreak > 0, "track_break: must be positive");
    need(c.minSamples >= 1, "min_samples: at least one reading");
    need(c.maxTrackSamples >= c.minSamples, "max_track_samples: must be at least min_samples");
    need(c.eventSlackNs >= 0, "event_slack: must not be negative");
    need(c.capture.bShotDelayNs >= 0, "capture.b_shot_delay: must not be negative");
    need(c.capture.clipBeforeNs >= 0, "capture.clip_before: must not be negative");
    need(c.capture.clipAfterNs >= 0, "capture.clip_after: must not be negative");
    need(!c.calendar.windows.empty(), "calendar.windows: at least one enforcement window");
    for (std::size_t i = 0; i < c.calendar.sessions.size(); ++i)
        need(c.calendar.sessions[i].first <= c.calendar.sessions[i].last,
             "calendar.sessions[" + std::to_string(i) + "]: first day after last day");
    for (std::size_t i = 0; i < c.calendar.windows.size(); ++i) {
        const TimeWindow &w = c.calendar.windows[i];
        need(w.fromSecond >= 0 && w.fromSecond < w.toSecond && w.toSecond <= 86400,
             "calendar.windows[" + std::to_string(i) + "]: must be a window within one day");
    }
    return errors;
}

SchoolZoneRule::SchoolZoneRule(SchoolZoneConfig config) : config_(std::move(config))
{
    std::vector<std::string> errors = validate(config_);
    if (!errors.empty()) {
        std::string message = "invalid school-zone configuration:";
        for (const std::string &e : errors)
            message += "\n  " + e;
        throw std::invalid_argument(message);
    }
    cosine_ = std::cos(config_.cosineAngleDeg * std::numbers::pi / 180.0);
}

void SchoolZoneRule::onBeacon(const drivers::BeaconState &state)
{
    Beacon &b = beacons_[state.beacon];
    b.active = state.active;
    b.sinceNs = state.sinceNs ? state.sinceNs : state.at.sampleNs;
}

void SchoolZoneRule::onSelfCheck(bool passed, Nanos atNs)
{
    selfCheckKnown_ = true;
    selfCheckPassed_ = passed;
    selfCheckAtNs_ = atNs;
    if (passed && resetPending_) {
        resetPending_ = false;
        recoveredAtNs_ = atNs;
    }
}

void SchoolZoneRule::onRadarReset(Nanos atNs)
{
    selfCheckKnown_ = true;
    selfCheckPassed_ = false;
    selfCheckAtNs_ = atNs;
    resetPending_ = true;
    if (track_)
        track_->radarReset = true;
}

bool SchoolZoneRule::relevant(double speed) const
{
    switch (config_.direction) {
    case TravelDirection::Inbound:
        return speed > 0;
    case TravelDirection::Outbound:
        return speed < 0;
    case TravelDirection::Both:
        return speed != 0;
    }
    return false;
}

Reason SchoolZoneRule::preconditions(Nanos atNs, const CivilTime &civil, SpeedFacts *f) const
{
    f->beaconFlashing = false;
    for (const auto &[name, beacon] : beacons_) {
        if ((config_.beacon.empty() || name == config_.beacon) && beacon.active) {
            f->beaconFlashing = true;
            f->beaconSinceNs = beacon.sinceNs;
        }
    }
    SchoolCalendar::Verdict calendar = config_.calendar.check(civil);
    f->schoolInSession = calendar.inSession;
    f->calendarEntry = calendar.entry;
    f->enforcementWindow = calendar.window;
    f->selfCheckPassed = selfCheckKnown_ && selfCheckPassed_;
    f->selfCheckAtNs = selfCheckAtNs_;

    if (suspended_)
        return Reason::EnforcementSuspended;
    if (!f->beaconFlashing)
        return Reason::BeaconOff;
    if (!calendar.inSession)
        return Reason::NotInSession;
    if (!calendar.inWindow)
        return Reason::OutsideWindow;
    if (!selfCheckKnown_)
        return Reason::SelfCheckStale;
    if (!selfCheckPassed_)
        return Reason::SelfCheckFailed;
    if (atNs - selfCheckAtNs_ > config_.selfCheckMaxAgeNs)
        return Reason::SelfCheckStale;
    return Reason::None;
}

const std::vector<double> &SchoolZoneRule::countedReadings(const Track &t) const
{
    return config_.multiTarget == MultiTargetPolicy::DiscardReports ? t.soloReadings : t.readings;
}

void SchoolZoneRule::summarize(const Track &t, SpeedFacts *f) const
{
    const std::vector<double> &readings = countedReadings(t);
    f->samples = t.samples;
    f->unit = config_.unit;
    f->cosineAngleDeg = config_.cosineAngleDeg;
    f->correctedSpeed = median(readings);
    f->measuredSpeed = f->correctedSpeed * cosine_;
    f->limit = config_.limit;
    f->thresholdOver = config_.thresholdOver;
    auto [lo, hi] = std::minmax_element(readings.begin(), readings.end());
    f->spread = readings.empty() ? 0 : *hi - *lo;
    f->targetsInBeam = t.targetsInBeam;
    f->multiTargetPolicy = multiTargetPolicyName(config_.multiTarget);
    f->longestGapNs = t.longestGapNs;
    f->trackStartNs = t.startNs;
    f->trackEndNs = t.lastNs;
}

CapturePlan SchoolZoneRule::shotPlan(Nanos atNs, Nanos trackStartNs, double speedMps) const
{
    const CaptureTiming &timing = config_.capture;
    CapturePlan p;
    p.aShotNs = atNs;
    p.bShotNs = atNs + timing.bShotDelayNs;
    p.clipFromNs = atNs - timing.clipBeforeNs;
    p.clipToNs = atNs + timing.clipAfterNs;
    if (!(config_.photoZoneToM > config_.photoZoneFromM) || !(speedMps > 0.5))
        return p;
    auto after = [](Nanos from, double metres, double mps) {
        return from + static_cast<Nanos>(std::llround(metres / mps * kNanosPerSecond));
    };
    const double fast = speedMps * (1 + config_.speedUncertainty);
    const double slow = speedMps * (1 - config_.speedUncertainty);
    /* Now it is somewhere in the beam: at its near end at the latest. When the track
     * began it was at the far end at the earliest. */
    p.searchFromNs =
            after(atNs, config_.photoZoneFromM - config_.beamNearM, fast) - config_.searchMarginNs;
    p.searchToNs = after(trackStartNs, config_.photoZoneToM - config_.beamFarM, slow) +
                   config_.searchMarginNs;
    p.searchFromNs = std::max(p.searchFromNs, atNs);
    p.searchToNs = std::clamp(p.searchToNs, p.searchFromNs + kNanosPerSecond,
                              p.searchFromNs + config_.maxSearchNs);
    /* Planned A-shot: the best estimate of its entering the zone. */
    p.aShotNs = std::clamp(after(trackStartNs, config_.photoZoneFromM - config_.beamFarM, speedMps),
                           p.searchFromNs, p.searchToNs);
    p.bShotNs = std::min(p.aShotNs + timing.bShotDelayNs, p.searchToNs);
    p.clipFromNs = p.aShotNs - timing.clipBeforeNs;
    p.clipToNs = p.aShotNs + timing.clipAfterNs;
    return p;
}

Decision SchoolZoneRule::finish(Track &t, Nanos triggerNs)
{
    Decision d = t.candidateId ? t.capture : Decision{};
    if (!t.candidateId) {
        d.id = nextId_++;
        d.kind = ViolationKind::SchoolZoneSpeed;
        d.eventNs = t.lastNs;
        d.speed = t.conditions;
    }
    SpeedFacts &f = *d.speed;
    summarize(t, &f);
    const bool discardPass = config_.multiTarget == MultiTargetPolicy::DiscardPass;
    Reason reason = Reason::None;
    if (t.radarReset)
        reason = Reason::RadarReset;
    else if (countedReadings(t).size() < config_.minSamples)
        reason = discardPass || t.readings.size() < config_.minSamples ? Reason::TooFewSamples
                                                                       : Reason::MultiTarget;
    else if (t.precondition != Reason::None)
        reason = t.precondition;
    else if (t.radarGap)
        reason = Reason::RadarGap;
    else if (t.multiTarget && discardPass)
        reason = Reason::MultiTarget;
    else if (f.spread > config_.maxSpread)
        reason = Reason::SpeedSpread;
    else if (!(f.correctedSpeed > config_.limit + config_.thresholdOver))
        reason = Reason::UnderThreshold;
    d.verdict = reason == Reason::None ? Decision::Verdict::Cite : Decision::Verdict::NoCite;
    d.reason = reason;
    d.triggerNs = triggerNs;
    counts_.count(reason);
    return d;
}

Nanos SchoolZoneRule::silenceBefore(const Track &t, const drivers::RadarReport &report)
{
    if (t.lastSensorTimeS && report.sensorTimeS && *report.sensorTimeS >= *t.lastSensorTimeS)
        return std::llround((*report.sensorTimeS - *t.lastSensorTimeS) * kNanosPerSecond);
    return report.at.sampleNs - t.lastNs;
}

std::vector<Decision> SchoolZoneRule::onRadar(const drivers::RadarReport &report,
                                              const CivilTime &civil)
{
    std::vector<Decision> out;
    const Nanos at = report.at.sampleNs;
    if (track_ && silenceBefore(*track_, report) > config_.passGapNs) {
        out.push_back(finish(*track_, at));
        track_.reset();
    }

    std::vector<double> speeds; /* relevant targets, configured unit, signed */
    double magnitude = 0;       /* of the strongest relevant target */
    for (const drivers::RadarTarget &t : report.targets) {
        double s = convertSpeed(t.speed, report.unit, config_.unit);
        if (relevant(s)) {
            if (speeds.empty())
                magnitude = t.magnitude;
            speeds.push_back(s);
        }
    }
    if (speeds.empty())
        return out;
    const double strongest = speeds.front();
    if (track_ && silenceBefore(*track_, report) > config_.trackGapNs && magnitude > 0 &&
        track_->lastMagnitude > 0) {
        const double ratio = magnitude / track_->lastMagnitude;
        const bool outbound = config_.direction == TravelDirection::Outbound;
        if (outbound ? ratio * config_.newVehicleMagnitudeRatio > 1
                     : ratio < config_.newVehicleMagnitudeRatio) {
            out.push_back(finish(*track_, at));
            track_.reset();
        }
    }
    if (track_ && speeds.size() == 1) {
        /* A lone target continues the pass when it is one of the vehicles of the report
         * before (the car left alone once the truck beside it has gone is the same pass). */
        bool seen =
                std::any_of(track_->lastSpeeds.begin(), track_->lastSpeeds.end(), [&](double s) {
                    return std::fabs(strongest - s) <= config_.trackBreak;
                });
        if (!seen) {
            out.push_back(finish(*track_, at));
            track_.reset();
        }
    }
    if (!track_) {
        track_.emplace();
        track_->startNs = at;
        track_->lastNs = at;
        /* Readings were withheld from the reset to the recovery: a pass that begins less
         * than a pass gap after it may have begun in the gap, unmeasured. */
        track_->radarReset =
                resetPending_ || (recoveredAtNs_ && at - *recoveredAtNs_ < config_.passGapNs);
    }
    Track &t = *track_;
    const Nanos gap = t.samples.empty() ? 0 : silenceBefore(t, report);
    t.longestGapNs = std::max(t.longestGapNs, gap);
    t.radarGap = t.radarGap || gap > config_.trackGapNs;
    t.lastNs = at;
    t.lastSpeeds = speeds;
    t.lastMagnitude = magnitude;
    t.lastSensorTimeS = report.sensorTimeS;
    unsigned distinct = distinctSpeeds(speeds, config_.sameSpeedTolerance);
    if (t.readings.size() < config_.maxTrackSamples) {
        for (std::size_t i = 0; i < report.targets.size(); ++i)
            t.samples.push_back({at,
                                 convertSpeed(report.targets[i].speed, report.unit, config_.unit),
                                 report.targets[i].magnitude, unsigned(i), report.sensorTimeS});
        t.readings.push_back(std::fabs(strongest) / cosine_);
        if (distinct == 1)
            t.soloReadings.push_back(std::fabs(strongest) / cosine_);
    }
    t.targetsInBeam = std::max(t.targetsInBeam, distinct);
    t.multiTarget = t.multiTarget || distinct >= 2;

    if (t.candidateId || countedReadings(t).size() < config_.minSamples)
        return out;
    t.precondition = preconditions(at, civil, &t.conditions);
    if (t.precondition != Reason::None || t.radarGap ||
        (t.multiTarget && config_.multiTarget == MultiTargetPolicy::DiscardPass) || distinct >= 2)
        return out;
    SpeedFacts facts = t.conditions;
    summarize(t, &facts);
    if (facts.spread > config_.maxSpread ||
        !(facts.correctedSpeed > config_.limit + config_.thresholdOver))
        return out;

    Decision d;
    d.id = nextId_++;
    d.kind = ViolationKind::SchoolZoneSpeed;
    d.verdict = Decision::Verdict::Capture;
    d.eventNs = at;
    d.triggerNs = at;
    d.plan = shotPlan(at, t.startNs, toMetersPerSecond(facts.correctedSpeed, config_.unit));
    d.speed = facts;
    t.candidateId = d.id;
    t.capture = d;
    out.push_back(std::move(d));
    return out;
}

std::vector<Decision> SchoolZoneRule::poll(Nanos nowNs)
{
    std::vector<Decision> out;
    if (track_ && nowNs - track_->lastNs > config_.passGapNs + config_.eventSlackNs) {
        out.push_back(finish(*track_, nowNs));
        track_.reset();
    }
    return out;
}

} /* namespace stopline::pipeline */

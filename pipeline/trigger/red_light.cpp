#include "pipeline/trigger/red_light.h"

#include "drivers/loops/crossing_estimate.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <utility>

namespace stopline::pipeline {

namespace {

/* The A-shot at the crossing; the B-shot planned a fixed delay later and, where the
 * camera is calibrated, chosen from every frame of the search span after it. */
CapturePlan shotPlan(Nanos crossingNs, double speedMps, const CaptureTiming &t)
{
    CapturePlan p;
    p.aShotNs = crossingNs;
    p.bShotNs = crossingNs + t.bShotDelayNs;
    p.clipFromNs = crossingNs - t.clipBeforeNs;
    p.clipToNs = crossingNs + t.clipAfterNs;
    if (t.searchNs > 0) {
        /* Long enough for the vehicle to reach the B position at its speed at the line,
         * with 0.4 s to spare; at least the planned B-shot, at most searchNs. */
        const double travelS = speedMps > 0.1 ? t.searchTravelM / speedMps + 0.4 : 1e9;
        const Nanos span = std::clamp(static_cast<Nanos>(travelS * kNanosPerSecond), t.bShotDelayNs,
                                      t.searchNs);
        p.searchFromNs = crossingNs;
        p.searchToNs = crossingNs + span;
    }
    return p;
}

constexpr Nanos kForever = INT64_MAX;
/* Dating frames after the exit loop fired: the rear's position at that instant is
 * interpolated between the frames either side of it. */
constexpr Nanos kCameraDatingAfterNs = 300 * kNanosPerMilli;
constexpr std::size_t kKeepAtLeast = 8; /* history entries kept regardless of age */

std::string seconds(Nanos ns)
{
    char text[32];
    std::snprintf(text, sizeof(text), "%.3f s", static_cast<double>(ns) / kNanosPerSecond);
    return text;
}

} /* namespace */

std::vector<std::string> validate(const RedLightConfig &c)
{
    std::vector<std::string> errors;
    auto need = [&](bool ok, const std::string &message) {
        if (!ok)
            errors.push_back(message);
    };
    need(c.graceNs >= 0, "grace: must not be negative");
    need(c.minYellowNs >= 0, "min_yellow: must not be negative");
    need(c.minSpeedMph >= 0 && std::isfinite(c.minSpeedMph),
         "min_speed_mph: must be a non-negative number");
    need(c.qualifiedNs >= 0, "qualified: must not be negative");
    need(c.continuationWindowNs > 0, "continuation_window: must be positive");
    need(c.eventSlackNs >= 0, "event_slack: must not be negative");
    need(c.completeStopMph >= 0, "complete_stop_mph: must not be negative");
    need(c.stopLookbackNs > 0, "stop_lookback: must be positive");
    need(c.radarSilenceStopNs > 0, "radar_silence_stop: must be positive");
    need(c.entryDwellStopNs > 0, "entry_dwell_stop: must be positive");
    need(c.signalSettleNs >= 0, "signal_settle: must not be negative");
    need(c.maxStartAccelMps2 > 0 && std::isfinite(c.maxStartAccelMps2),
         "max_start_accel: must be a positive number");
    need(c.cameraDatingBelowMps >= 0 && std::isfinite(c.cameraDatingBelowMps),
         "camera_dating_below: must be a non-negative number");
    need(c.cameraDatingBeforeNs > 0, "camera_dating_before: must be positive");
    need(c.cameraDatingWaitNs >= 0, "camera_dating_wait: must not be negative");
    need(c.historyNs >= c.stopLookbackNs + std::max(c.continuationWindowNs, c.signalSettleNs),
         "history: must cover stop_lookback + continuation_window and signal_settle");
    need(c.capture.bShotDelayNs >= 0, "capture.b_shot_delay: must not be negative");
    need(c.capture.clipBeforeNs >= 0, "capture.clip_before: must not be negative");
    need(c.capture.clipAfterNs >= 0, "capture.clip_after: must not be negative");
    need(!c.lanes.empty(), "lanes: at least one lane is required");

    std::set<std::string> heads;
    for (std::size_t i = 0; i < c.heads.size(); ++i) {
        std::string where = "heads[" + std::to_string(i) + "]";
        need(!c.heads[i].name.empty(), where + ".name: must not be empty");
        need(heads.insert(c.heads[i].name).second,
             where + ".name: head \"" + c.heads[i].name + "\" listed twice");
    }
    std::set<std::pair<std::string, unsigned>> lanes;
    for (std::size_t i = 0; i < c.lanes.size(); ++i) {
        const LaneConfig &l = c.lanes[i];
        std::string where = "lanes[" + std::to_string(i) + "]";
        need(!l.approach.empty(), where + ".approach: must not be empty");
        need(l.lane >= 1, where + ".lane: lanes are numbered from 1");
        need(!l.head.empty(), where + ".head: must name the signal head of the lane");
        need(std::isfinite(l.stopLineFromEntryM),
             where + ".stop_line_from_entry_m: must be a number");
        need(std::isfinite(l.minSpeedMph), where + ".min_speed_mph: must be a number");
        need(lanes.insert({l.approach, l.lane}).second,
             where + ": approach \"" + l.approach + "\" lane " + std::to_string(l.lane) +
                     " listed twice");
    }
    return errors;
}

RedLightRule::RedLightRule(RedLightConfig config) : config_(std::move(config))
{
    std::vector<std::string> errors = validate(config_);
    if (!errors.empty()) {
        std::string message = "invalid red-light configuration:";
        for (const std::string &e : errors)
            message += "\n  " + e;
        throw std::invalid_argument(message);
    }
}

const LaneConfig *RedLightRule::findLane(const std::string &approach, unsigned lane) const
{
    for (const LaneConfig &l : config_.lanes)
        if (l.approach == approach && l.lane == lane)
            return &l;
    return nullptr;
}

void RedLightRule::onPhaseChange(const drivers::PhaseChange &change)
{
    auto &history = phases_[change.head];
    auto pos = std::upper_bound(
            history.begin(), history.end(), change.at.sampleNs,
            [](Nanos t, const drivers::PhaseChange &c) { return t < c.at.sampleNs; });
    history.insert(pos, change);
    newestNs_ = std::max(newestNs_, change.at.sampleNs);
    prune(newestNs_);
}

void RedLightRule::onSignalFault(const drivers::SignalFault &fault)
{
    auto &intervals = faults_[fault.head];
    newestNs_ = std::max(newestNs_, fault.at.sampleNs);
    /* One open interval per head and kind; an unmatched "cleared" is ignored. */
    auto open = std::find_if(intervals.rbegin(), intervals.rend(), [&](const FaultInterval &f) {
        return f.endNs == kForever && f.kind == static_cast<int>(fault.kind);
    });
    if (fault.active) {
        if (open == intervals.rend())
            intervals.push_back({static_cast<int>(fault.kind), fault.at.sampleNs, kForever});
    } else if (open != intervals.rend()) {
        open->endNs = fault.at.sampleNs;
    }
}

void RedLightRule::onRadar(const drivers::RadarReport &report)
{
    newestNs_ = std::max(newestNs_, report.at.sampleNs);
    radar_.push_back({report.at.sampleNs, report.targets, report.unit, report.sensorTimeS});
    prune(newestNs_);
}

const drivers::PhaseChange *RedLightRule::phaseAt(const std::string &head, Nanos t) const
{
    auto it = phases_.find(head);
    if (it == phases_.end())
        return nullptr;
    const auto &history = it->second;
    for (auto c = history.rbegin(); c != history.rend(); ++c)
        if (c->at.sampleNs <= t)
            return &*c;
    return nullptr;
}

bool RedLightRule::faultDuring(const std::string &head, Nanos from, Nanos to) const
{
    for (const std::string &key : {head, std::string()}) {
        auto it = faults_.find(key);
        if (it == faults_.end())
            continue;
        for (const FaultInterval &f : it->second)
            if (f.startNs <= to && f.endNs >= from)
                return true;
    }
    return false;
}

void RedLightRule::fillTimeline(RedLightFacts *facts, Nanos from, Nanos to) const
{
    facts->timeline.clear();
    std::vector<std::string> heads{facts->head};
    for (const HeadConfig &h : config_.heads)
        if (h.name == facts->head)
            heads.insert(heads.end(), h.conflicting.begin(), h.conflicting.end());
    facts->allRedNs = 0;
    for (std::size_t i = 0; i < heads.size(); ++i) {
        auto it = phases_.find(heads[i]);
        if (it == phases_.end())
            continue;
        for (const drivers::PhaseChange &c : it->second) {
            if (c.at.sampleNs >= from && c.at.sampleNs <= to)
                facts->timeline.push_back(c);
            /* All-red clearance: red onset here to the first conflicting green. */
            if (i > 0 && c.phase == drivers::Phase::Green && c.at.sampleNs >= facts->redOnsetNs &&
                c.at.sampleNs <= to) {
                Nanos allRed = c.at.sampleNs - facts->redOnsetNs;
                if (!facts->allRedNs || allRed < facts->allRedNs)
                    facts->allRedNs = allRed;
            }
        }
    }
    std::stable_sort(facts->timeline.begin(), facts->timeline.end(),
                     [](const drivers::PhaseChange &a, const drivers::PhaseChange &b) {
                         return a.at.sampleNs < b.at.sampleNs;
                     });
}

void RedLightRule::detectStop(const LaneConfig &lane, RedLightFacts *facts) const
{
    const Nanos from = facts->crossingNs - config_.stopLookbackNs;
    const Nanos to = facts->crossingNs;
    if (!lane.radarTrack) {
        const drivers::LoopCrossing &c = facts->crossing;
        Nanos end = c.entryOffNs > 0 ? std::min(c.entryOffNs, to) : to;
        Nanos dwell = end - c.entryOnNs;
        if (dwell >= config_.entryDwellStopNs) {
            facts->stopped = true;
            facts->stopEvidence = "entry loop occupied " + seconds(dwell);
        }
        return;
    }

    /* The radar track: every target of every report in the look-back window. */
    Nanos previous = facts->crossing.entryOnNs;
    Nanos longestSilence = 0;
    double slowest = -1;
    for (const RadarEntry &r : radar_) {
        if (r.atNs < from || r.atNs > to)
            continue;
        facts->radarUnit = r.unit;
        for (std::size_t i = 0; i < r.targets.size(); ++i)
            facts->radarSamples.push_back({r.atNs, r.targets[i].speed, r.targets[i].magnitude,
                                           unsigned(i), r.sensorTimeS});
        if (r.targets.empty() || r.targets[0].speed < 0)
            continue; /* nothing inbound: not this approach's vehicle */
        double mph = std::fabs(convertSpeed(r.targets[0].speed, r.unit, drivers::SpeedUnit::Mph));
        if (slowest < 0 || mph < slowest)
            slowest = mph;
        if (r.atNs >= facts->crossing.entryOnNs) {
            longestSilence = std::max(longestSilence, r.atNs - previous);
            previous = r.atNs;
        }
    }
    if (to > facts->crossing.entryOnNs)
        longestSilence = std::max(longestSilence, to - previous);

    char text[96];
    if (slowest >= 0 && slowest <= config_.completeStopMph) {
        facts->stopped = true;
        std::snprintf(text, sizeof(text), "radar reading %.1f mph", slowest);
        facts->stopEvidence = text;
    } else if (longestSilence >= config_.radarSilenceStopNs) {
        /* A Doppler radar reports nothing for a stopped vehicle. Silence while the
         * vehicle was over the loops counts as a stop: the driver's favour. */
        facts->stopped = true;
        facts->stopEvidence = "radar silent " + seconds(longestSilence) + " on the loops";
    }
}

std::optional<Nanos> RedLightRule::firstRelease(const std::string &loop, Nanos after,
                                                Nanos until) const
{
    auto it = presence_.find(loop);
    if (loop.empty() || it == presence_.end())
        return std::nullopt;
    for (const Presence &p : it->second)
        if (!p.occupied && p.atNs > after && p.atNs <= until)
            return p.atNs;
    return std::nullopt;
}

bool RedLightRule::shownDuring(const std::string &head, drivers::Phase phase, Nanos from,
                               Nanos to) const
{
    const drivers::PhaseChange *start = phaseAt(head, from);
    if (start && start->phase == phase)
        return true;
    auto it = phases_.find(head);
    if (it == phases_.end())
        return false;
    for (const drivers::PhaseChange &c : it->second)
        if (c.phase == phase && c.at.sampleNs > from && c.at.sampleNs <= to)
            return true;
    return false;
}

Nanos RedLightRule::timelineStart(const std::string &head, Nanos redOnsetNs) const
{
    /* From the red before this cycle's green, or as far back as we know. */
    auto it = phases_.find(head);
    if (it == phases_.end() || it->second.empty())
        return redOnsetNs;
    const auto &history = it->second;
    for (auto c = history.rbegin(); c != history.rend(); ++c)
        if (c->at.sampleNs < redOnsetNs && c->phase == drivers::Phase::Red)
            return c->at.sampleNs;
    return std::min(redOnsetNs, history.front().at.sampleNs);
}

void RedLightRule::measureYellow(const drivers::PhaseChange &red, RedLightFacts *f) const
{
    /* The yellow actually shown: the decoder's edge-to-edge duration when it has one,
     * else our own history; a red straight after green is a zero yellow. */
    f->redOnsetNs = red.at.sampleNs;
    const drivers::PhaseChange *before = nullptr;
    auto it = phases_.find(red.head);
    if (it != phases_.end())
        for (auto c = it->second.rbegin(); c != it->second.rend(); ++c)
            if (c->at.sampleNs < f->redOnsetNs) {
                before = &*c;
                break;
            }
    f->yellowMeasured = false;
    f->measuredYellowNs = 0;
    if (red.previous == drivers::Phase::Yellow && red.previousDurationNs > 0) {
        f->measuredYellowNs = red.previousDurationNs;
        f->yellowMeasured = true;
    } else if (before && before->phase == drivers::Phase::Yellow) {
        f->measuredYellowNs = f->redOnsetNs - before->at.sampleNs;
        f->yellowMeasured = true;
    } else if (red.previous == drivers::Phase::Green ||
               (before && before->phase == drivers::Phase::Green)) {
        f->yellowMeasured = true;
    }
}

void RedLightRule::estimate(const LaneConfig &lane, RedLightFacts *f) const
{
    drivers::LoopPassTimes pass;
    pass.entryOnNs = f->crossing.entryOnNs;
    pass.exitOnNs = f->crossing.exitOnNs;
    if (f->entryOffNs)
        pass.entryOffNs = f->entryOffNs;
    if (f->exitOffNs)
        pass.exitOffNs = f->exitOffNs;
    drivers::LoopGeometry g;
    g.stopLineM = lane.stopLineFromEntryM;
    g.spacingM = f->crossing.spacingM;
    g.entryLengthM = f->crossing.entryLengthM;
    g.exitLengthM = f->crossing.exitLengthM;
    g.maxStartAccelMps2 = config_.maxStartAccelMps2;
    const drivers::CrossingEstimate e = drivers::estimateCrossing(pass, g);
    f->crossingNs = e.atNs;
    f->crossingEarliestNs = e.earliestNs;
    f->crossingLatestNs = e.latestNs;
    f->crossingMethod = drivers::crossingMethodName(e.method);
    f->stoppedOnLoops = e.stopped;
    f->timeIntoRedUncertaintyNs = e.uncertaintyNs();
    f->speedAtLineMps = e.speedMps;
    f->speedAtLineLowMps = e.speedLowMps;
    f->speedAtLineHighMps = e.speedHighMps;
    f->stopLineFromEntryM = lane.stopLineFromEntryM;
}

void RedLightRule::applyCamera(const CameraCrossing &camera, RedLightFacts *f)
{
    f->cameraDating = camera.how;
    if (!camera.dated)
        return;
    f->vehicleLengthM = camera.vehicleLengthM;
    const Nanos cameraUncertainty =
            std::max(camera.atNs - camera.earliestNs, camera.latestNs - camera.atNs);
    /* The loops' interval stands when it is the narrower one; a vehicle that stood on the
     * loops has none. */
    if (!f->stoppedOnLoops && f->timeIntoRedUncertaintyNs <= cameraUncertainty)
        return;
    /* Two measurements that exclude each other: something is wrong with one of them
     * (a loop's geometry, the calibration), and the wider, physical interval stands. */
    if (!f->stoppedOnLoops &&
        (camera.latestNs < f->crossingEarliestNs || camera.earliestNs > f->crossingLatestNs)) {
        f->cameraDating += " (outside the loops' interval: not used)";
        return;
    }
    f->cameraDated = true;
    f->crossingNs = camera.atNs;
    f->crossingEarliestNs = camera.earliestNs;
    f->crossingLatestNs = camera.latestNs;
    f->crossingMethod = "camera";
    f->timeIntoRedUncertaintyNs = cameraUncertainty;
    f->speedAtLineMps = camera.speedMps;
    f->speedAtLineLowMps = camera.speedLowMps;
    f->speedAtLineHighMps = camera.speedHighMps;
}

Reason RedLightRule::judge(Candidate &c, Nanos nowNs)
{
    RedLightFacts &f = *c.decision.redLight;
    const LaneConfig &lane = *c.lane;
    if (!f.entryOffNs)
        f.entryOffNs = firstRelease(lane.entryLoop, f.crossing.entryOnNs, nowNs).value_or(0);
    f.exitOffNs = firstRelease(lane.exitLoop, f.crossing.exitOnNs, c.deadlineNs).value_or(0);
    f.continued = lane.exitLoop.empty() || f.exitOffNs != 0;
    f.continuationNs = lane.exitLoop.empty() ? f.crossing.exitOnNs : f.exitOffNs;
    estimate(lane, &f);
    if (c.camera)
        applyCamera(*c.camera, &f);
    else if (c.datingAsked)
        f.cameraDating = "the camera's dating did not arrive in time";
    c.decision.eventNs = f.crossingNs;
    if (!c.captured)
        c.decision.plan = shotPlan(f.crossingNs, f.speedAtLineMps, config_.capture);

    /* The red the latest possible crossing fell in: its onset and the yellow before it. */
    const drivers::PhaseChange *late = phaseAt(f.head, f.crossingLatestNs);
    Nanos faultFrom = f.crossingEarliestNs;
    if (late && late->phase == drivers::Phase::Red) {
        measureYellow(*late, &f);
        faultFrom = std::min(faultFrom, f.redOnsetNs - f.measuredYellowNs);
        f.timeIntoRedNs = f.crossingNs - f.redOnsetNs;
        f.qualified = f.crossingEarliestNs - f.redOnsetNs > config_.qualifiedNs;
    }
    fillTimeline(&f, timelineStart(f.head, late ? late->at.sampleNs : f.crossingEarliestNs), nowNs);
    detectStop(lane, &f);

    /* A fault during what the evidence relies on — the yellow, the whole interval the
     * crossing may lie in, up to the B-shot — refuses, recognised late or not. */
    if (faultDuring(f.head, faultFrom,
                    std::max(f.crossingLatestNs, c.decision.plan.aShotNs) +
                            std::max(config_.capture.bShotDelayNs,
                                     c.decision.plan.searchToNs - c.decision.plan.searchFromNs)))
        return Reason::SignalFault;
    if (!late)
        return Reason::SignalUnknown;
    if (f.undated()) {
        /* Undated: it stood on the loops and may have crossed at any moment of it. */
        if (!shownDuring(f.head, drivers::Phase::Red, f.crossingEarliestNs, f.crossingLatestNs))
            return Reason::NotRed;
        if (lane.rightTurn && lane.turnPolicy == TurnPolicy::Never)
            return Reason::RightTurnExempt;
        if (lane.rightTurn && lane.turnPolicy == TurnPolicy::CiteUnlessStopped)
            return Reason::RightTurnStopped;
        return Reason::BelowMinSpeed;
    }
    switch (late->phase) {
    case drivers::Phase::Red:
        break;
    case drivers::Phase::Green:
    case drivers::Phase::Yellow:
        return Reason::NotRed;
    case drivers::Phase::Conflict:
        return Reason::SignalFault;
    default:
        return Reason::SignalUnknown;
    }
    /* Cite only when even the earliest possible crossing is past the grace. */
    if (f.crossingEarliestNs - f.redOnsetNs <= config_.graceNs)
        return Reason::WithinGrace;
    if (!f.yellowMeasured)
        return Reason::YellowUnmeasured;
    if (f.measuredYellowNs < config_.minYellowNs)
        return Reason::YellowTooShort;
    if (lane.rightTurn && lane.turnPolicy == TurnPolicy::Never)
        return Reason::RightTurnExempt;
    if (lane.rightTurn && lane.turnPolicy == TurnPolicy::CiteUnlessStopped && f.stopped)
        return Reason::RightTurnStopped;
    if (!f.continued) /* no trailing edge: judge the speed by the leading edges alone */
        return f.crossing.speedMps < f.minSpeedMps ? Reason::BelowMinSpeed : Reason::NoContinuation;
    if (f.speedAtLineLowMps < f.minSpeedMps)
        return Reason::BelowMinSpeed;
    return Reason::None;
}

bool RedLightRule::ready(const Candidate &c, Nanos nowNs) const
{
    if (nowNs < c.settledNs + config_.eventSlackNs)
        return false;
    /* The camera's dating is one of the facts, when it was asked for. */
    if (c.datingAsked && !c.camera && nowNs < c.settledNs + config_.cameraDatingWaitNs)
        return false;
    if (nowNs > c.deadlineNs + config_.eventSlackNs)
        return true;
    const RedLightFacts &f = *c.decision.redLight;
    return c.lane->exitLoop.empty() ||
           firstRelease(c.lane->exitLoop, f.crossing.exitOnNs, c.deadlineNs).has_value();
}

std::vector<Decision> RedLightRule::settle(Nanos nowNs)
{
    std::vector<Decision> out;
    for (std::size_t i = 0; i < pending_.size();) {
        Candidate &c = pending_[i];
        if (!ready(c, nowNs)) {
            ++i;
            continue;
        }
        Reason reason = judge(c, nowNs);
        Decision d = std::move(c.decision);
        d.verdict = reason == Reason::None ? Decision::Verdict::Cite : Decision::Verdict::NoCite;
        d.reason = reason;
        d.triggerNs = nowNs;
        counts_.count(reason);
        out.push_back(std::move(d));
        pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
    }
    return out;
}

Decision RedLightRule::refuse(Decision d, Reason reason)
{
    d.verdict = Decision::Verdict::NoCite;
    d.reason = reason;
    counts_.count(reason);
    return d;
}

std::vector<Decision> RedLightRule::onLoopPresence(const drivers::LoopPresence &presence)
{
    presence_[presence.loop].push_back({presence.at.sampleNs, presence.occupied});
    newestNs_ = std::max(newestNs_, presence.at.sampleNs);
    std::vector<Decision> out = settle(newestNs_);
    prune(newestNs_);
    return out;
}

std::vector<Decision> RedLightRule::onLoopCrossing(const drivers::LoopCrossing &crossing)
{
    std::vector<Decision> out;
    Decision d;
    d.id = nextId_++;
    d.kind = ViolationKind::RedLight;
    d.triggerNs = crossing.exitOnNs;
    d.eventNs = crossing.exitOnNs;
    newestNs_ = std::max(newestNs_, crossing.exitOnNs);
    RedLightFacts &f = d.redLight.emplace();
    f.approach = crossing.approach;
    f.lane = crossing.lane;
    f.crossing = crossing;
    f.entryOffNs = crossing.entryOffNs;
    f.graceNs = config_.graceNs;
    f.minYellowNs = config_.minYellowNs;
    f.qualifiedNs = config_.qualifiedNs;

    const LaneConfig *lane = findLane(crossing.approach, crossing.lane);
    if (!lane) {
        out.push_back(refuse(std::move(d), Reason::UnknownLane));
        return out;
    }
    f.head = lane->head;
    f.turnPolicy = lane->turnPolicy;
    f.turnedRight = lane->rightTurn;
    f.minSpeedMps = (lane->minSpeedMph >= 0 ? lane->minSpeedMph : config_.minSpeedMph) *
                    kMetersPerSecondPerMph;

    const Nanos travel = crossing.exitOnNs - crossing.entryOnNs;
    if (crossing.entryOnNs <= 0 || travel <= 0 || !(crossing.spacingM > 0) ||
        lane->stopLineFromEntryM > crossing.spacingM + 1e-9) {
        out.push_back(refuse(std::move(d), Reason::BadCrossing));
        return out;
    }
    /* Provisional: the leading edges only, for the pictures; judged again with the
     * trailing edges. */
    estimate(*lane, &f);
    d.eventNs = f.crossingNs;
    d.plan = shotPlan(f.crossingNs, f.speedAtLineMps, config_.capture);

    if (suspended_) {
        out.push_back(refuse(std::move(d), Reason::EnforcementSuspended));
        return out;
    }

    Candidate c{std::move(d),
                lane,
                crossing.exitOnNs + config_.continuationWindowNs,
                crossing.exitOnNs + config_.signalSettleNs,
                false,
                false,
                std::nullopt};
    /* Pictures whenever the head was yellow or red during the pass (a red onset may
     * still be on its way through the decoder's debounce), unless the pass was so slow
     * that it cannot be cited (a queue standing on the loops). */
    const double meanMps = crossing.spacingM / (static_cast<double>(travel) / kNanosPerSecond);
    const bool yellowOrRed =
            shownDuring(lane->head, drivers::Phase::Red, crossing.entryOnNs, crossing.exitOnNs) ||
            shownDuring(lane->head, drivers::Phase::Yellow, crossing.entryOnNs, crossing.exitOnNs);
    if (yellowOrRed && meanMps >= c.decision.redLight->minSpeedMps / 3) {
        if (cameraDating_ && meanMps < config_.cameraDatingBelowMps) {
            c.decision.plan.datingFromNs = crossing.exitOnNs - config_.cameraDatingBeforeNs;
            c.decision.plan.datingToNs = crossing.exitOnNs + kCameraDatingAfterNs;
            c.datingAsked = true;
        }
        Decision capture = c.decision;
        capture.verdict = Decision::Verdict::Capture;
        capture.reason = Reason::None;
        out.push_back(std::move(capture));
        c.captured = true;
    }
    pending_.push_back(std::move(c));
    return out;
}

std::vector<Decision> RedLightRule::onCameraCrossing(const CameraCrossing &crossing)
{
    for (Candidate &c : pending_)
        if (c.decision.id == crossing.decisionId && c.datingAsked)
            c.camera = crossing;
    return settle(std::max(newestNs_, polledNs_));
}

std::vector<Decision> RedLightRule::poll(Nanos nowNs)
{
    polledNs_ = std::max(polledNs_, nowNs);
    std::vector<Decision> out = settle(nowNs);
    prune(std::max(newestNs_, nowNs));
    return out;
}

void RedLightRule::prune(Nanos nowNs)
{
    const Nanos horizon = nowNs - config_.historyNs;
    for (auto &[head, history] : phases_)
        while (history.size() > kKeepAtLeast && history.front().at.sampleNs < horizon)
            history.pop_front();
    for (auto &[loop, history] : presence_)
        while (history.size() > kKeepAtLeast && history.front().atNs < horizon)
            history.pop_front();
    for (auto &[head, intervals] : faults_)
        intervals.erase(std::remove_if(intervals.begin(), intervals.end(),
                                       [&](const FaultInterval &f) { return f.endNs < horizon; }),
                        intervals.end());
    const Nanos radarHorizon = nowNs - config_.stopLookbackNs -
                               std::max(config_.continuationWindowNs, config_.signalSettleNs) -
                               10 * kNanosPerSecond;
    while (!radar_.empty() && radar_.front().atNs < radarHorizon)
        radar_.pop_front();
}

} /* namespace stopline::pipeline */

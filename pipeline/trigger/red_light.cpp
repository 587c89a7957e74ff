#include "pipeline/trigger/red_light.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <utility>

namespace stopline::pipeline {

namespace {

constexpr Nanos kForever = INT64_MAX;
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
    need(c.historyNs >= c.stopLookbackNs + c.continuationWindowNs,
         "history: must cover stop_lookback + continuation_window");
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

bool RedLightRule::continuationSeen(const Candidate &c, Nanos *at) const
{
    const drivers::LoopCrossing &crossing = c.decision.redLight->crossing;
    if (c.lane->exitLoop.empty()) {
        *at = crossing.exitOnNs;
        return crossing.exitOnNs <= c.deadlineNs;
    }
    auto it = presence_.find(c.lane->exitLoop);
    if (it == presence_.end())
        return false;
    for (const Presence &p : it->second) {
        if (!p.occupied && p.atNs > crossing.exitOnNs && p.atNs <= c.deadlineNs) {
            *at = p.atNs;
            return true;
        }
    }
    return false;
}

Decision RedLightRule::refuse(Decision d, Reason reason)
{
    d.verdict = Decision::Verdict::NoCite;
    d.reason = reason;
    counts_.count(reason);
    return d;
}

Decision RedLightRule::finish(Candidate &c, Decision::Verdict verdict, Reason reason,
                              Nanos triggerNs)
{
    Decision d = c.decision;
    RedLightFacts &f = *d.redLight;
    /* The timeline now covers what was seen up to this decision (the all-red, the
     * conflicting green), and a fault that began meanwhile still refuses. */
    fillTimeline(&f, c.timelineFromNs, std::max(triggerNs, f.crossingNs));
    if (verdict == Decision::Verdict::Cite &&
        faultDuring(f.head, f.redOnsetNs - f.measuredYellowNs, triggerNs)) {
        verdict = Decision::Verdict::NoCite;
        reason = Reason::SignalFault;
    }
    d.verdict = verdict;
    d.reason = reason;
    d.triggerNs = triggerNs;
    counts_.count(reason);
    return d;
}

std::vector<Decision> RedLightRule::onLoopPresence(const drivers::LoopPresence &presence)
{
    presence_[presence.loop].push_back({presence.at.sampleNs, presence.occupied});
    newestNs_ = std::max(newestNs_, presence.at.sampleNs);
    std::vector<Decision> out;
    for (std::size_t i = 0; i < pending_.size();) {
        Candidate &c = pending_[i];
        Nanos at = 0;
        if (c.lane->exitLoop == presence.loop && continuationSeen(c, &at)) {
            c.decision.redLight->continued = true;
            c.decision.redLight->continuationNs = at;
            out.push_back(finish(c, Decision::Verdict::Cite, Reason::None, presence.at.sampleNs));
            pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
            continue;
        }
        ++i;
    }
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
    /* Interpolate at the measured (constant) speed between the loops' leading-edge
     * times: the stop line lies a known fraction of the spacing past the entry loop. */
    const double fraction = lane->stopLineFromEntryM / crossing.spacingM;
    f.crossingNs = crossing.entryOnNs + std::llround(static_cast<double>(travel) * fraction);
    f.speedAtLineMps =
            crossing.speedMps > 0
                    ? crossing.speedMps
                    : crossing.spacingM / (static_cast<double>(travel) / kNanosPerSecond);
    d.eventNs = f.crossingNs;
    d.plan.aShotNs = f.crossingNs;
    d.plan.bShotNs = f.crossingNs + config_.capture.bShotDelayNs;
    d.plan.clipFromNs = f.crossingNs - config_.capture.clipBeforeNs;
    d.plan.clipToNs = f.crossingNs + config_.capture.clipAfterNs;

    if (suspended_) {
        out.push_back(refuse(std::move(d), Reason::EnforcementSuspended));
        return out;
    }
    if (faultDuring(f.head, newestNs_, kForever)) {
        out.push_back(refuse(std::move(d), Reason::SignalFault));
        return out;
    }
    const drivers::PhaseChange *phase = phaseAt(f.head, f.crossingNs);
    if (!phase) {
        out.push_back(refuse(std::move(d), Reason::SignalUnknown));
        return out;
    }
    switch (phase->phase) {
    case drivers::Phase::Red:
        break;
    case drivers::Phase::Green:
    case drivers::Phase::Yellow:
        out.push_back(refuse(std::move(d), Reason::NotRed));
        return out;
    case drivers::Phase::Conflict:
        out.push_back(refuse(std::move(d), Reason::SignalFault));
        return out;
    default:
        out.push_back(refuse(std::move(d), Reason::SignalUnknown));
        return out;
    }

    f.redOnsetNs = phase->at.sampleNs;
    f.timeIntoRedNs = f.crossingNs - f.redOnsetNs;
    f.qualified = f.timeIntoRedNs > config_.qualifiedNs;

    /* The yellow actually shown: the decoder's edge-to-edge duration when it has one,
     * else our own history; a red straight after green is a zero yellow. */
    const auto &history = phases_[f.head];
    const drivers::PhaseChange *before = nullptr;
    for (auto it = history.rbegin(); it != history.rend(); ++it)
        if (it->at.sampleNs < f.redOnsetNs) {
            before = &*it;
            break;
        }
    if (phase->previous == drivers::Phase::Yellow && phase->previousDurationNs > 0) {
        f.measuredYellowNs = phase->previousDurationNs;
        f.yellowMeasured = true;
    } else if (before && before->phase == drivers::Phase::Yellow) {
        f.measuredYellowNs = f.redOnsetNs - before->at.sampleNs;
        f.yellowMeasured = true;
    } else if (phase->previous == drivers::Phase::Green ||
               (before && before->phase == drivers::Phase::Green)) {
        f.measuredYellowNs = 0;
        f.yellowMeasured = true;
    }

    /* The timeline: from the red before this cycle's green, or as far as we know. */
    Nanos timelineFrom = history.empty() ? f.redOnsetNs : history.front().at.sampleNs;
    for (auto it = history.rbegin(); it != history.rend(); ++it)
        if (it->at.sampleNs < f.redOnsetNs && it->phase == drivers::Phase::Red) {
            timelineFrom = it->at.sampleNs;
            break;
        }
    fillTimeline(&f, timelineFrom, std::max(f.crossingNs, crossing.exitOnNs));
    detectStop(*lane, &f);

    if (faultDuring(f.head, f.redOnsetNs - f.measuredYellowNs, f.crossingNs)) {
        out.push_back(refuse(std::move(d), Reason::SignalFault));
        return out;
    }
    if (f.timeIntoRedNs <= config_.graceNs) {
        out.push_back(refuse(std::move(d), Reason::WithinGrace));
        return out;
    }
    if (!f.yellowMeasured) {
        out.push_back(refuse(std::move(d), Reason::YellowUnmeasured));
        return out;
    }
    if (f.measuredYellowNs < config_.minYellowNs) {
        out.push_back(refuse(std::move(d), Reason::YellowTooShort));
        return out;
    }
    if (lane->rightTurn && lane->turnPolicy == TurnPolicy::Never) {
        out.push_back(refuse(std::move(d), Reason::RightTurnExempt));
        return out;
    }
    if (lane->rightTurn && lane->turnPolicy == TurnPolicy::CiteUnlessStopped && f.stopped) {
        out.push_back(refuse(std::move(d), Reason::RightTurnStopped));
        return out;
    }
    if (f.speedAtLineMps < f.minSpeedMps) {
        out.push_back(refuse(std::move(d), Reason::BelowMinSpeed));
        return out;
    }

    d.verdict = Decision::Verdict::Capture;
    d.reason = Reason::None;
    out.push_back(d);
    Candidate c{std::move(d), lane, f.crossingNs + config_.continuationWindowNs, timelineFrom};
    Nanos at = 0;
    if (continuationSeen(c, &at)) {
        c.decision.redLight->continued = true;
        c.decision.redLight->continuationNs = at;
        out.push_back(finish(c, Decision::Verdict::Cite, Reason::None, crossing.exitOnNs));
    } else {
        pending_.push_back(std::move(c));
    }
    return out;
}

std::vector<Decision> RedLightRule::poll(Nanos nowNs)
{
    std::vector<Decision> out;
    for (std::size_t i = 0; i < pending_.size();) {
        Candidate &c = pending_[i];
        if (nowNs > c.deadlineNs + config_.eventSlackNs) {
            out.push_back(finish(c, Decision::Verdict::NoCite, Reason::NoContinuation, nowNs));
            pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
            continue;
        }
        ++i;
    }
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
    const Nanos radarHorizon =
            nowNs - config_.stopLookbackNs - config_.continuationWindowNs - 10 * kNanosPerSecond;
    while (!radar_.empty() && radar_.front().atNs < radarHorizon)
        radar_.pop_front();
}

} /* namespace stopline::pipeline */

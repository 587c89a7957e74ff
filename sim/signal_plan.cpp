#include "sim/signal_plan.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

namespace stopline::sim {

const char *headPhaseName(HeadPhase phase)
{
    switch (phase) {
    case HeadPhase::Green:
        return "green";
    case HeadPhase::Yellow:
        return "yellow";
    case HeadPhase::Red:
        return "red";
    }
    return "?";
}

namespace {

std::uint8_t lampsFor(HeadPhase phase)
{
    switch (phase) {
    case HeadPhase::Green:
        return kLampGreen;
    case HeadPhase::Yellow:
        return kLampYellow;
    case HeadPhase::Red:
        return kLampRed;
    }
    return 0;
}

/* Flashing modes: 1 Hz, lit for the first half of each second of the fault (MUTCD
 * flashing rate is 50-60 per minute). */
constexpr Nanos kFlashPeriod = kNanosPerSecond;

void appendInterval(std::vector<PhaseInterval> &list, Nanos start, Nanos end, HeadPhase phase)
{
    if (end <= start)
        return;
    if (!list.empty() && list.back().phase == phase && list.back().end == start) {
        list.back().end = end;
        return;
    }
    list.push_back({start, end, phase});
}

} /* namespace */

SignalTimeline::SignalTimeline(const SignalSpec &spec, const std::vector<SignalFault> &faults,
                               Nanos horizon)
    : faults_(faults)
{
    for (const auto &h : spec.heads)
        intervals_[h.name];
    if (spec.phases.empty())
        return;

    /* Cycle 1 starts offset_s before the scenario does; unroll until past the horizon. */
    Nanos cycleStart = -secondsToNanos(spec.offsetS);
    for (unsigned cycle = 1; cycleStart <= horizon; ++cycle) {
        Nanos t = cycleStart;
        for (unsigned p = 0; p < spec.phases.size(); ++p) {
            const PhaseSpec &phase = spec.phases[p];
            double green = phase.greenS, yellow = phase.yellowS, allRed = phase.allRedS;
            for (const auto &ov : spec.overrides) {
                if (ov.cycle != cycle || ov.phase != p + 1)
                    continue;
                green = ov.greenS.value_or(green);
                yellow = ov.yellowS.value_or(yellow);
                allRed = ov.allRedS.value_or(allRed);
            }
            Nanos greenEnd = t + secondsToNanos(green);
            Nanos yellowEnd = greenEnd + secondsToNanos(yellow);
            Nanos phaseEnd = yellowEnd + secondsToNanos(allRed);
            for (auto &[head, list] : intervals_) {
                bool mine = std::find(phase.heads.begin(), phase.heads.end(), head) !=
                            phase.heads.end();
                if (mine) {
                    appendInterval(list, t, greenEnd, HeadPhase::Green);
                    appendInterval(list, greenEnd, yellowEnd, HeadPhase::Yellow);
                    appendInterval(list, yellowEnd, phaseEnd, HeadPhase::Red);
                } else {
                    appendInterval(list, t, phaseEnd, HeadPhase::Red);
                }
            }
            t = phaseEnd;
        }
        if (t <= cycleStart)
            throw std::logic_error("signal cycle of zero length");
        cycleStart = t;
    }

    /* What the lamps show: the plan, overridden inside fault windows. Candidate change
     * times are the plan's changes, the fault edges and the flash toggles. */
    for (const auto &[head, list] : intervals_) {
        std::set<Nanos> times;
        times.insert(list.front().start);
        for (const auto &iv : list)
            times.insert(iv.start);
        for (const auto &f : faults_) {
            if (f.head != head)
                continue;
            Nanos s = secondsToNanos(f.window.startS), e = secondsToNanos(f.window.endS);
            times.insert(s);
            times.insert(e);
            if (f.kind == SignalFaultKind::FlashingRed || f.kind == SignalFaultKind::FlashingYellow)
                for (Nanos t = s; t < e; t += kFlashPeriod / 2)
                    times.insert(t);
        }
        auto &changes = lamps_[head];
        for (Nanos t : times) {
            std::uint8_t lit = lampsAt(head, t);
            if (changes.empty() || changes.back().lamps != lit)
                changes.push_back({t, lit});
        }
    }
}

const std::vector<PhaseInterval> &SignalTimeline::intervals(const std::string &head) const
{
    auto it = intervals_.find(head);
    if (it == intervals_.end())
        throw std::out_of_range("no signal head " + head);
    return it->second;
}

const PhaseInterval &SignalTimeline::intervalAt(const std::string &head, Nanos t) const
{
    const auto &list = intervals(head);
    if (list.empty())
        throw std::out_of_range("signal head " + head + " has no phases");
    auto it = std::upper_bound(list.begin(), list.end(), t,
                               [](Nanos v, const PhaseInterval &iv) { return v < iv.start; });
    if (it == list.begin())
        return list.front();
    return *std::prev(it);
}

HeadPhase SignalTimeline::phaseAt(const std::string &head, Nanos t) const
{
    return intervalAt(head, t).phase;
}

std::optional<Nanos> SignalTimeline::nextGreen(const std::string &head, Nanos t) const
{
    for (const auto &iv : intervals(head)) {
        if (iv.end <= t || iv.phase != HeadPhase::Green)
            continue;
        return std::max(iv.start, t);
    }
    return std::nullopt;
}

const SignalFault *SignalTimeline::faultAt(const std::string &head, Nanos t) const
{
    const SignalFault *found = nullptr;
    for (const auto &f : faults_)
        if (f.head == head && t >= secondsToNanos(f.window.startS) &&
            t < secondsToNanos(f.window.endS))
            found = &f; /* the last one listed wins */
    return found;
}

std::uint8_t SignalTimeline::plannedLamps(const std::string &head, Nanos t) const
{
    return lampsFor(phaseAt(head, t));
}

std::uint8_t SignalTimeline::lampsAt(const std::string &head, Nanos t) const
{
    const SignalFault *f = faultAt(head, t);
    if (!f)
        return plannedLamps(head, t);
    Nanos s = secondsToNanos(f->window.startS);
    bool flashOn = ((t - s) % kFlashPeriod) < kFlashPeriod / 2;
    switch (f->kind) {
    case SignalFaultKind::Stuck:
        return plannedLamps(head, s);
    case SignalFaultKind::Dark:
        return 0;
    case SignalFaultKind::FlashingRed:
        return flashOn ? kLampRed : 0;
    case SignalFaultKind::FlashingYellow:
        return flashOn ? kLampYellow : 0;
    case SignalFaultKind::Conflict:
        return kLampRed | kLampGreen;
    }
    return 0;
}

const std::vector<LampChange> &SignalTimeline::lampChanges(const std::string &head) const
{
    auto it = lamps_.find(head);
    if (it == lamps_.end())
        throw std::out_of_range("no signal head " + head);
    return it->second;
}

} /* namespace stopline::sim */

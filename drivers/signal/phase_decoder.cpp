#include "drivers/signal/phase_decoder.h"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace stopline::drivers {

namespace {

Phase lampPhase(int lamp)
{
    return lamp == 0 ? Phase::Red : lamp == 1 ? Phase::Yellow : Phase::Green;
}

std::optional<SignalFault::Kind> faultOf(Phase phase)
{
    switch (phase) {
    case Phase::Conflict:
        return SignalFault::Kind::Conflict;
    case Phase::Dark:
        return SignalFault::Kind::Dark;
    case Phase::FlashingRed:
    case Phase::FlashingYellow:
        return SignalFault::Kind::Flashing;
    default:
        return std::nullopt;
    }
}

void keepEarliest(std::optional<Nanos> &best, std::optional<Nanos> candidate)
{
    if (candidate && (!best || *candidate < *best))
        best = candidate;
}

void keepLatest(std::optional<Nanos> &best, std::optional<Nanos> candidate)
{
    if (candidate && (!best || *candidate > *best))
        best = candidate;
}

} /* namespace */

Nanos faultRecognitionLatency(const PhaseDecoderConfig &c)
{
    const Nanos flashing = static_cast<Nanos>(c.flashPeriods + 1) * c.flashMaxPeriodNs;
    return std::max({c.darkHoldNs, c.conflictHoldNs, c.invalidHoldNs, flashing}) + c.debounceNs;
}

PhaseDecoder::PhaseDecoder(PhaseDecoderConfig config, SignalSink sink)
    : config_(std::move(config)), sink_(std::move(sink))
{
    if (config_.heads.empty())
        throw std::invalid_argument("signal: no signal heads configured");
    if (config_.flashPeriods == 0 || config_.flashMinPeriodNs >= config_.flashMaxPeriodNs)
        throw std::invalid_argument("signal: flash period range is empty");
    std::map<std::string, std::string> used; /* line -> head */
    std::map<std::string, std::size_t> headIndex;
    for (const SignalHeadConfig &headConfig : config_.heads) {
        if (headConfig.name.empty())
            throw std::invalid_argument("signal: a head has no name");
        if (headIndex.count(headConfig.name))
            throw std::invalid_argument("signal: head '" + headConfig.name + "' defined twice");
        headIndex[headConfig.name] = heads_.size();
        Head head;
        head.config = headConfig;
        const std::string *lines[3] = {&headConfig.red, &headConfig.yellow, &headConfig.green};
        for (int lamp = 0; lamp < 3; ++lamp) {
            if (lines[lamp]->empty())
                continue;
            if (used.count(*lines[lamp]))
                throw std::invalid_argument("signal: line '" + *lines[lamp] + "' of head '" +
                                            headConfig.name + "' is already used by head '" +
                                            used[*lines[lamp]] + "'");
            used[*lines[lamp]] = headConfig.name;
            head.lamps[lamp].wired = true;
            head.lamps[lamp].debouncer = EdgeDebouncer(config_.debounceNs, config_.quietNs);
            inputMap_.emplace_back(heads_.size(), lamp);
            inputs_.push_back(*lines[lamp]);
        }
        if (!head.lamps[kRed].wired && !head.lamps[kYellow].wired && !head.lamps[kGreen].wired)
            throw std::invalid_argument("signal: head '" + headConfig.name + "' has no lamp lines");
        heads_.push_back(std::move(head));
    }
    std::vector<AllRedGroup> groups = config_.allRedGroups;
    if (groups.empty() && heads_.size() >= 2) {
        AllRedGroup all{"all", {}};
        for (const Head &head : heads_)
            all.heads.push_back(head.config.name);
        groups.push_back(all);
    }
    for (const AllRedGroup &groupConfig : groups) {
        Group group;
        group.config = groupConfig;
        for (const std::string &name : groupConfig.heads) {
            auto found = headIndex.find(name);
            if (found == headIndex.end())
                throw std::invalid_argument("signal: all-red group '" + groupConfig.name +
                                            "' names unknown head '" + name + "'");
            group.heads.push_back(found->second);
            heads_[found->second].groups.push_back(groups_.size());
        }
        groups_.push_back(std::move(group));
    }
}

void PhaseDecoder::begin(const std::vector<bool> &levels, Nanos now)
{
    beganAt_ = advancedTo_ = now;
    for (std::size_t input = 0; input < inputMap_.size(); ++input) {
        auto [head, lamp] = inputMap_[input];
        bool level = input < levels.size() && levels[input];
        Lamp &l = heads_[head].lamps[lamp];
        l.debouncer.reset(level);
        l.on = level;
    }
    for (Head &head : heads_)
        evaluate(head, now);
}

void PhaseDecoder::edge(std::size_t input, bool level, Nanos t)
{
    if (input >= inputMap_.size())
        return;
    if (t < advancedTo_) {
        ++lateEdges_; /* delivered after its hold was already decided: applied at once */
        t = advancedTo_;
    }
    advance(t);
    auto [head, lamp] = inputMap_[input];
    heads_[head].lamps[lamp].debouncer.edge(level, t);
}

void PhaseDecoder::advance(Nanos now)
{
    for (int guard = 0; guard < 100000; ++guard) {
        std::optional<Nanos> next = deadline();
        if (!next || *next > now)
            break;
        step(std::max(*next, advancedTo_));
        advancedTo_ = std::max(advancedTo_, *next);
    }
    advancedTo_ = std::max(advancedTo_, now);
}

std::optional<Nanos> PhaseDecoder::deadline() const
{
    std::optional<Nanos> earliest;
    for (const Head &head : heads_) {
        for (const Lamp &lamp : head.lamps)
            if (lamp.wired)
                keepEarliest(earliest, lamp.debouncer.deadline());
        keepEarliest(earliest, head.holdDeadline);
        keepEarliest(earliest, head.flashDeadline);
    }
    return earliest;
}

void PhaseDecoder::step(Nanos now)
{
    for (Head &head : heads_) {
        std::vector<std::pair<EdgeDebouncer::Change, int>> changes;
        for (int lamp = 0; lamp < 3; ++lamp) {
            Lamp &l = head.lamps[lamp];
            if (!l.wired)
                continue;
            if (auto change = l.debouncer.advance(now))
                changes.emplace_back(*change, lamp);
        }
        std::sort(changes.begin(), changes.end(),
                  [](const auto &a, const auto &b) { return a.first.at < b.first.at; });
        for (const auto &[change, lamp] : changes) {
            Lamp &l = head.lamps[lamp];
            l.on = change.level;
            if (change.level) {
                l.onSince = change.at;
                l.onEdges.push_back(change.at);
                while (l.onEdges.size() > config_.flashPeriods + 1)
                    l.onEdges.pop_front();
            } else {
                l.offEdges.push_back(change.at);
                while (l.offEdges.size() > config_.flashPeriods + 2)
                    l.offEdges.pop_front();
                l.offSince = change.at;
            }
        }
        evaluate(head, now);
    }
}

std::optional<std::pair<Nanos, Phase>> PhaseDecoder::flashing(const Head &head, Nanos now) const
{
    for (int lamp : {kRed, kYellow}) {
        const Lamp &l = head.lamps[lamp];
        if (!l.wired || l.onEdges.size() < config_.flashPeriods + 1)
            continue;
        bool othersDark = true;
        for (int other = 0; other < 3; ++other)
            if (other != lamp && head.lamps[other].on)
                othersDark = false;
        if (!othersDark || now >= l.onEdges.back() + config_.flashMaxPeriodNs)
            continue;
        bool regular = true;
        for (std::size_t i = 1; i < l.onEdges.size(); ++i) {
            Nanos period = l.onEdges[i] - l.onEdges[i - 1];
            if (period < config_.flashMinPeriodNs || period > config_.flashMaxPeriodNs)
                regular = false;
        }
        if (!regular)
            continue;
        /* The pattern began when the lamp first went out before its first counted flash
         * (a steady red turning into flashing red goes dark first): the head stopped
         * showing a steady phase then, and that is when the fault starts. */
        Nanos start = l.onEdges.front();
        for (auto off = l.offEdges.rbegin(); off != l.offEdges.rend(); ++off)
            if (*off < l.onEdges.front()) {
                if (l.onEdges.front() - *off <= config_.flashMaxPeriodNs)
                    start = *off;
                break;
            }
        return std::make_pair(start, lamp == kRed ? Phase::FlashingRed : Phase::FlashingYellow);
    }
    return std::nullopt;
}

void PhaseDecoder::evaluate(Head &head, Nanos now)
{
    std::size_t index = static_cast<std::size_t>(&head - heads_.data());
    head.holdDeadline.reset();
    head.flashDeadline.reset();

    if (auto flash = flashing(head, now)) {
        const Lamp &l = head.lamps[flash->second == Phase::FlashingRed ? kRed : kYellow];
        head.flashDeadline = l.onEdges.back() + config_.flashMaxPeriodNs;
        if (head.phase != flash->second)
            setPhase(index, flash->second, flash->first, now, "lamp flashing");
        return;
    }

    bool red = head.lamps[kRed].on, yellow = head.lamps[kYellow].on, green = head.lamps[kGreen].on;
    int lit = int(red) + int(yellow) + int(green);

    if (lit == 1) {
        int lamp = red ? kRed : yellow ? kYellow : kGreen;
        Phase target = lampPhase(lamp);
        if (head.phase == target)
            return;
        const Lamp &l = head.lamps[lamp];
        std::optional<Nanos> start;
        if (l.onSince && (!head.since || *l.onSince >= *head.since)) {
            start = l.onSince; /* the lamp came on: its on-edge begins the phase */
        } else {
            /* It was already lit (after a conflict or flashing): the phase began when the
             * last other lamp went out. */
            for (int other = 0; other < 3; ++other)
                if (other != lamp)
                    keepLatest(start, head.lamps[other].offSince);
            if (start && head.since && *start < *head.since)
                start = head.since;
        }
        setPhase(index, target, start, now, "");
        return;
    }

    Phase target;
    Nanos hold;
    std::optional<Nanos> since;
    std::string detail;
    if (lit == 0) {
        if (head.phase == Phase::Dark)
            return;
        for (const Lamp &l : head.lamps)
            keepLatest(since, l.offSince);
        target = Phase::Dark;
        hold = config_.darkHoldNs;
        detail = "no lamp lit";
    } else {
        if (head.phase == Phase::Conflict)
            return;
        keepLatest(since, red ? head.lamps[kRed].onSince : std::nullopt);
        keepLatest(since, yellow ? head.lamps[kYellow].onSince : std::nullopt);
        keepLatest(since, green ? head.lamps[kGreen].onSince : std::nullopt);
        target = Phase::Conflict;
        if (red && green) {
            hold = config_.conflictHoldNs;
            detail = yellow ? "red, yellow and green lit together" : "red and green lit together";
        } else {
            hold = config_.invalidHoldNs;
            detail = red ? "red and yellow lit together" : "yellow and green lit together";
        }
    }
    Nanos holdFrom = since.value_or(beganAt_);
    if (now - holdFrom >= hold)
        setPhase(index, target, since, now, detail);
    else
        head.holdDeadline = holdFrom + hold;
}

void PhaseDecoder::setFault(Head &head, SignalFault::Kind kind, bool active, Nanos at, Nanos now,
                            const std::string &detail)
{
    bool &flag = head.faults[static_cast<std::size_t>(kind)];
    if (flag == active)
        return;
    flag = active;
    if (sink_.onFault)
        sink_.onFault(SignalFault{head.config.name, kind, active, Stamp{at, now}, detail});
}

void PhaseDecoder::setPhase(std::size_t index, Phase phase, std::optional<Nanos> start, Nanos now,
                            const std::string &detail)
{
    Head &head = heads_[index];
    Phase previous = head.phase;
    std::optional<Nanos> previousSince = head.since;
    Nanos at = start.value_or(now);

    PhaseChange change;
    change.head = head.config.name;
    change.phase = phase;
    change.previous = previous;
    change.at = Stamp{at, now};
    if (start && previousSince && *start > *previousSince)
        change.previousDurationNs = *start - *previousSince;

    head.phase = phase;
    head.since = start;
    if (sink_.onPhase)
        sink_.onPhase(change);

    auto oldFault = faultOf(previous);
    auto newFault = faultOf(phase);
    if (oldFault && oldFault != newFault)
        setFault(head, *oldFault, false, at, now, "");
    if (newFault)
        setFault(head, *newFault, true, at, now, detail);

    if (previous == Phase::Yellow && start && previousSince && sink_.onInterval)
        sink_.onInterval(SignalInterval{SignalInterval::Kind::Yellow, head.config.name,
                                        *previousSince, *start, *start - *previousSince, phase});

    for (std::size_t g : head.groups) {
        Group &group = groups_[g];
        if (previous == Phase::Red && phase != Phase::Red) {
            if (group.allRedSince && start && sink_.onInterval)
                sink_.onInterval(SignalInterval{SignalInterval::Kind::AllRed, group.config.name,
                                                *group.allRedSince, *start,
                                                *start - *group.allRedSince, phase});
            group.allRedSince.reset();
        }
        if (phase == Phase::Red) {
            std::optional<Nanos> latest;
            bool allRed = true;
            for (std::size_t h : group.heads) {
                if (heads_[h].phase != Phase::Red)
                    allRed = false;
                else /* a red seen since start began earlier than any we timed */
                    keepLatest(latest, heads_[h].since);
            }
            if (allRed && latest)
                group.allRedSince = latest;
        }
    }
}

Phase PhaseDecoder::phase(const std::string &name) const
{
    for (const Head &head : heads_)
        if (head.config.name == name)
            return head.phase;
    return Phase::Unknown;
}

bool PhaseDecoder::faultFree() const
{
    for (const Head &head : heads_)
        for (bool fault : head.faults)
            if (fault)
                return false;
    return true;
}

std::uint64_t PhaseDecoder::glitches() const
{
    std::uint64_t total = 0;
    for (const Head &head : heads_)
        for (const Lamp &lamp : head.lamps)
            total += lamp.debouncer.glitches();
    return total;
}

} /* namespace stopline::drivers */

#include "drivers/loops/loop_tracker.h"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace stopline::drivers {

LoopTracker::LoopTracker(LoopTrackerConfig config, LoopSink sink)
    : config_(std::move(config)), sink_(std::move(sink))
{
    if (config_.lanes.empty())
        throw std::invalid_argument("loops: no lanes configured");
    std::set<std::string> used;
    for (const LoopLaneConfig &laneConfig : config_.lanes) {
        std::string lane = laneConfig.approach + " lane " + std::to_string(laneConfig.lane);
        if (!(laneConfig.spacingM > 0))
            throw std::invalid_argument("loops: " + lane + ": loop spacing must be positive");
        for (const std::string *name : {&laneConfig.entryLoop, &laneConfig.exitLoop}) {
            if (name->empty())
                throw std::invalid_argument("loops: " + lane + ": loop line name missing");
            if (!used.insert(*name).second)
                throw std::invalid_argument("loops: " + lane + ": loop '" + *name +
                                            "' is used twice");
            Loop loop;
            loop.name = *name;
            loop.debouncer = EdgeDebouncer(config_.debounceNs, config_.quietNs);
            loop.lane = lanes_.size();
            loop.entry = name == &laneConfig.entryLoop;
            loops_.push_back(std::move(loop));
            inputs_.push_back(*name);
        }
        lanes_.push_back(Lane{laneConfig, {}});
    }
}

void LoopTracker::begin(const std::vector<bool> &levels, Nanos now)
{
    advancedTo_ = now;
    for (std::size_t i = 0; i < loops_.size(); ++i)
        loops_[i].debouncer.reset(i < levels.size() && levels[i]);
    /* A vehicle already on a loop at start has no measurable entry time: not paired. */
}

void LoopTracker::edge(std::size_t input, bool level, Nanos t)
{
    if (input >= loops_.size())
        return;
    t = std::max(t, advancedTo_);
    advance(t);
    loops_[input].debouncer.edge(level, t);
}

std::optional<Nanos> LoopTracker::deadline() const
{
    std::optional<Nanos> earliest;
    auto keep = [&](std::optional<Nanos> t) {
        if (t && (!earliest || *t < *earliest))
            earliest = t;
    };
    for (const Loop &loop : loops_)
        keep(loop.debouncer.deadline());
    for (const Lane &lane : lanes_)
        for (const Pending &p : lane.pending)
            if (p.entryOffNs)
                keep(*p.entryOffNs + config_.maxTravelNs);
    return earliest;
}

void LoopTracker::advance(Nanos now)
{
    for (int guard = 0; guard < 100000; ++guard) {
        std::optional<Nanos> next = deadline();
        if (!next || *next > now)
            break;
        Nanos at = std::max(*next, advancedTo_);
        step(at);
        advancedTo_ = at;
    }
    advancedTo_ = std::max(advancedTo_, now);
}

void LoopTracker::step(Nanos now)
{
    std::vector<std::pair<EdgeDebouncer::Change, std::size_t>> changes;
    for (std::size_t i = 0; i < loops_.size(); ++i)
        if (auto change = loops_[i].debouncer.advance(now))
            changes.emplace_back(*change, i);
    std::sort(changes.begin(), changes.end(),
              [](const auto &a, const auto &b) { return a.first.at < b.first.at; });
    for (const auto &[change, loop] : changes)
        apply(loop, change, now);
    for (Lane &lane : lanes_)
        expire(lane, now);
}

void LoopTracker::expire(Lane &lane, Nanos now)
{
    auto stale = [&](const Pending &p) {
        return p.entryOffNs && now >= *p.entryOffNs + config_.maxTravelNs;
    };
    std::size_t before = lane.pending.size();
    lane.pending.erase(std::remove_if(lane.pending.begin(), lane.pending.end(), stale),
                       lane.pending.end());
    unpairedEntries_ += before - lane.pending.size();
}

void LoopTracker::apply(std::size_t index, const EdgeDebouncer::Change &change, Nanos now)
{
    Loop &loop = loops_[index];
    Lane &lane = lanes_[loop.lane];
    if (sink_.onPresence)
        sink_.onPresence(LoopPresence{loop.name, change.level, Stamp{change.at, now}});

    if (loop.entry) {
        if (change.level) {
            lane.pending.push_back(Pending{change.at, std::nullopt});
        } else {
            /* The vehicle that left is the latest one still on the loop. */
            for (auto it = lane.pending.rbegin(); it != lane.pending.rend(); ++it)
                if (!it->entryOffNs) {
                    it->entryOffNs = change.at;
                    break;
                }
        }
        return;
    }
    if (!change.level)
        return;
    /* Exit loop reached: pair with the oldest vehicle that entered before. */
    expire(lane, change.at);
    while (!lane.pending.empty() && lane.pending.front().entryOnNs >= change.at) {
        /* cannot happen in time order; guard against clock oddities */
        lane.pending.pop_front();
        ++unpairedEntries_;
    }
    if (lane.pending.empty()) {
        ++unpairedExits_;
        return;
    }
    Pending entry = lane.pending.front();
    lane.pending.pop_front();
    LoopCrossing crossing;
    crossing.approach = lane.config.approach;
    crossing.lane = lane.config.lane;
    crossing.entryOnNs = entry.entryOnNs;
    crossing.exitOnNs = change.at;
    crossing.entryOffNs = entry.entryOffNs.value_or(0);
    crossing.spacingM = lane.config.spacingM;
    crossing.entryLengthM = lane.config.entryLengthM;
    crossing.exitLengthM = lane.config.exitLengthM;
    crossing.speedMps = lane.config.spacingM /
                        (static_cast<double>(change.at - entry.entryOnNs) / kNanosPerSecond);
    if (sink_.onCrossing)
        sink_.onCrossing(crossing);
}

bool LoopTracker::occupied(const std::string &name) const
{
    for (const Loop &loop : loops_)
        if (loop.name == name)
            return loop.debouncer.level();
    return false;
}

} /* namespace stopline::drivers */

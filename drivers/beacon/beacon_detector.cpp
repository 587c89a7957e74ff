#include "drivers/beacon/beacon_detector.h"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace stopline::drivers {

BeaconDetector::BeaconDetector(BeaconDetectorConfig config,
                               std::function<void(const BeaconState &)> sink)
    : config_(std::move(config)), sink_(std::move(sink))
{
    if (config_.beacons.empty())
        throw std::invalid_argument("beacon: no beacons configured");
    if (config_.periods == 0 || config_.minPeriodNs >= config_.maxPeriodNs)
        throw std::invalid_argument("beacon: flash period range is empty");
    if (config_.lossTimeoutNs < config_.maxPeriodNs)
        throw std::invalid_argument("beacon: loss timeout shorter than the longest flash period");
    std::set<std::string> lines;
    for (const BeaconConfig &beaconConfig : config_.beacons) {
        if (beaconConfig.line.empty())
            throw std::invalid_argument("beacon '" + beaconConfig.name + "': no line");
        if (!lines.insert(beaconConfig.line).second)
            throw std::invalid_argument("beacon '" + beaconConfig.name + "': line '" +
                                        beaconConfig.line + "' is used twice");
        Beacon beacon;
        beacon.config = beaconConfig;
        beacon.debouncer = EdgeDebouncer(config_.debounceNs, config_.quietNs);
        beacons_.push_back(std::move(beacon));
        inputs_.push_back(beaconConfig.line);
    }
}

void BeaconDetector::begin(const std::vector<bool> &levels, Nanos now)
{
    advancedTo_ = now;
    for (std::size_t i = 0; i < beacons_.size(); ++i) {
        beacons_[i].debouncer.reset(i < levels.size() && levels[i]);
        /* Nothing is known to flash yet: say so, so consumers start from a definite state. */
        publish(beacons_[i], false, now, now);
    }
}

void BeaconDetector::edge(std::size_t input, bool level, Nanos t)
{
    if (input >= beacons_.size())
        return;
    t = std::max(t, advancedTo_);
    advance(t);
    beacons_[input].debouncer.edge(level, t);
}

std::optional<Nanos> BeaconDetector::deadline() const
{
    std::optional<Nanos> earliest;
    auto keep = [&](std::optional<Nanos> t) {
        if (t && (!earliest || *t < *earliest))
            earliest = t;
    };
    for (const Beacon &beacon : beacons_) {
        keep(beacon.debouncer.deadline());
        if (beacon.active && !beacon.onEdges.empty())
            keep(beacon.onEdges.back() + config_.lossTimeoutNs);
    }
    return earliest;
}

void BeaconDetector::advance(Nanos now)
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

void BeaconDetector::step(Nanos now)
{
    for (Beacon &beacon : beacons_) {
        if (auto change = beacon.debouncer.advance(now)) {
            beacon.lastEdge = change->at;
            if (change->level) {
                beacon.onEdges.push_back(change->at);
                while (beacon.onEdges.size() > config_.periods + 1)
                    beacon.onEdges.pop_front();
            }
        }
        if (!beacon.active && beacon.onEdges.size() == config_.periods + 1) {
            bool regular = true;
            for (std::size_t i = 1; i < beacon.onEdges.size(); ++i) {
                Nanos period = beacon.onEdges[i] - beacon.onEdges[i - 1];
                regular = regular && period >= config_.minPeriodNs && period <= config_.maxPeriodNs;
            }
            if (regular)
                publish(beacon, true, beacon.onEdges.front(), now);
        } else if (beacon.active && now >= beacon.onEdges.back() + config_.lossTimeoutNs) {
            /* Inactive since the lamp's last change: dark since its last off-edge, or
             * stuck on since its last on-edge. */
            publish(beacon, false, beacon.lastEdge.value_or(now), now);
            beacon.onEdges.clear();
        }
    }
}

void BeaconDetector::publish(Beacon &beacon, bool active, Nanos since, Nanos now)
{
    beacon.active = active;
    if (sink_)
        sink_(BeaconState{beacon.config.name, active, since, Stamp{since, now}});
}

bool BeaconDetector::active(const std::string &name) const
{
    for (const Beacon &beacon : beacons_)
        if (beacon.config.name == name)
            return beacon.active;
    return false;
}

} /* namespace stopline::drivers */

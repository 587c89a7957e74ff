#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "drivers/edge_debouncer.h"
#include "drivers/events.h"
#include "drivers/gpio_machine.h"

namespace stopline::drivers {

/* One lane's entry/exit loop pair (entry before the stop line, exit after it). */
struct LoopLaneConfig
{
    std::string approach;
    unsigned lane = 0;
    std::string entryLoop; /* hal line names */
    std::string exitLoop;
    double spacingM = 0; /* leading edge of entry loop to leading edge of exit loop */
    /* Loop lengths along travel; with both, the crossing can be estimated from all four
     * instants of a pass (see crossing_estimate.h). 0: not known. */
    double entryLengthM = 0;
    double exitLengthM = 0;
};

struct LoopTrackerConfig
{
    std::vector<LoopLaneConfig> lanes;
    Nanos debounceNs = 20 * kNanosPerMilli;
    Nanos quietNs = 5 * kNanosPerMilli;
    /* An entry whose vehicle left the entry loop this long ago without reaching the exit
     * loop is dropped (it turned, or the exit loop missed it). A vehicle still standing on
     * the entry loop (queued at red) is kept however long it waits. */
    Nanos maxTravelNs = 10 * kNanosPerSecond;
};

struct LoopSink
{
    std::function<void(const LoopPresence &)> onPresence;
    std::function<void(const LoopCrossing &)> onCrossing;
};

/* Loop detector contact closures -> presence per loop (debounced, stamped with the first
 * edge) and, per lane, entry/exit pairs -> crossing events with the speed the loop spacing
 * gives. Pairs first-in first-out, as vehicles cannot overtake within a lane's loops. A pure
 * state machine on event time (see GpioMachine). */
class LoopTracker : public GpioMachine
{
public:
    /* Throws std::invalid_argument naming the problem (no lanes, spacing not positive, a
     * loop in two lanes). */
    LoopTracker(LoopTrackerConfig config, LoopSink sink);

    std::vector<std::string> inputs() const override { return inputs_; }
    void begin(const std::vector<bool> &levels, Nanos now) override;
    void edge(std::size_t input, bool level, Nanos t) override;
    void advance(Nanos now) override;
    std::optional<Nanos> deadline() const override;

    bool occupied(const std::string &loop) const;
    std::uint64_t unpairedEntries() const { return unpairedEntries_; }
    std::uint64_t unpairedExits() const { return unpairedExits_; }

private:
    struct Loop
    {
        std::string name;
        EdgeDebouncer debouncer;
        std::size_t lane = 0;
        bool entry = true;
    };
    struct Pending
    {
        Nanos entryOnNs = 0;
        std::optional<Nanos> entryOffNs;
    };
    struct Lane
    {
        LoopLaneConfig config;
        std::deque<Pending> pending;
    };

    void step(Nanos now);
    void apply(std::size_t loop, const EdgeDebouncer::Change &change, Nanos now);
    void expire(Lane &lane, Nanos now);

    LoopTrackerConfig config_;
    LoopSink sink_;
    std::vector<std::string> inputs_;
    std::vector<Loop> loops_;
    std::vector<Lane> lanes_;
    Nanos advancedTo_ = 0;
    std::uint64_t unpairedEntries_ = 0;
    std::uint64_t unpairedExits_ = 0;
};

} /* namespace stopline::drivers */

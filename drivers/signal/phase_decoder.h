#pragma once

#include <array>
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

/* One signal head as wired: the hal line names of its lamps (empty = lamp not wired). */
struct SignalHeadConfig
{
    std::string name; /* "NB" */
    std::string red;
    std::string yellow;
    std::string green;
};

/* Heads whose common red is an all-red clearance interval (one intersection's conflicting
 * approaches). */
struct AllRedGroup
{
    std::string name;
    std::vector<std::string> heads;
};

struct PhaseDecoderConfig
{
    std::vector<SignalHeadConfig> heads;
    /* Empty: one group "all" of every head, when there are at least two. */
    std::vector<AllRedGroup> allRedGroups;
    Nanos debounceNs = 30 * kNanosPerMilli;     /* a lamp change must hold this long */
    Nanos quietNs = 5 * kNanosPerMilli;         /* see EdgeDebouncer */
    Nanos conflictHoldNs = 50 * kNanosPerMilli; /* red with green this long: conflict */
    Nanos invalidHoldNs = 500 * kNanosPerMilli; /* yellow with red or green: conflict */
    Nanos darkHoldNs = 2 * kNanosPerSecond;     /* no lamp this long: dark head */
    /* Flashing: a lamp's on-edges `flashPeriods` times in a row this far apart (MUTCD:
     * 50-60 flashes a minute; the range is generous). */
    Nanos flashMinPeriodNs = 400 * kNanosPerMilli;
    Nanos flashMaxPeriodNs = 2 * kNanosPerSecond;
    unsigned flashPeriods = 2;
};

/* The longest a fault that has begun can go unreported: the dark and conflict holds, and
 * for flashing the first off-time plus `flashPeriods` periods at the slowest flash rate,
 * each behind the lamp debounce. A decision about a crossing is final only this long after
 * it (the red-light rule's signal settle time). */
Nanos faultRecognitionLatency(const PhaseDecoderConfig &config);

/* Where the decoder's conclusions go; any may be empty. */
struct SignalSink
{
    std::function<void(const PhaseChange &)> onPhase;
    std::function<void(const SignalFault &)> onFault;
    std::function<void(const SignalInterval &)> onInterval;
};

/* Red/yellow/green lines per head -> phase, with debounce, interval measurement and the
 * conflict monitor's faults (red with green, dark head, flashing mode). Every time it
 * reports is the kernel timestamp of the first edge of the change, never a debounce or
 * hold expiry, so yellow and all-red durations are measured edge to edge. A pure state
 * machine on event time (see GpioMachine). */
class PhaseDecoder : public GpioMachine
{
public:
    /* Throws std::invalid_argument naming the problem (no lamps, a line used twice,
     * unknown head in a group). */
    PhaseDecoder(PhaseDecoderConfig config, SignalSink sink);

    std::vector<std::string> inputs() const override { return inputs_; }
    void begin(const std::vector<bool> &levels, Nanos now) override;
    void edge(std::size_t input, bool level, Nanos t) override;
    void advance(Nanos now) override;
    std::optional<Nanos> deadline() const override;

    Phase phase(const std::string &head) const;
    /* False while any head has an active fault: enforcement is suspended. */
    bool faultFree() const;
    std::uint64_t lateEdges() const { return lateEdges_; }
    std::uint64_t glitches() const;

private:
    enum LampIndex { kRed = 0, kYellow = 1, kGreen = 2 };

    struct Lamp
    {
        bool wired = false;
        EdgeDebouncer debouncer;
        bool on = false;
        std::optional<Nanos> onSince;
        std::optional<Nanos> offSince;
        std::deque<Nanos> onEdges;  /* recent accepted on-edges, for flash detection */
        std::deque<Nanos> offEdges; /* recent accepted off-edges: when a flashing began */
    };

    struct Head
    {
        SignalHeadConfig config;
        std::array<Lamp, 3> lamps;
        Phase phase = Phase::Unknown;
        std::optional<Nanos> since; /* when `phase` began; unknown for the phase seen at start */
        std::optional<Nanos> holdDeadline;  /* a pending combination's hold expiry */
        std::optional<Nanos> flashDeadline; /* flashing ends if no on-edge by then */
        std::array<bool, 4> faults{};       /* by SignalFault::Kind */
        std::vector<std::size_t> groups;
    };

    struct Group
    {
        AllRedGroup config;
        std::vector<std::size_t> heads;
        std::optional<Nanos> allRedSince;
    };

    void step(Nanos now);
    void evaluate(Head &head, Nanos now);
    std::optional<std::pair<Nanos, Phase>> flashing(const Head &head, Nanos now) const;
    void setPhase(std::size_t index, Phase phase, std::optional<Nanos> start, Nanos now,
                  const std::string &detail);
    void setFault(Head &head, SignalFault::Kind kind, bool active, Nanos at, Nanos now,
                  const std::string &detail);

    PhaseDecoderConfig config_;
    SignalSink sink_;
    std::vector<std::string> inputs_;
    std::vector<std::pair<std::size_t, int>> inputMap_; /* input -> (head, lamp) */
    std::vector<Head> heads_;
    std::vector<Group> groups_;
    Nanos beganAt_ = 0;
    Nanos advancedTo_ = 0;
    std::uint64_t lateEdges_ = 0;
};

} /* namespace stopline::drivers */

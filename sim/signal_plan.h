#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hal/time.h"
#include "sim/scenario.h"

/* The signal controller: a fixed-time ring of phases, unrolled cycle by cycle into
 * intervals so that every question the simulation asks (what does this head show now,
 * when does it next turn green, when did this red begin) has an exact answer in
 * nanoseconds. Times are relative to the start of the scenario. */
namespace stopline::sim {

enum class HeadPhase { Green, Yellow, Red };

const char *headPhaseName(HeadPhase phase);

/* Lamp bits of a head as the GPIO lines show them. */
enum LampBits : std::uint8_t { kLampRed = 1, kLampYellow = 2, kLampGreen = 4 };

struct PhaseInterval
{
    Nanos start = 0;
    Nanos end = 0;
    HeadPhase phase = HeadPhase::Red;
};

struct LampChange
{
    Nanos at = 0;
    std::uint8_t lamps = 0;
};

inline Nanos secondsToNanos(double s)
{
    return static_cast<Nanos>(std::llround(s * 1e9));
}
inline double nanosToSeconds(Nanos ns)
{
    return static_cast<double>(ns) * 1e-9;
}

class SignalTimeline
{
public:
    /* Unrolls the plan from before the start until `horizon`, and applies the signal
     * faults to what the lamps show (the controller itself keeps running). */
    SignalTimeline(const SignalSpec &spec, const std::vector<SignalFault> &faults, Nanos horizon);

    bool hasHead(const std::string &head) const { return intervals_.count(head) != 0; }

    /* What the controller commands the head to show. */
    HeadPhase phaseAt(const std::string &head, Nanos t) const;
    const PhaseInterval &intervalAt(const std::string &head, Nanos t) const;
    const std::vector<PhaseInterval> &intervals(const std::string &head) const;

    /* The first moment at or after t at which the head shows green. */
    std::optional<Nanos> nextGreen(const std::string &head, Nanos t) const;

    /* Lamps lit at t and their changes, faults included (chatter is electrical and
     * lives with the GPIO lines, not here). */
    std::uint8_t lampsAt(const std::string &head, Nanos t) const;
    const std::vector<LampChange> &lampChanges(const std::string &head) const;

    /* The fault that governs the head's lamps at t, if any. */
    const SignalFault *faultAt(const std::string &head, Nanos t) const;

private:
    std::uint8_t plannedLamps(const std::string &head, Nanos t) const;

    std::map<std::string, std::vector<PhaseInterval>> intervals_;
    std::map<std::string, std::vector<LampChange>> lamps_;
    std::vector<SignalFault> faults_;
};

} /* namespace stopline::sim */

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hal/time.h"

/* What the drivers tell the pipeline. Each driver is a pure parser or state machine
 * (bytes or edges in, these events out); the pipeline's rules consume nothing else.
 * Times are CLOCK_MONOTONIC nanoseconds: sampleNs from the kernel edge timestamp or
 * the serial read, seenNs when this process handled it. */
namespace stopline::drivers {

enum class Phase {
    Unknown,
    Green,
    Yellow,
    Red,
    Dark, /* no lamp lit */
    FlashingRed,
    FlashingYellow,
    Conflict, /* e.g. red and green lit together: a fault, never a basis to cite */
};

const char *phaseName(Phase phase);

/* A signal head changed what it shows (after debounce). */
struct PhaseChange
{
    std::string head;
    Phase phase = Phase::Unknown;
    Phase previous = Phase::Unknown;
    Stamp at;                     /* sampleNs: the edge that began the new phase */
    Nanos previousDurationNs = 0; /* how long `previous` was shown; 0 if unknown */
};

/* A signal-sensing fault begins or ends. Enforcement is suspended while any is active. */
struct SignalFault
{
    enum class Kind { Conflict, Dark, Flashing, Stuck };
    std::string head;
    Kind kind = Kind::Conflict;
    bool active = true; /* false: the fault cleared */
    Stamp at;
    std::string detail;
};

/* An interval measured as shown, edge to edge on kernel timestamps: every yellow of every
 * head, and every all-red of a group of heads (from the last head turning red to the first
 * leaving red). These durations go into evidence. */
struct SignalInterval
{
    enum class Kind { Yellow, AllRed };
    Kind kind = Kind::Yellow;
    std::string head;  /* the head (Yellow) or the group's name (AllRed) */
    Nanos startNs = 0; /* first edge of the change that began it */
    Nanos endNs = 0;   /* first edge of the change that ended it */
    Nanos durationNs = 0;
    Phase next = Phase::Unknown; /* what followed: Red after a yellow, Green after an all-red */
};

/* One loop detector's presence changed. */
struct LoopPresence
{
    std::string loop;
    bool occupied = false;
    Stamp at;
};

/* A vehicle crossed an entry/exit loop pair of one lane. */
struct LoopCrossing
{
    std::string approach;
    unsigned lane = 0;
    Nanos entryOnNs = 0;     /* leading edge reached the entry loop */
    Nanos exitOnNs = 0;      /* leading edge reached the exit loop */
    Nanos entryOffNs = 0;    /* 0 while still occupied */
    double spacingM = 0;     /* leading edge to leading edge */
    double speedMps = 0;     /* spacingM / (exitOn - entryOn) */
    double entryLengthM = 0; /* loop lengths along travel, 0 when not configured */
    double exitLengthM = 0;
};

enum class SpeedUnit { Mph, Kmh, MetersPerSecond, FeetPerSecond, CentimetersPerSecond };

struct RadarTarget
{
    double speed = 0;     /* signed as the sensor sends it: positive inbound */
    double magnitude = 0; /* 0 when the sensor did not report one */
};

/* One radar report line. */
struct RadarReport
{
    std::vector<RadarTarget> targets; /* strongest first */
    SpeedUnit unit = SpeedUnit::Mph;
    Stamp at;                                /* sampleNs: when the line's last byte was read */
    std::optional<double> sensorTimeS;       /* the radar's own clock, when it sent one */
    std::optional<std::uint64_t> sensorTick; /* the radar's frame counter, when it sent one */
};

/* The school-zone beacon's flashing state. */
struct BeaconState
{
    std::string beacon;
    bool active = false;
    Nanos sinceNs = 0; /* when it became active (first flash edge) or inactive */
    Stamp at;
};

} /* namespace stopline::drivers */

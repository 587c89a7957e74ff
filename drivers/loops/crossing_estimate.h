#pragma once

#include <optional>
#include <string>

#include "hal/time.h"

namespace stopline::drivers {

/* Where the loops and the stop line lie along one lane, in metres from the entry loop's
 * leading edge (the edge a vehicle reaches first). */
struct LoopGeometry
{
    double stopLineM = 0;    /* entry leading edge to the stop line */
    double spacingM = 0;     /* entry leading edge to exit leading edge */
    double entryLengthM = 0; /* along travel; 0: unknown (only interpolation is possible) */
    double exitLengthM = 0;
    /* The largest acceleration assumed for a vehicle pulling away after a stop, m/s²:
     * it bounds how far its speed over the exit loop can differ from its speed at the
     * line. About 3 m/s² is a brisk start for a passenger car. */
    double maxStartAccelMps2 = 3.0;
};

/* The four loop instants of one vehicle's pass (leading edge on, trailing edge off). */
struct LoopPassTimes
{
    Nanos entryOnNs = 0;
    Nanos exitOnNs = 0;
    std::optional<Nanos> entryOffNs;
    std::optional<Nanos> exitOffNs;
};

/* When the front of a vehicle reached the stop line, as an interval: the stop line lies
 * between the loops, so the instant is inferred from motion, never observed. */
struct CrossingEstimate
{
    enum class Method {
        Interpolated, /* constant speed between the leading-edge instants (provisional) */
        Kinematic,    /* every model the four instants support agrees within the interval */
        AfterStop,    /* the vehicle stopped over the loops: undated (see below) */
    };
    Method method = Method::Interpolated;
    Nanos atNs = 0; /* best estimate: the middle of the interval */
    Nanos earliestNs = 0;
    Nanos latestNs = 0;
    double speedMps = 0; /* at the line, best estimate */
    double speedLowMps = 0;
    double speedHighMps = 0;
    /* Set with AfterStop: the vehicle stood on the loops, and loops cannot tell whether it
     * stopped before the line (then crossed when it pulled away) or crept over it first;
     * the interval then reaches back to its arrival on the entry loop. */
    bool stopped = false;

    Nanos uncertaintyNs() const { return std::max(atNs - earliestNs, latestNs - atNs); }
};

const char *crossingMethodName(CrossingEstimate::Method method);

/* Estimates the stop-line crossing from the pass's instants. With only the leading edges
 * it interpolates at constant speed. With all four instants (and the loop lengths) it
 * also fits constant acceleration through all four (exact for steady braking or
 * acceleration) and constant speed over the exit side anchored at the exit loop (exact for
 * a vehicle that slowed to a steady turning speed before the line), and reports the
 * interval spanning every model that is physically possible (positive speed, a vehicle
 * length of 1-30 m). When constant acceleration through the whole pass needs a negative
 * speed, the vehicle stopped on the loops: see CrossingEstimate::stopped. A pure function. */
CrossingEstimate estimateCrossing(const LoopPassTimes &pass, const LoopGeometry &geometry);

} /* namespace stopline::drivers */

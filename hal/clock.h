#pragma once

#include <string>

#include "hal/time.h"

namespace stopline::hal {

/* The kernel's view of how far UTC can be trusted (adjtimex(2)); evidence carries it so
 * a reviewer can tell a disciplined clock from a free-running one. */
struct ClockSync
{
    bool synchronized = false; /* NTP/PTP disciplined and not flagged STA_UNSYNC */
    Nanos estimatedErrorNs = 0;
    Nanos maximumErrorNs = 0;
    int state = 0; /* adjtimex() return: TIME_OK, TIME_INS, ..., TIME_ERROR */
    std::string source = "adjtimex";
};

/* One place that maps between the clocks the devices stamp with: CLOCK_MONOTONIC (libgpiod
 * v1 edges, the rules' timeline), CLOCK_BOOTTIME (libcamera SensorTimestamp, which keeps
 * counting through suspend) and UTC for the record (docs/architecture.md, Time). The
 * offsets are measured at each call, so a suspend or a step of the wall clock is picked up
 * at once. Thread-safe. */
class Clock
{
public:
    virtual ~Clock() = default;

    virtual Nanos monotonicNow() const;
    virtual Nanos boottimeNow() const;
    virtual Nanos utcNow() const;

    /* BOOTTIME - MONOTONIC: time spent suspended since boot. */
    virtual Nanos boottimeOffset() const;
    /* REALTIME - MONOTONIC: the epoch of the monotonic timeline in UTC. */
    virtual Nanos utcOffset() const;

    Nanos boottimeToMonotonic(Nanos boottimeNs) const { return boottimeNs - boottimeOffset(); }
    Nanos monotonicToBoottime(Nanos monotonicNs) const { return monotonicNs + boottimeOffset(); }
    Nanos monotonicToUtc(Nanos monotonicNs) const { return monotonicNs + utcOffset(); }
    Nanos utcToMonotonic(Nanos utcNs) const { return utcNs - utcOffset(); }

    /* Sync state now; a failing adjtimex() is reported as not synchronized. */
    virtual ClockSync sync() const;

    /* /proc/sys/kernel/random/boot_id: scopes monotonic values to one boot. */
    static std::string bootId();
};

} /* namespace stopline::hal */

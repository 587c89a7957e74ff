#include "hal/clock.h"

#include <fstream>
#include <sys/timex.h>

namespace stopline::hal {

namespace {

Nanos read(clockid_t id)
{
    timespec ts;
    clock_gettime(id, &ts);
    return static_cast<Nanos>(ts.tv_sec) * kNanosPerSecond + ts.tv_nsec;
}

/* Offset of `other` against CLOCK_MONOTONIC, from the tightest of a few monotonic
 * sandwiches (read M, other, M): the error is at most half the sandwich width. */
Nanos offsetAgainstMonotonic(clockid_t other)
{
    Nanos best = 0;
    Nanos bestWidth = -1;
    for (int i = 0; i < 3; ++i) {
        Nanos before = read(CLOCK_MONOTONIC);
        Nanos value = read(other);
        Nanos after = read(CLOCK_MONOTONIC);
        Nanos width = after - before;
        if (bestWidth < 0 || width < bestWidth) {
            bestWidth = width;
            best = value - (before + width / 2);
        }
    }
    return best;
}

} /* namespace */

Nanos Clock::monotonicNow() const
{
    return read(CLOCK_MONOTONIC);
}

Nanos Clock::boottimeNow() const
{
    return read(CLOCK_BOOTTIME);
}

Nanos Clock::utcNow() const
{
    return read(CLOCK_REALTIME);
}

Nanos Clock::boottimeOffset() const
{
    return offsetAgainstMonotonic(CLOCK_BOOTTIME);
}

Nanos Clock::utcOffset() const
{
    return offsetAgainstMonotonic(CLOCK_REALTIME);
}

ClockSync Clock::sync() const
{
    ClockSync result;
    timex tx{};
    tx.modes = 0; /* read only: allowed without privileges */
    int state = ::adjtimex(&tx);
    result.state = state;
    if (state < 0) {
        result.synchronized = false;
        result.source = "adjtimex (failed)";
        return result;
    }
    result.synchronized = state != TIME_ERROR && !(tx.status & STA_UNSYNC);
    /* esterror and maxerror are in microseconds (adjtimex(2)). */
    result.estimatedErrorNs = static_cast<Nanos>(tx.esterror) * 1000;
    result.maximumErrorNs = static_cast<Nanos>(tx.maxerror) * 1000;
    return result;
}

std::string Clock::bootId()
{
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string id;
    std::getline(in, id);
    return id;
}

} /* namespace stopline::hal */

#pragma once

#include <cstdint>
#include <ctime>

namespace stopline {

/* Nanoseconds on CLOCK_MONOTONIC unless the name says otherwise. Every duration the
 * rules compute is a difference of two of these (docs/architecture.md, Time). */
using Nanos = std::int64_t;

inline constexpr Nanos kNanosPerMicro = 1'000;
inline constexpr Nanos kNanosPerMilli = 1'000'000;
inline constexpr Nanos kNanosPerSecond = 1'000'000'000;

/* The two timestamps every measurement carries (the PX4 habit): when it happened,
 * from the kernel or the sensor, and when this process saw it. */
struct Stamp
{
    Nanos sampleNs = 0;
    Nanos seenNs = 0;
};

inline Nanos monotonicNow()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<Nanos>(ts.tv_sec) * kNanosPerSecond + ts.tv_nsec;
}

} /* namespace stopline */

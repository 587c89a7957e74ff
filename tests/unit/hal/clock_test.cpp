#include "hal/clock.h"

#include <cstdlib>

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::hal;

namespace {

Nanos raw(clockid_t id)
{
    timespec ts;
    clock_gettime(id, &ts);
    return Nanos(ts.tv_sec) * kNanosPerSecond + ts.tv_nsec;
}

} /* namespace */

TEST_GROUP(Clock)
{
    Clock clock;
};

TEST(Clock, BoottimeMapsOntoMonotonicAgainstTheKernelClocks)
{
    /* Independent expectation: the kernel's own readings, taken back to back. */
    Nanos boot = raw(CLOCK_BOOTTIME);
    Nanos mono = raw(CLOCK_MONOTONIC);
    Nanos mapped = clock.boottimeToMonotonic(boot);
    CHECK(mapped <= mono);
    CHECK(mono - mapped < 50 * kNanosPerMilli);       /* generous: loaded 2-core machine */
    CHECK(clock.boottimeOffset() >= -kNanosPerMilli); /* boottime never runs behind */
    /* Round trip within the jitter of two offset measurements. */
    Nanos t = 123 * kNanosPerSecond;
    CHECK(std::llabs(clock.boottimeToMonotonic(clock.monotonicToBoottime(t)) - t) <
          5 * kNanosPerMilli);
}

TEST(Clock, UtcMapsOntoMonotonicAgainstTheKernelClocks)
{
    Nanos mono = raw(CLOCK_MONOTONIC);
    Nanos utc = raw(CLOCK_REALTIME);
    Nanos mapped = clock.monotonicToUtc(mono);
    CHECK(std::llabs(mapped - utc) < 50 * kNanosPerMilli);
    /* Round trip within the jitter of two offset measurements. */
    CHECK(std::llabs(clock.utcToMonotonic(clock.monotonicToUtc(mono)) - mono) < 5 * kNanosPerMilli);
    CHECK(clock.utcNow() > 1'600'000'000 * kNanosPerSecond); /* after 2020 */
}

TEST(Clock, SyncStateFromAdjtimex)
{
    ClockSync sync = clock.sync();
    CHECK(sync.state >= 0); /* reading adjtimex needs no privilege */
    CHECK(sync.maximumErrorNs >= 0);
    CHECK(sync.estimatedErrorNs >= 0);
    STRCMP_EQUAL("adjtimex", sync.source.c_str());
    /* An unsynchronized clock must say so; a synchronized one must have a bounded error. */
    if (sync.synchronized)
        CHECK(sync.maximumErrorNs < 16 * kNanosPerSecond);
}

TEST(Clock, BootIdLooksLikeAUuid)
{
    std::string id = Clock::bootId();
    LONGS_EQUAL(36, id.size());
    BYTES_EQUAL('-', id[8]);
}

#include "pipeline/frame_ring/frame_ring.h"

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include <boost/asio/io_context.hpp>

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::pipeline;

namespace {

constexpr Nanos kMs = kNanosPerMilli;
constexpr Nanos kS = kNanosPerSecond;
constexpr Nanos kFrameInterval = 33'333'333; /* 30 fps */
constexpr Nanos kT0 = 1000 * kS;

/* A frame from `pool` stamped at `t`; nullptr when the pool is exhausted. */
hal::FramePtr frameAt(hal::FramePool &pool, Nanos t, std::uint64_t seq)
{
    std::shared_ptr<hal::Frame> f = pool.acquire();
    if (!f)
        return nullptr;
    f->sequence = seq;
    f->stamp.sampleNs = t;
    f->stamp.seenNs = t + kMs;
    f->width = 8;
    f->height = 8;
    f->stride = 8;
    f->format = hal::PixelFormat::GRAY8;
    return f;
}

FrameRing::Options options(double seconds, double fps)
{
    FrameRing::Options o;
    o.preTriggerSeconds = seconds;
    o.fps = fps;
    o.slackFrames = 2;
    return o;
}

/* Runs the io_context until `done` or a generous deadline (loaded CI machines). */
void runUntil(boost::asio::io_context &io, const std::function<bool()> &done)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_for(std::chrono::milliseconds(5));
    }
}

} /* namespace */

TEST_GROUP(FrameRing){};

TEST(FrameRing, nearestFrameSelection)
{
    boost::asio::io_context io;
    hal::FramePool pool(64, 80);
    FrameRing ring(options(2, 30), io.get_executor());
    CHECK(ring.nearest(kT0) == nullptr);
    for (int i = 0; i < 30; ++i)
        ring.push(frameAt(pool, kT0 + i * kFrameInterval, i));

    LONGS_EQUAL(10, ring.nearest(kT0 + 10 * kFrameInterval)->sequence);
    LONGS_EQUAL(10, ring.nearest(kT0 + 10 * kFrameInterval + kFrameInterval / 2 - 1)->sequence);
    LONGS_EQUAL(11, ring.nearest(kT0 + 10 * kFrameInterval + kFrameInterval / 2 + 1)->sequence);
    LONGS_EQUAL(0, ring.nearest(kT0 - 5 * kS)->sequence);
    LONGS_EQUAL(29, ring.nearest(kT0 + 50 * kS)->sequence);

    /* An exact tie goes to the earlier frame. */
    hal::FramePool even(64, 4);
    FrameRing tie(options(2, 30), io.get_executor());
    tie.push(frameAt(even, 100, 1));
    tie.push(frameAt(even, 200, 2));
    LONGS_EQUAL(1, tie.nearest(150)->sequence);

    auto r = ring.range(kT0 + 5 * kFrameInterval, kT0 + 8 * kFrameInterval);
    LONGS_EQUAL(4, r.size());
    LONGS_EQUAL(5, r.front()->sequence);
    LONGS_EQUAL(8, r.back()->sequence);
}

TEST(FrameRing, boundedByFrameCountAndRecycled)
{
    boost::asio::io_context io;
    hal::FramePool pool(1000, 40);
    FrameRing ring(options(1, 10), io.get_executor()); /* cap = 10 + 2 */
    LONGS_EQUAL(12, ring.frameCap());
    for (int i = 0; i < 500; ++i) {
        hal::FramePtr f = frameAt(pool, kT0 + i * 100 * kMs, i);
        CHECK(f != nullptr); /* the pool never runs dry: evicted frames come back */
        ring.push(std::move(f));
    }
    FrameRing::Stats s = ring.stats();
    LONGS_EQUAL(12, s.frames);
    LONGS_EQUAL(12 * 1000, s.bytes);
    LONGS_EQUAL(12 * 1000, s.peakBytes);
    LONGS_EQUAL(500 - 12, s.evicted);
    LONGS_EQUAL(40 - 12, pool.available());
    LONGS_EQUAL(kT0 + 488 * 100 * kMs, s.oldestNs);
    LONGS_EQUAL(kT0 + 499 * 100 * kMs, s.newestNs);
}

TEST(FrameRing, boundedByBytes)
{
    boost::asio::io_context io;
    hal::FramePool pool(1000, 40);
    FrameRing::Options o = options(2, 30);
    o.maxBytes = 5500; /* five frames of 1000 bytes */
    FrameRing ring(o, io.get_executor());
    for (int i = 0; i < 100; ++i)
        ring.push(frameAt(pool, kT0 + i * kFrameInterval, i));
    LONGS_EQUAL(5, ring.stats().frames);
    CHECK(ring.stats().peakBytes <= 5500);
    LONGS_EQUAL(40 - 5, pool.available());
    LONGS_EQUAL(95, ring.nearest(0)->sequence);
}

TEST(FrameRing, outOfOrderAndNullFramesAreRefused)
{
    boost::asio::io_context io;
    hal::FramePool pool(64, 10);
    FrameRing ring(options(2, 30), io.get_executor());
    ring.push(frameAt(pool, kT0, 1));
    ring.push(frameAt(pool, kT0 - 1, 2));
    ring.push(frameAt(pool, kT0, 3));
    ring.push(nullptr);
    LONGS_EQUAL(1, ring.stats().frames);
    LONGS_EQUAL(3, ring.stats().refused);
    LONGS_EQUAL(10 - 1, pool.available());
}

TEST(FrameRing, snapshotOfHeldFramesCompletesOnTheExecutor)
{
    boost::asio::io_context io;
    hal::FramePool pool(64, 80);
    FrameRing ring(options(2, 30), io.get_executor());
    for (int i = 0; i < 60; ++i)
        ring.push(frameAt(pool, kT0 + i * kFrameInterval, i));

    SnapshotRequest req;
    req.keyTimes = {kT0 + 20 * kFrameInterval + 10 * kMs, kT0 + 40 * kFrameInterval - 10 * kMs};
    req.rangeFrom = kT0 + 10 * kFrameInterval;
    req.rangeTo = kT0 + 50 * kFrameInterval;
    req.rangeSpacingNs = 200 * kMs; /* 5 fps from 30 fps */
    std::optional<Snapshot> got;
    ring.request(req, [&](Snapshot s) { got = std::move(s); });
    CHECK_FALSE(got.has_value()); /* never run inline */
    io.run();
    CHECK(got.has_value());
    STRCMP_EQUAL("complete", snapshotStatusName(got->status));
    LONGS_EQUAL(20, got->keyFrames[0]->sequence);
    LONGS_EQUAL(40, got->keyFrames[1]->sequence);
    /* 40 frames over 1.33 s, one per 200 ms slot: 7 frames, 6 source frames apart. */
    LONGS_EQUAL(7, got->range.size());
    for (std::size_t i = 1; i < got->range.size(); ++i)
        LONGS_EQUAL(6, got->range[i]->sequence - got->range[i - 1]->sequence);
}

TEST(FrameRing, waitsForPostTriggerFramesWithoutBlocking)
{
    boost::asio::io_context io;
    hal::FramePool pool(64, 200);
    FrameRing ring(options(2, 30), io.get_executor());
    for (int i = 0; i < 60; ++i)
        ring.push(frameAt(pool, kT0 + i * kFrameInterval, i));
    const Nanos trigger = kT0 + 59 * kFrameInterval;

    SnapshotRequest req;
    req.keyTimes = {trigger - 500 * kMs, trigger + 1 * kS};
    req.rangeFrom = trigger - 1 * kS;
    req.rangeTo = trigger + 1500 * kMs;
    req.timeoutNs = 30 * kS;
    std::optional<Snapshot> got;
    std::thread::id handlerThread;
    ring.request(req, [&](Snapshot s) {
        handlerThread = std::this_thread::get_id();
        got = std::move(s);
    });
    /* The camera runs on its own thread while the event loop keeps turning. */
    std::atomic<bool> stop{false};
    std::thread camera([&] {
        for (int i = 60; i < 200 && !stop; ++i) {
            hal::FramePtr f = frameAt(pool, kT0 + i * kFrameInterval, i);
            if (f)
                ring.push(std::move(f));
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    });
    int turns = 0;
    runUntil(io, [&] {
        ++turns;
        return got.has_value();
    });
    stop = true;
    camera.join();
    CHECK(got.has_value());
    CHECK(handlerThread == std::this_thread::get_id());
    STRCMP_EQUAL("complete", snapshotStatusName(got->status));
    /* Nearest to trigger + 1 s = frame 59 + 30 (exactly on a frame). */
    LONGS_EQUAL(89, got->keyFrames[1]->sequence);
    LONGS_EQUAL(44, got->keyFrames[0]->sequence); /* 59 - 15 */
    /* Every frame in [trigger - 1 s, trigger + 1.5 s]: 30 before, the trigger, 45 after. */
    LONGS_EQUAL(76, got->range.size());
    LONGS_EQUAL(29, got->range.front()->sequence);
    LONGS_EQUAL(104, got->range.back()->sequence);
    /* The snapshot outlived the ring's window: frames older than the ring are held. */
    CHECK(ring.stats().oldestNs > got->range.front()->stamp.sampleNs);
}

TEST(FrameRing, snapshotHoldsFramesUntilDroppedThenTheyRecycle)
{
    boost::asio::io_context io;
    hal::FramePool pool(64, 30);
    FrameRing ring(options(0.5, 10), io.get_executor()); /* cap 7 */
    for (int i = 0; i < 7; ++i)
        ring.push(frameAt(pool, kT0 + i * 100 * kMs, i));
    SnapshotRequest req;
    req.rangeFrom = kT0;
    req.rangeTo = kT0 + 2 * kS;
    std::optional<Snapshot> got;
    ring.request(req, [&](Snapshot s) { got = std::move(s); });
    for (int i = 7; i <= 20; ++i)
        ring.push(frameAt(pool, kT0 + i * 100 * kMs, i));
    io.run();
    CHECK(got.has_value());
    LONGS_EQUAL(21, got->range.size());
    /* The ring holds 7; the snapshot holds 21 (7 shared with the ring). */
    LONGS_EQUAL(30 - 21, pool.available());
    got.reset();
    LONGS_EQUAL(30 - 7, pool.available());
}

TEST(FrameRing, timesOutWhenTheCameraStalls)
{
    boost::asio::io_context io;
    hal::FramePool pool(64, 30);
    FrameRing ring(options(2, 30), io.get_executor());
    for (int i = 0; i < 10; ++i)
        ring.push(frameAt(pool, kT0 + i * kFrameInterval, i));
    SnapshotRequest req;
    req.keyTimes = {kT0 + 5 * kFrameInterval, kT0 + 5 * kS};
    req.timeoutNs = 50 * kMs;
    std::optional<Snapshot> got;
    ring.request(req, [&](Snapshot s) { got = std::move(s); });
    runUntil(io, [&] { return got.has_value(); });
    CHECK(got.has_value());
    STRCMP_EQUAL("timed_out", snapshotStatusName(got->status));
    LONGS_EQUAL(5, got->keyFrames[0]->sequence);
    LONGS_EQUAL(9, got->keyFrames[1]->sequence); /* the best there was */
    LONGS_EQUAL(0, ring.stats().pending);
}

TEST(FrameRing, cancelReleasesFramesAndNeverCalls)
{
    boost::asio::io_context io;
    hal::FramePool pool(64, 30);
    FrameRing ring(options(0.2, 10), io.get_executor()); /* cap 4 */
    SnapshotRequest req;
    req.rangeFrom = kT0;
    req.rangeTo = kT0 + 10 * kS;
    bool called = false;
    std::uint64_t id = ring.request(req, [&](Snapshot) { called = true; });
    for (int i = 0; i < 10; ++i)
        ring.push(frameAt(pool, kT0 + i * 100 * kMs, i));
    LONGS_EQUAL(30 - 10, pool.available());
    CHECK(ring.cancel(id));
    CHECK_FALSE(ring.cancel(id));
    LONGS_EQUAL(30 - 4, pool.available());
    io.run();
    CHECK_FALSE(called);
}

TEST(FrameRing, tooManyPendingRequestsAreRejected)
{
    boost::asio::io_context io;
    FrameRing::Options o = options(2, 30);
    o.maxPendingRequests = 2;
    FrameRing ring(o, io.get_executor());
    SnapshotRequest req;
    req.keyTimes = {kT0};
    int rejected = 0;
    for (int i = 0; i < 3; ++i)
        ring.request(req, [&](Snapshot s) { rejected += s.status == Snapshot::Status::Rejected; });
    io.poll();
    LONGS_EQUAL(1, rejected);
    LONGS_EQUAL(2, ring.stats().pending);
}

TEST(FrameRing, aSearchSpanKeepsEveryFrameBesideADecimatedClip)
{
    boost::asio::io_context io;
    hal::FramePool pool(64, 200);
    FrameRing ring(options(2, 30), io.get_executor());
    for (int i = 0; i < 120; ++i)
        ring.push(frameAt(pool, kT0 + i * kFrameInterval, i));
    SnapshotRequest req;
    req.rangeFrom = kT0;
    req.rangeTo = kT0 + 119 * kFrameInterval;
    req.rangeSpacingNs = 200 * kMs;
    /* Frames 90..105: the last 30 are held, the rest arrive. */
    req.searchFrom = kT0 + 90 * kFrameInterval;
    req.searchTo = kT0 + 105 * kFrameInterval;
    std::optional<Snapshot> got;
    ring.request(req, [&](Snapshot s) { got = std::move(s); });
    runUntil(io, [&] { return got.has_value(); });
    CHECK(got.has_value());
    LONGS_EQUAL(16, got->search.size());
    for (std::size_t i = 0; i < got->search.size(); ++i)
        LONGS_EQUAL(90 + i, got->search[i]->sequence);
    /* The clip stays decimated: one frame per 200 ms over the 62 frames still held
     * (about 2 s), never every frame. */
    CHECK(got->range.size() >= 9 && got->range.size() <= 11);
    for (std::size_t i = 1; i < got->range.size(); ++i)
        CHECK(got->range[i]->sequence - got->range[i - 1]->sequence >= 5);
}

#include "pipeline/frame_ring/frame_ring.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace stopline::pipeline {

namespace asio = boost::asio;

const char *snapshotStatusName(Snapshot::Status status)
{
    switch (status) {
    case Snapshot::Status::Complete:
        return "complete";
    case Snapshot::Status::TimedOut:
        return "timed_out";
    case Snapshot::Status::Rejected:
        return "rejected";
    }
    return "unknown";
}

namespace {

std::size_t heldBytes(const hal::Frame &frame)
{
    if (frame.size)
        return frame.size;
    return static_cast<std::size_t>(std::max(frame.stride, 0)) *
           static_cast<std::size_t>(std::max(frame.height, 0));
}

Nanos absDiff(Nanos a, Nanos b)
{
    return a > b ? a - b : b - a;
}

} /* namespace */

/* One snapshot being collected. Touched under Core::lock, except the timer, which
 * only the executor's thread touches. */
struct FrameRing::Pending
{
    Pending(asio::any_io_executor executor) : timer(std::move(executor)) {}

    SnapshotRequest request;
    Handler handler;
    Snapshot snapshot;
    std::vector<Nanos> bestDistance;
    std::int64_t lastSlot = -1;
    Nanos lastInstant = 0; /* the request completes once a frame at or past this came */
    bool done = false;
    asio::steady_timer timer;

    /* Offers one frame (frames come oldest first); returns true when complete. */
    bool offer(const hal::FramePtr &frame)
    {
        const Nanos t = frame->stamp.sampleNs;
        for (std::size_t i = 0; i < request.keyTimes.size(); ++i) {
            Nanos d = absDiff(t, request.keyTimes[i]);
            /* Strictly nearer only: on a tie the earlier frame stays. */
            if (!snapshot.keyFrames[i] || d < bestDistance[i]) {
                snapshot.keyFrames[i] = frame;
                bestDistance[i] = d;
            }
        }
        if (t >= request.searchFrom && t <= request.searchTo)
            snapshot.search.push_back(frame);
        if (t >= request.rangeFrom && t <= request.rangeTo) {
            if (request.rangeSpacingNs <= 0) {
                snapshot.range.push_back(frame);
            } else {
                /* One frame per grid instant rangeFrom + k × spacing: the nearest one,
                 * so the clip keeps its rate whatever the camera's jitter. */
                std::int64_t slot = std::llround(static_cast<double>(t - request.rangeFrom) /
                                                 static_cast<double>(request.rangeSpacingNs));
                /* No grid instant past rangeTo: the last frames compete for the last. */
                slot = std::min<std::int64_t>(slot, (request.rangeTo - request.rangeFrom) /
                                                            request.rangeSpacingNs);
                Nanos grid = request.rangeFrom + slot * request.rangeSpacingNs;
                if (snapshot.range.empty() || slot > lastSlot) {
                    snapshot.range.push_back(frame);
                    lastSlot = slot;
                } else if (slot == lastSlot &&
                           absDiff(t, grid) <
                                   absDiff(snapshot.range.back()->stamp.sampleNs, grid)) {
                    snapshot.range.back() = frame;
                }
            }
        }
        return t >= lastInstant;
    }
};

struct FrameRing::Core
{
    explicit Core(asio::any_io_executor ex) : executor(std::move(ex)) {}

    asio::any_io_executor executor;
    mutable std::mutex lock;
    std::vector<hal::FramePtr> slots; /* circular, capacity = frame cap */
    std::size_t head = 0;             /* index of the oldest frame */
    std::size_t count = 0;
    std::size_t maxBytes = 0;
    Stats stats;
    std::vector<std::shared_ptr<Pending>> pending;
    std::uint64_t nextId = 1;

    const hal::FramePtr &at(std::size_t i) const { return slots[(head + i) % slots.size()]; }

    /* Index of the first held frame with time >= t (count when none). */
    std::size_t lowerBound(Nanos t) const
    {
        std::size_t lo = 0, hi = count;
        while (lo < hi) {
            std::size_t mid = (lo + hi) / 2;
            if (at(mid)->stamp.sampleNs < t)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }

    hal::FramePtr popOldest()
    {
        hal::FramePtr out = std::move(slots[head]);
        head = (head + 1) % slots.size();
        --count;
        stats.bytes -= heldBytes(*out);
        ++stats.evicted;
        return out;
    }

    /* Takes a finished request out of the pending list (under lock). */
    void retire(const std::shared_ptr<Pending> &p)
    {
        p->done = true;
        pending.erase(std::remove(pending.begin(), pending.end(), p), pending.end());
        stats.pending = pending.size();
    }

    /* Runs the handler on the executor; never on the caller's (camera) thread. */
    static void deliver(const asio::any_io_executor &executor, std::shared_ptr<Pending> p)
    {
        asio::post(executor, [p = std::move(p)]() {
            p->timer.cancel();
            Handler handler = std::move(p->handler);
            Snapshot snapshot = std::move(p->snapshot);
            p->handler = nullptr;
            if (handler)
                handler(std::move(snapshot));
        });
    }
};

FrameRing::FrameRing(const Options &options, asio::any_io_executor executor)
    : options_(options), core_(std::make_shared<Core>(std::move(executor)))
{
    double frames =
            std::ceil(std::max(0.0, options.preTriggerSeconds) * std::max(0.0, options.fps));
    frameCap_ = std::max<std::size_t>(1, static_cast<std::size_t>(frames) + options.slackFrames);
    core_->slots.resize(frameCap_);
    core_->maxBytes = options.maxBytes;
}

FrameRing::~FrameRing()
{
    std::vector<std::shared_ptr<Pending>> dropped;
    {
        std::lock_guard<std::mutex> guard(core_->lock);
        dropped.swap(core_->pending);
        for (auto &p : dropped) {
            p->done = true;
            p->handler = nullptr;
            p->snapshot = {};
        }
    }
    for (auto &p : dropped)
        asio::post(core_->executor, [p]() { p->timer.cancel(); });
}

void FrameRing::push(hal::FramePtr frame)
{
    Core &c = *core_;
    hal::FramePtr victim;
    std::vector<hal::FramePtr> moreVictims;
    std::shared_ptr<Pending> completed[4];
    std::vector<std::shared_ptr<Pending>> moreCompleted;
    std::size_t nCompleted = 0;
    {
        std::lock_guard<std::mutex> guard(c.lock);
        if (!frame || (c.count && frame->stamp.sampleNs <= c.at(c.count - 1)->stamp.sampleNs)) {
            ++c.stats.refused;
            return;
        }
        std::size_t bytes = heldBytes(*frame);
        /* Make room: the count cap first, then the byte cap (keeping the new frame). */
        while (c.count && (c.count >= c.slots.size() || c.stats.bytes + bytes > c.maxBytes)) {
            if (!victim)
                victim = c.popOldest();
            else
                moreVictims.push_back(c.popOldest());
        }
        c.slots[(c.head + c.count) % c.slots.size()] = frame;
        ++c.count;
        c.stats.bytes += bytes;
        ++c.stats.pushed;
        c.stats.peakBytes = std::max(c.stats.peakBytes, c.stats.bytes);
        c.stats.peakFrames = std::max(c.stats.peakFrames, c.count);

        for (std::size_t i = 0; i < c.pending.size();) {
            std::shared_ptr<Pending> &p = c.pending[i];
            if (p->offer(frame)) {
                std::shared_ptr<Pending> done = p;
                c.retire(done);
                if (nCompleted < 4)
                    completed[nCompleted++] = std::move(done);
                else
                    moreCompleted.push_back(std::move(done));
                continue; /* retire() erased index i */
            }
            ++i;
        }
    }
    for (std::size_t i = 0; i < nCompleted; ++i)
        Core::deliver(c.executor, std::move(completed[i]));
    for (auto &p : moreCompleted)
        Core::deliver(c.executor, std::move(p));
    /* victim and moreVictims release their buffers here, outside the ring's lock. */
}

hal::FramePtr FrameRing::nearest(Nanos t) const
{
    const Core &c = *core_;
    std::lock_guard<std::mutex> guard(c.lock);
    if (!c.count)
        return nullptr;
    std::size_t i = c.lowerBound(t);
    if (i == c.count)
        return c.at(c.count - 1);
    if (i == 0)
        return c.at(0);
    const hal::FramePtr &after = c.at(i);
    const hal::FramePtr &before = c.at(i - 1);
    return absDiff(before->stamp.sampleNs, t) <= absDiff(after->stamp.sampleNs, t) ? before : after;
}

std::vector<hal::FramePtr> FrameRing::range(Nanos from, Nanos to) const
{
    const Core &c = *core_;
    std::vector<hal::FramePtr> out;
    std::lock_guard<std::mutex> guard(c.lock);
    for (std::size_t i = c.lowerBound(from); i < c.count && c.at(i)->stamp.sampleNs <= to; ++i)
        out.push_back(c.at(i));
    return out;
}

std::uint64_t FrameRing::request(const SnapshotRequest &request, Handler handler)
{
    Core &c = *core_;
    auto p = std::make_shared<Pending>(c.executor);
    p->request = request;
    p->handler = std::move(handler);
    p->snapshot.keyFrames.resize(request.keyTimes.size());
    p->bestDistance.resize(request.keyTimes.size(), 0);
    p->lastInstant = request.rangeFrom <= request.rangeTo ? request.rangeTo : INT64_MIN;
    if (request.searchFrom <= request.searchTo)
        p->lastInstant = std::max(p->lastInstant, request.searchTo);
    for (Nanos t : request.keyTimes)
        p->lastInstant = std::max(p->lastInstant, t);

    bool complete = false;
    {
        std::lock_guard<std::mutex> guard(c.lock);
        p->snapshot.id = c.nextId++;
        if (c.pending.size() >= options_.maxPendingRequests) {
            p->snapshot.status = Snapshot::Status::Rejected;
            p->snapshot.keyFrames.assign(request.keyTimes.size(), nullptr);
            complete = true;
        } else {
            /* Frames already held count first, oldest first, exactly as if pushed now. */
            for (std::size_t i = 0; i < c.count; ++i)
                complete = p->offer(c.at(i)) || complete;
            if (p->lastInstant == INT64_MIN)
                complete = true;
            if (!complete) {
                c.pending.push_back(p);
                c.stats.pending = c.pending.size();
            }
        }
    }
    std::uint64_t id = p->snapshot.id;
    if (complete) {
        p->done = true;
        Core::deliver(c.executor, std::move(p));
        return id;
    }

    std::weak_ptr<Core> weak = core_;
    asio::dispatch(c.executor, [p, weak]() {
        {
            auto core = weak.lock();
            if (!core)
                return;
            std::lock_guard<std::mutex> guard(core->lock);
            if (p->done)
                return;
        }
        p->timer.expires_after(std::chrono::nanoseconds(std::max<Nanos>(0, p->request.timeoutNs)));
        p->timer.async_wait([p, weak](const boost::system::error_code &ec) {
            if (ec)
                return; /* cancelled: completed by a frame, cancelled, or ring gone */
            auto core = weak.lock();
            if (!core)
                return;
            Snapshot snapshot;
            Handler handler;
            {
                std::lock_guard<std::mutex> guard(core->lock);
                if (p->done)
                    return;
                core->retire(p);
                snapshot = std::move(p->snapshot);
                handler = std::move(p->handler);
                p->handler = nullptr;
            }
            snapshot.status = Snapshot::Status::TimedOut;
            if (handler)
                handler(std::move(snapshot));
        });
    });
    return id;
}

bool FrameRing::cancel(std::uint64_t id)
{
    Core &c = *core_;
    std::shared_ptr<Pending> p;
    {
        std::lock_guard<std::mutex> guard(c.lock);
        for (auto &candidate : c.pending)
            if (candidate->snapshot.id == id)
                p = candidate;
        if (!p)
            return false;
        c.retire(p);
        p->handler = nullptr;
        p->snapshot = {}; /* the frames go back now, not when the timer notices */
    }
    asio::post(c.executor, [p]() { p->timer.cancel(); });
    return true;
}

FrameRing::Stats FrameRing::stats() const
{
    const Core &c = *core_;
    std::lock_guard<std::mutex> guard(c.lock);
    Stats s = c.stats;
    s.frames = c.count;
    s.oldestNs = c.count ? c.at(0)->stamp.sampleNs : 0;
    s.newestNs = c.count ? c.at(c.count - 1)->stamp.sampleNs : 0;
    return s;
}

} /* namespace stopline::pipeline */

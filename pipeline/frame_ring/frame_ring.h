#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "hal/frame.h"
#include "hal/time.h"

namespace stopline::pipeline {

/* What a trigger needs from the camera: the frame nearest each key instant (A-shot,
 * B-shot) and a decimated run of frames for the clip. Instants are CLOCK_MONOTONIC
 * nanoseconds, compared with Frame::stamp.sampleNs. */
struct SnapshotRequest
{
    std::vector<Nanos> keyTimes; /* one nearest frame per instant, in this order */
    Nanos rangeFrom = 0;         /* clip range [rangeFrom, rangeTo]; empty when from > to */
    Nanos rangeTo = -1;
    /* Keep at most one range frame per slot of this length (from rangeFrom): the clip
     * is collected already decimated, so waiting for it does not pin every frame. 0
     * keeps every frame. */
    Nanos rangeSpacingNs = 0;
    /* Every frame in [searchFrom, searchTo], undecimated: the frames the shots are chosen
     * from once the vehicle is found in them (empty when from > to). */
    Nanos searchFrom = 0;
    Nanos searchTo = -1;
    /* Complete with what has arrived when no frame at or past the last instant came
     * within this long (camera stalled); measured on the executor's steady clock. */
    Nanos timeoutNs = 5 * kNanosPerSecond;
};

/* The frames a request asked for. Holding it keeps the frames' buffers out of the pool;
 * drop it (or the frames) as soon as they are encoded. */
struct Snapshot
{
    enum class Status {
        Complete, /* frames up to the last instant arrived: nearest frames are final */
        TimedOut, /* the camera did not reach the last instant in time */
        Rejected, /* too many requests pending (bounded memory) */
    };
    Status status = Status::Complete;
    std::uint64_t id = 0;
    std::vector<hal::FramePtr> keyFrames; /* per keyTimes entry; nullptr when no frame */
    std::vector<hal::FramePtr> range;     /* oldest first, decimated */
    std::vector<hal::FramePtr> search;    /* oldest first, every frame of the search span */
};

const char *snapshotStatusName(Snapshot::Status status);

/* The pre-trigger ring (the rpicam-apps habit): the camera callback pushes each frame
 * and returns; the ring keeps the newest ones by reference, bounded by a frame count
 * (seconds × fps) and a byte cap, so frames go back to their pool as soon as nobody
 * needs them. When a trigger fires the event thread asks for a snapshot; frames that
 * have not arrived yet (the B-shot, the clip's second half) are collected as they are
 * pushed, and the completion is posted to the event executor, never run on the
 * camera thread and never waited for.
 *
 * push() and the readers are thread-safe; completions run on `executor`. The ring must
 * outlive the executor's run of its timers or be destroyed on the executor's thread
 * (pending completions are then dropped, never run). */
class FrameRing
{
public:
    struct Options
    {
        double preTriggerSeconds = 2.0; /* how far back a trigger can look */
        double fps = 30.0;              /* camera rate: frame cap = ceil(seconds × fps) + slack */
        std::size_t slackFrames = 2;    /* jitter margin over seconds × fps */
        std::size_t maxBytes = std::size_t(512) << 20; /* byte cap on held buffers */
        std::size_t maxPendingRequests = 8;            /* snapshots collecting at once */
    };

    struct Stats
    {
        std::size_t frames = 0;
        std::size_t bytes = 0; /* sum of held frames' buffer sizes */
        std::size_t peakBytes = 0;
        std::size_t peakFrames = 0;
        std::uint64_t pushed = 0;
        std::uint64_t evicted = 0;
        std::uint64_t refused = 0; /* null, empty or out-of-order frames */
        std::size_t pending = 0;   /* snapshot requests collecting */
        Nanos oldestNs = 0;
        Nanos newestNs = 0;
    };

    using Handler = std::function<void(Snapshot)>;

    FrameRing(const Options &options, boost::asio::any_io_executor executor);
    ~FrameRing();
    FrameRing(const FrameRing &) = delete;
    FrameRing &operator=(const FrameRing &) = delete;

    /* The camera callback's only job. Frames must come in capture order; a frame not
     * newer than the newest held one is refused (counted), so a backend glitch cannot
     * reorder evidence. Cheap: a lock, a few pointer moves, no allocation in the
     * steady state. */
    void push(hal::FramePtr frame);

    /* The held frame whose capture time is nearest `t` (the earlier on a tie); nullptr
     * when the ring is empty. */
    hal::FramePtr nearest(Nanos t) const;

    /* Held frames with capture time in [from, to], oldest first. */
    std::vector<hal::FramePtr> range(Nanos from, Nanos to) const;

    /* Starts collecting a snapshot; `handler` runs once on the executor, unless the
     * request is cancelled first. Returns the request id (also in Snapshot::id). */
    std::uint64_t request(const SnapshotRequest &request, Handler handler);

    /* Drops a pending request and the frames it holds (the decision was not to cite);
     * its handler never runs. Returns false when it already completed. */
    bool cancel(std::uint64_t id);

    Stats stats() const;
    std::size_t frameCap() const { return frameCap_; }
    const Options &options() const { return options_; }

private:
    struct Pending;
    struct Core;

    Options options_;
    std::size_t frameCap_;
    std::shared_ptr<Core> core_;
};

} /* namespace stopline::pipeline */

#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "pipeline/evidence/evidence_builder.h"
#include "pipeline/evidence/sealer.h"
#include "pipeline/frame_ring/frame_ring.h"
#include "pipeline/plate/plate_locator.h"
#include "pipeline/trigger/decision.h"
#include "pipeline/trigger/duplicate_guard.h"

namespace stopline::pipeline {

/* Turns a cited decision and its frames into a sealed record without touching the
 * event thread: building (colour conversion, JPEG, plate location) runs on the worker
 * pool, one violation per worker task; sealing goes through the Sealer's strand; the
 * result is posted back to the event executor. Thread-safe to call from the event
 * thread; the assembler must outlive the work it started. */
class EvidenceAssembler
{
public:
    struct Result
    {
        std::uint64_t decisionId = 0;
        ViolationKind kind = ViolationKind::RedLight;
        Sealer::Result seal; /* seal.sealed is set when the record is in the chain */
        BuildStats build;
        std::string error; /* building or sealing failed, or refused: why */
        /* Set when the citation was refused (evidence_incomplete, duplicate, or the
         * photographs could not be bound to the vehicle): nothing was sealed, and that is
         * no failure of the device. */
        Reason refusal = Reason::None;

        bool ok() const { return error.empty() && seal.ok(); }
    };
    using Handler = std::function<void(Result)>;

    /* `workerNice` is added to the niceness of each worker thread that builds a
     * record (once per thread), so JPEG and plate work yield the CPU to the event
     * thread on a two- or four-core board; 0 leaves the threads alone. */
    EvidenceAssembler(boost::asio::any_io_executor eventExecutor,
                      boost::asio::any_io_executor workers, Sealer *sealer, SiteIdentity site,
                      EvidenceOptions options, PlateLocator::Options plateOptions,
                      int workerNice = 10);

    /* Builds and seals the record of a Cite decision; `handler` runs on the event
     * executor. The snapshot's frames are released as soon as they are encoded. */
    void assemble(Decision decision, Snapshot snapshot, CaptureContext context, Handler handler);

    /* Replaces the site identity for records assembled from now on (a calibration or
     * configuration change on the device); records already in progress keep the one in
     * force when their decision was handed over. Event thread only. */
    void setSite(SiteIdentity site) { site_ = std::move(site); }

    /* The camera calibration's binder: with one, every record's shots are bound to the
     * accused vehicle or the citation is refused (vehicle_not_in_view, plate_not_found,
     * identity_ambiguous, photo_speed_mismatch); without one, shots are taken at the
     * planned instants. Like setSite, for records assembled from now on. */
    void setBinder(std::shared_ptr<const VehicleBinder> binder) { binder_ = std::move(binder); }
    const VehicleBinder *binder() const { return binder_.get(); }
    /* Lets the binder learn the empty road from this frame, on a worker; call about once
     * a second (event thread). */
    void learnBackground(hal::FramePtr frame);

    /* Dates a red-light crossing from the snapshot's frames with the binder, on a
     * worker; `handler` runs on the event executor. Without a binder it answers at once
     * that the camera is not calibrated. */
    void dateCrossing(const Decision &capture, Snapshot snapshot,
                      std::function<void(CameraCrossing)> handler);

    /* Seals a record built elsewhere (self-check, calibration) into the same chain. */
    void sealRecord(evidence::Record record, Sealer::Handler handler);

    std::size_t inFlight() const { return inFlight_.load(); }
    const EvidenceOptions &options() const { return options_; }
    const SiteIdentity &site() const { return site_; }

private:
    boost::asio::any_io_executor eventExecutor_;
    boost::asio::any_io_executor workers_;
    Sealer *sealer_;
    SiteIdentity site_;
    std::shared_ptr<const VehicleBinder> binder_;
    EvidenceOptions options_;
    PlateLocator locator_;
    int workerNice_;
    std::atomic<std::size_t> inFlight_{0};
};

/* The glue between the rules, the ring and the assembler, for the daemon's event
 * thread: feed it every decision the rules return. A Capture asks the ring for the
 * frames at once; a Cite waits for those frames (and they for it), then assembles and
 * seals; a NoCite after a Capture cancels the frames. Single-threaded: call handle()
 * and let callbacks run on the event executor only. */
class CaptureCoordinator
{
public:
    /* The clock state, radar identity and latest self-check, read when a decision is
     * final (on the event thread). */
    using ContextProvider = std::function<CaptureContext()>;
    /* One call per cited decision, with the sealed record or the error. */
    using Done = std::function<void(const Decision &, const EvidenceAssembler::Result &)>;

    struct Stats
    {
        std::uint64_t captures = 0;  /* snapshots requested */
        std::uint64_t cancelled = 0; /* refused after Capture: frames released */
        std::uint64_t cited = 0;
        std::uint64_t sealed = 0;
        std::uint64_t failed = 0;
        std::uint64_t incompleteSnapshots = 0; /* camera stalled or ring busy */
        std::uint64_t refusedIncomplete = 0;   /* a shot too far from its instant */
        std::uint64_t refusedDuplicate = 0;
        std::uint64_t refusedIdentity = 0; /* the photographs could not be bound */
        std::uint64_t datings = 0;         /* crossings the camera was asked to date */
        std::uint64_t dated = 0;           /* ... and did */
    };

    CaptureCoordinator(FrameRing *ring, EvidenceAssembler *assembler, ContextProvider context,
                       Done done);

    /* Where the camera's dating of a crossing goes (the red-light rule waits for it): one
     * call per Capture whose plan asked for dating, once its frames are in. */
    using Dated = std::function<void(const CameraCrossing &)>;
    void setDated(Dated dated) { dated_ = std::move(dated); }

    void handle(const std::vector<Decision> &decisions);
    void handle(const Decision &decision);

    /* Decisions waiting for frames or for their final verdict. */
    std::size_t pending() const { return entries_.size(); }
    const Stats &stats() const { return stats_; }

private:
    using Key = std::pair<int, std::uint64_t>; /* (kind, id): ids are per rule */
    struct Entry
    {
        std::uint64_t requestId = 0;
        std::optional<Snapshot> snapshot;
        std::optional<Decision> final;
        CaptureContext context;
        std::optional<Decision> datingFor; /* the Capture, while its dating is owed */
    };

    void request(const Key &key, const Decision &decision);
    void maybeAssemble(const Key &key);
    void date(const Decision &capture, const Snapshot &snapshot);
    /* Why the frames cannot stand as this decision's evidence; empty when they can. */
    std::string shotProblem(const Decision &decision, const Snapshot &snapshot) const;
    void refuse(const Decision &decision, Reason reason, std::string why);

    FrameRing *ring_;
    EvidenceAssembler *assembler_;
    ContextProvider context_;
    Done done_;
    Dated dated_;
    std::map<Key, Entry> entries_;
    DuplicateGuard duplicates_;
    Stats stats_;
};

} /* namespace stopline::pipeline */

#include "pipeline/evidence/capture.h"

#include <algorithm>
#include <exception>
#include <memory>

#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

namespace stopline::pipeline {

namespace asio = boost::asio;

namespace {

/* Linux niceness is per thread (setpriority on the thread id). */
void lowerThisThread(int nice)
{
    thread_local bool done = false;
    if (done || nice <= 0)
        return;
    done = true;
    int current = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), std::min(19, current + nice));
}

} /* namespace */

EvidenceAssembler::EvidenceAssembler(asio::any_io_executor eventExecutor,
                                     asio::any_io_executor workers, Sealer *sealer,
                                     SiteIdentity site, EvidenceOptions options,
                                     PlateLocator::Options plateOptions, int workerNice)
    : eventExecutor_(std::move(eventExecutor)), workers_(std::move(workers)), sealer_(sealer),
      site_(std::move(site)), options_(options), locator_(plateOptions), workerNice_(workerNice)
{}

void EvidenceAssembler::assemble(Decision decision, Snapshot snapshot, CaptureContext context,
                                 Handler handler)
{
    ++inFlight_;
    /* Shared so the (copyable) completion handlers can carry it through the hops. */
    auto job = std::make_shared<Result>();
    job->decisionId = decision.id;
    job->kind = decision.kind;
    asio::post(workers_, [this, job, site = site_, binder = binder_,
                          decision = std::move(decision), snapshot = std::move(snapshot),
                          context = std::move(context), handler = std::move(handler)]() mutable {
        lowerThisThread(workerNice_);
        evidence::Record record;
        try {
            std::optional<BoundShots> bound;
            if (binder) {
                bound = bindShots(*binder, locator_, decision, snapshot, options_.locateOnBShot);
                if (!bound->identity.bound()) {
                    job->refusal = bound->identity.reason;
                    job->error = std::string(reasonName(job->refusal)) + ": " +
                                 bound->identity.why;
                }
            }
            if (job->error.empty())
                record = buildViolationRecord(decision, snapshot, site, context, options_,
                                              locator_, &job->build, bound ? &*bound : nullptr);
        } catch (const std::exception &e) {
            job->error = e.what();
        }
        snapshot = {}; /* the frames go back to the camera's pool now */
        if (!job->error.empty()) {
            asio::post(eventExecutor_, [this, job, handler = std::move(handler)]() {
                --inFlight_;
                handler(std::move(*job));
            });
            return;
        }
        sealer_->seal(std::move(record), eventExecutor_,
                      [this, job, handler = std::move(handler)](Sealer::Result sealed) {
                          --inFlight_;
                          job->seal = std::move(sealed);
                          if (!job->seal.ok())
                              job->error = job->seal.error;
                          handler(std::move(*job));
                      });
    });
}

void EvidenceAssembler::learnBackground(hal::FramePtr frame)
{
    if (!binder_ || !frame)
        return;
    asio::post(workers_, [binder = binder_, frame = std::move(frame), nice = workerNice_] {
        lowerThisThread(nice);
        try {
            binder->learnBackground(*frame);
        } catch (const std::exception &) {
            /* a frame without pixels teaches nothing */
        }
    });
}

void EvidenceAssembler::dateCrossing(const Decision &capture, Snapshot snapshot,
                                     std::function<void(CameraCrossing)> handler)
{
    if (!binder_) {
        CameraCrossing none;
        none.decisionId = capture.id;
        none.how = "camera: not calibrated";
        asio::post(eventExecutor_, [none, handler = std::move(handler)] { handler(none); });
        return;
    }
    asio::post(workers_, [this, binder = binder_, capture, snapshot = std::move(snapshot),
                          handler = std::move(handler)]() mutable {
        lowerThisThread(workerNice_);
        CameraCrossing dated;
        try {
            dated = binder->dateCrossing(capture, snapshot);
        } catch (const std::exception &e) {
            dated.decisionId = capture.id;
            dated.how = std::string("camera: ") + e.what();
        }
        snapshot = {};
        asio::post(eventExecutor_, [dated = std::move(dated), handler = std::move(handler)] {
            handler(dated);
        });
    });
}

void EvidenceAssembler::sealRecord(evidence::Record record, Sealer::Handler handler)
{
    sealer_->seal(std::move(record), eventExecutor_, std::move(handler));
}

CaptureCoordinator::CaptureCoordinator(FrameRing *ring, EvidenceAssembler *assembler,
                                       ContextProvider context, Done done)
    : ring_(ring), assembler_(assembler), context_(std::move(context)), done_(std::move(done))
{}

void CaptureCoordinator::handle(const std::vector<Decision> &decisions)
{
    for (const Decision &d : decisions)
        handle(d);
}

void CaptureCoordinator::request(const Key &key, const Decision &decision)
{
    ++stats_.captures;
    Entry &e = entries_[key];
    if (decision.verdict == Decision::Verdict::Capture && decision.plan.dating())
        e.datingFor = decision;
    e.requestId = ring_->request(snapshotRequestFor(decision, assembler_->options()),
                                 [this, key](Snapshot snapshot) {
                                     auto it = entries_.find(key);
                                     if (it == entries_.end())
                                         return;
                                     if (snapshot.status != Snapshot::Status::Complete)
                                         ++stats_.incompleteSnapshots;
                                     if (it->second.datingFor) {
                                         date(*it->second.datingFor, snapshot);
                                         it->second.datingFor.reset();
                                     }
                                     it->second.snapshot = std::move(snapshot);
                                     maybeAssemble(key);
                                 });
}

void CaptureCoordinator::handle(const Decision &d)
{
    const Key key{static_cast<int>(d.kind), d.id};
    auto it = entries_.find(key);
    switch (d.verdict) {
    case Decision::Verdict::Capture:
        if (it == entries_.end())
            request(key, d);
        return;
    case Decision::Verdict::NoCite:
        if (it != entries_.end()) {
            if (!it->second.snapshot)
                ring_->cancel(it->second.requestId);
            entries_.erase(it);
            ++stats_.cancelled;
        }
        return;
    case Decision::Verdict::Cite:
        ++stats_.cited;
        if (it == entries_.end())
            request(key, d); /* a Cite without a Capture: ask for the frames now */
        {
            Entry &e = entries_[key];
            e.final = d;
            e.context = context_ ? context_() : CaptureContext{};
        }
        maybeAssemble(key);
        return;
    }
}

void CaptureCoordinator::date(const Decision &capture, const Snapshot &snapshot)
{
    ++stats_.datings;
    assembler_->dateCrossing(capture, snapshot, [this](CameraCrossing crossing) {
        if (crossing.dated)
            ++stats_.dated;
        if (dated_)
            dated_(crossing);
    });
}

std::string CaptureCoordinator::shotProblem(const Decision &d, const Snapshot &snapshot) const
{
    const Nanos limit = assembler_->options().maxShotOffsetNs;
    const Nanos planned[2] = {d.plan.aShotNs, d.plan.bShotNs};
    const char *names[2] = {"A-shot", "B-shot"};
    /* With a binder the shots are chosen from the search span: it must be there without
     * a gap a vehicle could cross unseen (a stalled camera), and for red light the A-shot
     * is still the crossing's frame. */
    const bool searched = assembler_->binder() && d.plan.searchFromNs <= d.plan.searchToNs;
    if (searched) {
        const auto &frames = snapshot.search;
        if (frames.empty())
            return std::string("no frames in the search span (snapshot ") +
                   snapshotStatusName(snapshot.status) + ")";
        Nanos previous = d.plan.searchFromNs;
        for (const hal::FramePtr &f : frames) {
            if (f->stamp.sampleNs - previous > 2 * limit)
                return "the camera stalled for " +
                       std::to_string((f->stamp.sampleNs - previous) / kNanosPerMilli) +
                       " ms while the vehicle was to be photographed";
            previous = f->stamp.sampleNs;
        }
        if (d.plan.searchToNs - previous > 2 * limit)
            return "the camera stopped " +
                   std::to_string((d.plan.searchToNs - previous) / kNanosPerMilli) +
                   " ms before the end of the search span";
    }
    /* Without a search both planned shots are checked; with one only the red-light A-shot
     * is still a planned instant. */
    const std::size_t checked = !searched ? 2 : d.kind == ViolationKind::RedLight ? 1 : 0;
    for (std::size_t i = 0; i < checked; ++i) {
        if (snapshot.keyFrames.size() <= i || !snapshot.keyFrames[i])
            return std::string("no ") + names[i] + " frame (snapshot " +
                   snapshotStatusName(snapshot.status) + ")";
        const Nanos offset = snapshot.keyFrames[i]->stamp.sampleNs - planned[i];
        if (offset > limit || -offset > limit)
            return std::string(names[i]) + " " + std::to_string(offset / kNanosPerMilli) +
                   " ms from its instant (at most " + std::to_string(limit / kNanosPerMilli) +
                   " ms)";
    }
    return {};
}

void CaptureCoordinator::refuse(const Decision &decision, Reason reason, std::string why)
{
    EvidenceAssembler::Result result;
    result.decisionId = decision.id;
    result.kind = decision.kind;
    result.refusal = reason;
    result.error = std::string(reasonName(reason)) + ": " + why;
    if (reason == Reason::Duplicate)
        ++stats_.refusedDuplicate;
    else
        ++stats_.refusedIncomplete;
    if (done_)
        done_(decision, result);
}

void CaptureCoordinator::maybeAssemble(const Key &key)
{
    auto it = entries_.find(key);
    if (it == entries_.end() || !it->second.snapshot || !it->second.final)
        return;
    Entry e = std::move(it->second);
    entries_.erase(it);
    Decision decision = *e.final;
    if (std::string why = shotProblem(decision, *e.snapshot); !why.empty()) {
        refuse(decision, Reason::EvidenceIncomplete, why);
        return;
    }
    if (auto earlier = duplicates_.duplicateOf(decision)) {
        refuse(decision, Reason::Duplicate,
               "the same vehicle was cited as #" + std::to_string(*earlier));
        return;
    }
    duplicates_.remember(decision);
    assembler_->assemble(*e.final, std::move(*e.snapshot), std::move(e.context),
                         [this, decision](EvidenceAssembler::Result result) {
                             if (result.ok())
                                 ++stats_.sealed;
                             else if (result.refusal != Reason::None)
                                 ++stats_.refusedIdentity;
                             else
                                 ++stats_.failed;
                             if (done_)
                                 done_(decision, result);
                         });
}

} /* namespace stopline::pipeline */

#include "pipeline/upload/uploader.h"

#include <boost/asio/post.hpp>

#include "evidence.pb.h"
#include "evidence/seal.h"

namespace stopline::pipeline {

namespace asio = boost::asio;

Uploader::Uploader(asio::io_context &io, asio::thread_pool &workers, Spool *spool,
                   const evidence::PublicKey *serverKey, Options options, Post records,
                   Post control)
    : io_(io), workers_(workers), spool_(spool), serverKey_(serverKey),
      options_(std::move(options)), records_(std::move(records)), control_(std::move(control)),
      retryTimer_(io), heartbeatTimer_(io), rng_(std::random_device{}()),
      alive_(std::make_shared<bool>(true))
{}

Uploader::~Uploader()
{
    *alive_ = false;
}

void Uploader::setHeartbeatSource(std::function<std::string()> source)
{
    heartbeatSource_ = std::move(source);
}

void Uploader::setCheckpointSource(std::function<std::optional<std::string>()> source)
{
    checkpointSource_ = std::move(source);
}

void Uploader::start()
{
    running_ = true;
    next();
    heartbeat();
}

void Uploader::stop()
{
    running_ = false;
    retryTimer_.cancel();
    heartbeatTimer_.cancel();
}

void Uploader::kick()
{
    if (!running_ || inFlight_)
        return;
    if (waiting_ && status_.consecutiveFailures > 0)
        return; /* an outage: the backoff decides when to try again */
    retryTimer_.cancel();
    waiting_ = false;
    next();
}

void Uploader::next()
{
    if (!running_ || inFlight_ || waiting_)
        return;
    std::optional<Spool::Entry> oldest = spool_->oldest();
    if (!oldest) {
        maybeCheckpoint();
        return;
    }
    /* Back from an outage: the back-office hears the device's state first — the alarms
     * the outage raised, a full spool among them — before the backlog that clears them. */
    if (status_.consecutiveFailures > 0 && !announced_ && heartbeatSource_ && !controlBusy_) {
        announce();
        return;
    }
    inFlight_ = true;
    std::uint64_t seq = oldest->seq;
    std::weak_ptr<bool> alive = alive_;
    /* Reading from the SD card may block: not on the event thread. */
    asio::post(workers_, [this, alive, seq] {
        std::optional<std::string> bytes = spool_->read(seq);
        asio::post(io_, [this, alive, seq, bytes = std::move(bytes)]() mutable {
            if (alive.expired())
                return;
            if (!bytes) {
                inFlight_ = false;
                retryLater("cannot read spooled record " + std::to_string(seq));
                return;
            }
            send(seq, std::move(*bytes));
        });
    });
}

void Uploader::announce()
{
    inFlight_ = true;
    postHeartbeat([this](const HttpResponse &response) {
        inFlight_ = false;
        if (response.status == 0) {
            retryLater("back-office unreachable: " + response.error);
            return;
        }
        /* Any answer means the link is back: the records follow. */
        announced_ = true;
        next();
    });
}

void Uploader::postHeartbeat(std::function<void(const HttpResponse &)> then)
{
    controlBusy_ = true;
    std::weak_ptr<bool> alive = alive_;
    control_("/api/v1/heartbeats", "application/json", heartbeatSource_(),
             [this, alive, then = std::move(then)](HttpResponse response) {
                 if (alive.expired())
                     return;
                 controlBusy_ = false;
                 if (response.status == 200 || response.status == 201)
                     ++status_.heartbeatsSent;
                 then(response);
             });
}

void Uploader::send(std::uint64_t seq, std::string bytes)
{
    ++status_.attempts;
    std::weak_ptr<bool> alive = alive_;
    std::string copy = bytes;
    records_("/api/v1/records", "application/x-protobuf", std::move(copy),
             [this, alive, seq, bytes = std::move(bytes)](HttpResponse response) {
                 if (alive.expired())
                     return;
                 handle(seq, bytes, response);
             });
}

void Uploader::handle(std::uint64_t seq, const std::string &bytes, const HttpResponse &response)
{
    if (response.status == 0) {
        inFlight_ = false;
        retryLater("back-office unreachable: " + response.error);
        return;
    }
    if (response.status != 200 && response.status != 201) {
        inFlight_ = false;
        std::string why = "HTTP " + std::to_string(response.status) + " for record " +
                          std::to_string(seq) + ": " + response.body.substr(0, 300);
        /* A refusal (4xx other than throttling) will not cure itself: a human must look.
         * The record stays; later ones wait behind it (in order per chain). */
        if (response.status >= 400 && response.status < 500 && response.status != 408 &&
            response.status != 429)
            status_.alarm = "record refused: " + why;
        retryLater(why);
        return;
    }
    evidence::SealedRecord sealed;
    std::string reason;
    if (!sealed.ParseFromString(bytes)) {
        reason = "spooled record does not parse";
    } else {
        std::string hash = evidence::recordHash(sealed.record());
        if (evidence::checkReceipt(response.body, *serverKey_, options_.deviceId, seq, hash,
                                   &reason)) {
            std::weak_ptr<bool> alive = alive_;
            asio::post(workers_, [this, alive, seq] {
                bool removed = spool_->remove(seq);
                asio::post(io_, [this, alive, seq, removed] {
                    if (alive.expired())
                        return;
                    inFlight_ = false;
                    if (!removed) {
                        retryLater("cannot delete acknowledged record " + std::to_string(seq));
                        return;
                    }
                    ++status_.uploaded;
                    status_.consecutiveFailures = 0;
                    status_.lastError.clear();
                    status_.alarm.clear();
                    status_.lastSuccess = std::chrono::steady_clock::now();
                    if (onUploaded)
                        onUploaded(seq);
                    next();
                });
            });
            return;
        }
    }
    inFlight_ = false;
    status_.alarm = "receipt rejected for record " + std::to_string(seq) + ": " + reason;
    retryLater(status_.alarm);
}

void Uploader::retryLater(const std::string &error)
{
    status_.lastError = error;
    ++status_.consecutiveFailures;
    announced_ = false;
    /* Exponential backoff with "equal jitter": half fixed, half random, so a fleet that
     * lost its link together does not come back in lockstep. */
    std::uint64_t shift = std::min<std::uint64_t>(status_.consecutiveFailures - 1, 20);
    auto delay = std::min<std::chrono::milliseconds::rep>(options_.backoffBase.count() << shift,
                                                          options_.backoffMax.count());
    std::uniform_int_distribution<std::chrono::milliseconds::rep> jitter(0, delay / 2);
    auto wait = std::chrono::milliseconds(delay - delay / 2 + jitter(rng_));
    waiting_ = true;
    retryTimer_.expires_after(wait);
    std::weak_ptr<bool> alive = alive_;
    retryTimer_.async_wait([this, alive](boost::system::error_code ec) {
        if (alive.expired() || ec)
            return;
        waiting_ = false;
        next();
    });
}

void Uploader::maybeCheckpoint()
{
    if (!checkpointSource_ || controlBusy_)
        return;
    auto now = std::chrono::steady_clock::now();
    std::optional<std::string> checkpoint = checkpointSource_();
    if (!checkpoint)
        return;
    bool changed = *checkpoint != lastCheckpoint_;
    /* A checkpoint re-signed for the same head differs in time; compare heads instead. */
    evidence::SealedCheckpoint a, b;
    evidence::Checkpoint ca, cb;
    if (a.ParseFromString(*checkpoint) && ca.ParseFromString(a.checkpoint()) &&
        b.ParseFromString(lastCheckpoint_) && cb.ParseFromString(b.checkpoint()))
        changed = ca.seq_high() != cb.seq_high() || ca.head_hash() != cb.head_hash();
    if (!changed && now - lastCheckpointTime_ < options_.checkpointInterval)
        return;
    controlBusy_ = true;
    std::weak_ptr<bool> alive = alive_;
    std::string body = *checkpoint;
    control_("/api/v1/checkpoints", "application/x-protobuf", std::move(body),
             [this, alive, checkpoint = *checkpoint, now](HttpResponse response) {
                 if (alive.expired())
                     return;
                 controlBusy_ = false;
                 if (response.status == 200 || response.status == 201) {
                     lastCheckpoint_ = checkpoint;
                     lastCheckpointTime_ = now;
                     ++status_.checkpointsSent;
                 }
             });
}

void Uploader::heartbeat()
{
    if (!running_)
        return;
    if (heartbeatSource_ && !controlBusy_)
        postHeartbeat([this](const HttpResponse &) {
            /* Idle: the checkpoint rides along with the heartbeat cadence. */
            if (!inFlight_ && !spool_->oldest())
                maybeCheckpoint();
        });
    heartbeatTimer_.expires_after(options_.heartbeatInterval);
    std::weak_ptr<bool> alive = alive_;
    heartbeatTimer_.async_wait([this, alive](boost::system::error_code ec) {
        if (alive.expired() || ec)
            return;
        heartbeat();
    });
}

} /* namespace stopline::pipeline */

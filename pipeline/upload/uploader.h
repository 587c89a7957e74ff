#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "evidence/keys.h"
#include "pipeline/spool/spool.h"
#include "pipeline/upload/http_client.h"

namespace stopline::pipeline {

/* Moves spooled records to the back-office oldest first, one at a time (in order per
 * chain), and deletes each only after checking the server's signed receipt for exactly
 * that (device, seq, hash). Retries with exponential backoff and jitter; resumes by
 * itself after an outage. Sends signed checkpoints once the spool is drained (also when
 * idle, so loss of the newest records is detectable) and periodic heartbeats.
 * Runs on the event thread; file reads and deletions run on the worker pool. */
class Uploader
{
public:
    /* Sends one request; the HttpClient's post() in production, a fake in unit tests. */
    using Post = std::function<void(const std::string &path, const std::string &contentType,
                                    std::string body, HttpClient::Callback done)>;

    struct Options
    {
        std::string deviceId;
        std::chrono::milliseconds backoffBase{500};
        std::chrono::milliseconds backoffMax{60000};
        std::chrono::milliseconds heartbeatInterval{30000};
        std::chrono::milliseconds checkpointInterval{300000};
    };

    struct Status
    {
        std::uint64_t uploaded = 0;
        std::uint64_t attempts = 0;
        std::uint64_t consecutiveFailures = 0;
        std::string lastError; /* empty after a success */
        std::string alarm;     /* a condition a human must look at, e.g. a refused record */
        std::uint64_t heartbeatsSent = 0;
        std::uint64_t checkpointsSent = 0;
        std::chrono::steady_clock::time_point lastSuccess{};
    };

    /* `serverKey` is borrowed: receipts must verify against it. */
    Uploader(boost::asio::io_context &io, boost::asio::thread_pool &workers, Spool *spool,
             const evidence::PublicKey *serverKey, Options options, Post records, Post control);
    ~Uploader();

    /* Produces the heartbeat body (JSON); called on the event thread. */
    void setHeartbeatSource(std::function<std::string()> source);
    /* Produces a sealed checkpoint of the current chain head, or nullopt if none. */
    void setCheckpointSource(std::function<std::optional<std::string>()> source);

    void start();
    void stop();

    /* A record was just spooled: upload it without waiting for the next retry. */
    void kick();

    const Status &status() const { return status_; }

    /* Called after every record is acknowledged and deleted (seq); for logs and tests. */
    std::function<void(std::uint64_t seq)> onUploaded;

private:
    void next();
    void send(std::uint64_t seq, std::string bytes);
    void handle(std::uint64_t seq, const std::string &bytes, const HttpResponse &response);
    void retryLater(const std::string &error);
    void heartbeat();
    /* A heartbeat before the first record after an outage. */
    void announce();
    /* Posts the heartbeat body on the control connection, counts it when accepted, then
     * `then` (the uploader still alive). */
    void postHeartbeat(std::function<void(const HttpResponse &)> then);
    void maybeCheckpoint();

    boost::asio::io_context &io_;
    boost::asio::thread_pool &workers_;
    Spool *spool_;
    const evidence::PublicKey *serverKey_;
    Options options_;
    Post records_;
    Post control_;
    std::function<std::string()> heartbeatSource_;
    std::function<std::optional<std::string>()> checkpointSource_;
    boost::asio::steady_timer retryTimer_;
    boost::asio::steady_timer heartbeatTimer_;
    std::mt19937_64 rng_;
    bool running_ = false;
    bool inFlight_ = false;
    bool waiting_ = false;
    bool controlBusy_ = false;
    bool announced_ = false; /* the state was heard since the last failure */
    std::string lastCheckpoint_;
    std::chrono::steady_clock::time_point lastCheckpointTime_{};
    std::shared_ptr<bool> alive_;
    Status status_;
};

} /* namespace stopline::pipeline */

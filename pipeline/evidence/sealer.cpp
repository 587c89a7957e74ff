#include "pipeline/evidence/sealer.h"

#include <chrono>
#include <ctime>
#include <exception>
#include <utility>

#include <boost/asio/post.hpp>

#include "hal/time.h"

namespace stopline::pipeline {

namespace asio = boost::asio;

Sealer::Sealer(std::unique_ptr<evidence::ChainWriter> writer, asio::any_io_executor workers,
               Persist persist, Now now)
    : writer_(std::move(writer)), strand_(asio::make_strand(std::move(workers))),
      persist_(std::move(persist)), now_(now ? std::move(now) : Now(&Sealer::systemNow)),
      nextSeq_(writer_->nextSeq())
{}

evidence::Instant Sealer::systemNow()
{
    timespec utc;
    Nanos mono = monotonicNow();
    clock_gettime(CLOCK_REALTIME, &utc);
    evidence::Instant i;
    i.set_monotonic_ns(mono);
    i.set_utc_ns(static_cast<std::int64_t>(utc.tv_sec) * kNanosPerSecond + utc.tv_nsec);
    return i;
}

void Sealer::seal(evidence::Record record, asio::any_io_executor replyTo, Handler handler)
{
    asio::post(strand_, [this, record = std::move(record), replyTo = std::move(replyTo),
                         handler = std::move(handler)]() mutable {
        auto start = std::chrono::steady_clock::now();
        Result result;
        result.body = record.body_case();
        const evidence::ChainWriter before = *writer_;
        try {
            *record.mutable_created() = now_();
            evidence::Sealed sealed = writer_->seal(record);
            std::optional<std::string> error;
            if (persist_)
                error = persist_(sealed, record);
            if (error) {
                *writer_ = before; /* nothing was stored: the sequence number is reused */
                result.error = "not stored: " + *error;
            } else {
                result.sealed = std::move(sealed);
            }
            result.recordId = record.record_id();
        } catch (const std::exception &e) {
            *writer_ = before;
            result.error = std::string("cannot seal: ") + e.what();
        }
        nextSeq_ = writer_->nextSeq();
        result.sealMs =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                        .count();
        asio::post(replyTo, [handler = std::move(handler), result = std::move(result)]() mutable {
            handler(std::move(result));
        });
    });
}

} /* namespace stopline::pipeline */

#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>

#include "evidence/seal.h"

namespace stopline::pipeline {

/* The one owner of the device chain (ChainWriter is not thread-safe, and two sealers
 * would fork the chain). Records are sealed in submission order on a strand of the
 * worker pool, stamped with their `created` time at sealing (so times in the chain
 * never go backwards), optionally persisted (the spool's store(): fsync included) on
 * the same strand, and the result is posted to the caller's executor. When persisting
 * fails the chain is rolled back, so the next record takes the same sequence number and
 * no gap is left for a record that never existed. */
class Sealer
{
public:
    struct Result
    {
        std::optional<evidence::Sealed> sealed; /* set when sealed and persisted */
        std::string recordId;
        evidence::Record::BodyCase body = evidence::Record::BODY_NOT_SET;
        std::string error; /* why not, when not */
        double sealMs = 0; /* sealing + persisting */

        bool ok() const { return sealed.has_value(); }
    };
    using Handler = std::function<void(Result)>;
    /* Stores a sealed record durably; returns an error message, or nullopt when stored.
     * Runs on the sealing strand. */
    using Persist = std::function<std::optional<std::string>(const evidence::Sealed &,
                                                             const evidence::Record &)>;
    /* The time a record is sealed at (monotonic and UTC). */
    using Now = std::function<evidence::Instant()>;

    /* `writer` continues the chain where the spool says it ends. */
    Sealer(std::unique_ptr<evidence::ChainWriter> writer, boost::asio::any_io_executor workers,
           Persist persist = {}, Now now = {});

    /* Seals `record` after those submitted before it; `handler` runs on `replyTo`. */
    void seal(evidence::Record record, boost::asio::any_io_executor replyTo, Handler handler);

    /* Sequence number the next record will get (for status pages; may be stale). */
    std::uint64_t nextSeq() const { return nextSeq_.load(); }

    /* Monotonic and UTC now, from the system clocks. */
    static evidence::Instant systemNow();

private:
    std::unique_ptr<evidence::ChainWriter> writer_;
    boost::asio::strand<boost::asio::any_io_executor> strand_;
    Persist persist_;
    Now now_;
    std::atomic<std::uint64_t> nextSeq_;
};

} /* namespace stopline::pipeline */

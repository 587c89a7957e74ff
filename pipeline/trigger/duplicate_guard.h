#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "pipeline/trigger/decision.h"

namespace stopline::pipeline {

/* The last check before a citation is sealed: one vehicle, one record. The rules already
 * make one decision per loop pass and per radar pass; this refuses a citation whose vehicle
 * was already cited — same kind, same lane for red light, and an overlapping crossing
 * interval or radar pass — whatever went wrong upstream. (Once plates are read on the
 * device, the same plate within the interval belongs here too.) Pure and single-threaded. */
class DuplicateGuard
{
public:
    /* Citations older than `keepNs` (by event time) are forgotten. */
    explicit DuplicateGuard(Nanos keepNs = 10 * 60 * kNanosPerSecond) : keepNs_(keepNs) {}

    /* The id of an earlier citation this one repeats, if any. */
    std::optional<std::uint64_t> duplicateOf(const Decision &cite) const;
    /* Remembers a citation that goes on to be sealed. */
    void remember(const Decision &cite);

private:
    struct Cited
    {
        ViolationKind kind;
        std::uint64_t id;
        unsigned lane; /* 0 for speed: the radar has no lanes */
        Nanos fromNs;
        Nanos toNs;
    };
    static Cited span(const Decision &d);

    Nanos keepNs_;
    std::deque<Cited> cited_;
};

} /* namespace stopline::pipeline */

#pragma once

#include <cstdint>
#include <optional>

#include "hal/time.h"

namespace stopline::drivers {

/* Debounces one input line on event time. A change is accepted once the raw level has held
 * for `holdNs` after its last edge, and is stamped with the kernel time of the *first* edge
 * of that change (contact bounce does not delay the timestamp, the debounce does not shift
 * it). Chatter that returns to the stable level is discarded; a fresh departure after the
 * line sat at its stable level for `quietNs` starts a new change, so a burst of noise just
 * before a real edge does not pull the real edge's timestamp back. Pure: no clock, no I/O. */
class EdgeDebouncer
{
public:
    struct Change
    {
        bool level = false;
        Nanos at = 0; /* first edge of the change */
    };

    explicit EdgeDebouncer(Nanos holdNs = 30 * kNanosPerMilli, Nanos quietNs = 5 * kNanosPerMilli);

    /* Known level at start, with no change pending. */
    void reset(bool level);

    /* A raw edge at kernel time t (t never earlier than the last one; clamped if it is). */
    void edge(bool level, Nanos t);

    /* Accepts a pending change whose hold has elapsed by `now`. */
    std::optional<Change> advance(Nanos now);

    /* When advance() could next accept or discard something; nullopt when idle. */
    std::optional<Nanos> deadline() const;

    bool level() const { return stable_; }
    bool raw() const { return raw_; }
    bool pending() const { return pendingSince_.has_value(); }
    std::uint64_t glitches() const { return glitches_; } /* excursions that did not hold */
    std::uint64_t edges() const { return edges_; }

private:
    Nanos hold_;
    Nanos quiet_;
    bool stable_ = false;
    bool raw_ = false;
    Nanos lastEdge_ = 0;
    std::optional<Nanos> pendingSince_;
    std::optional<Nanos> returnedAt_; /* raw came back to the stable level at this time */
    std::uint64_t glitches_ = 0;
    std::uint64_t edges_ = 0;
};

} /* namespace stopline::drivers */

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
 * before a real edge does not pull the real edge's timestamp back.
 *
 * In front of that, a glitch filter drops pulses shorter than `glitchNs` (a departure
 * and return within that time), so chatter that never pauses (e.g. 50 us spikes at
 * 1 kHz induced on a long cabinet cable) cannot keep the hold from ever elapsing. The
 * width must stay well under half the chatter period, or the level between spikes
 * would itself look like a glitch: 200 us covers induced spikes up to ~2 kHz. It delays
 * decisions by at most `glitchNs`, never the timestamps. Contact bounce looks like
 * glitches too, so a dropped pulse followed soon (within twice its width) by another
 * departure to the same level is taken as bounce: the change keeps the first pulse's
 * time. Chatter spikes, short and far apart, never link up that way. Pure: no clock, no
 * I/O. */
class EdgeDebouncer
{
public:
    struct Change
    {
        bool level = false;
        Nanos at = 0; /* first edge of the change */
    };

    explicit EdgeDebouncer(Nanos holdNs = 30 * kNanosPerMilli, Nanos quietNs = 5 * kNanosPerMilli,
                           Nanos glitchNs = 200 * kNanosPerMicro);

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
    bool pending() const { return candidate_.has_value() || pendingSince_.has_value(); }
    std::uint64_t glitches() const { return glitches_; } /* excursions that did not hold */
    std::uint64_t edges() const { return edges_; }

private:
    struct Candidate
    {
        bool level;
        Nanos at;
    };

    /* The debounce proper, fed edges that survived the glitch filter. */
    void accept(bool level, Nanos t);
    void commitCandidate();

    Nanos glitch_;
    std::optional<Candidate> candidate_; /* a departure not yet known to be a real edge */
    Nanos candidateSeen_ = 0;            /* when the candidate's own edge came */
    std::optional<Candidate> bounce_;    /* first dropped pulse of a possible bounce */
    Nanos bounceEnd_ = 0;                /* when the last dropped pulse returned */
    Nanos bounceWidth_ = 0;              /* width of the last dropped pulse */
    bool filtered_ = false;              /* level after the glitch filter */
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

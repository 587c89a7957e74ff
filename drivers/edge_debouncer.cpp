#include "drivers/edge_debouncer.h"

#include <algorithm>

namespace stopline::drivers {

EdgeDebouncer::EdgeDebouncer(Nanos holdNs, Nanos quietNs, Nanos glitchNs)
    : glitch_(glitchNs), hold_(holdNs), quiet_(quietNs)
{}

void EdgeDebouncer::reset(bool level)
{
    stable_ = raw_ = filtered_ = level;
    candidate_.reset();
    bounce_.reset();
    pendingSince_.reset();
    returnedAt_.reset();
}

void EdgeDebouncer::commitCandidate()
{
    Candidate c = *candidate_;
    candidate_.reset();
    bounce_.reset();
    filtered_ = c.level;
    accept(c.level, c.at);
}

void EdgeDebouncer::edge(bool level, Nanos t)
{
    Nanos last = candidate_ ? std::max(lastEdge_, candidateSeen_) : lastEdge_;
    if (t < last)
        t = last;
    ++edges_;
    if (candidate_) {
        if (t - candidateSeen_ < glitch_) {
            if (level != candidate_->level) {
                /* Back within the glitch width: the pulse never happened, unless it
                 * turns out to be the first bounce of a real change. */
                if (!bounce_ || bounce_->level != candidate_->level)
                    bounce_ = Candidate{candidate_->level, candidate_->at};
                bounceEnd_ = t;
                bounceWidth_ = t - candidateSeen_;
                candidate_.reset();
                ++glitches_;
            }
            return;
        }
        commitCandidate();
    }
    if (level == filtered_) {
        accept(level, t); /* a repeated level refreshes the hold */
        return;
    }
    if (glitch_ <= 0) {
        filtered_ = level;
        accept(level, t);
        return;
    }
    Nanos at = t;
    if (bounce_ && bounce_->level == level && t - bounceEnd_ <= 2 * bounceWidth_)
        at = bounce_->at; /* bounce: keep the first contact's time */
    else
        bounce_.reset();
    candidate_ = Candidate{level, at};
    candidateSeen_ = t;
}

void EdgeDebouncer::accept(bool level, Nanos t)
{
    lastEdge_ = t;
    if (level == raw_)
        return; /* a repeated level carries no change, only refreshes the hold */
    raw_ = level;
    if (level == stable_) {
        returnedAt_ = t;
        return;
    }
    bool freshDeparture = !pendingSince_ || (returnedAt_ && t - *returnedAt_ >= quiet_);
    if (freshDeparture)
        pendingSince_ = t;
    returnedAt_.reset();
}

std::optional<EdgeDebouncer::Change> EdgeDebouncer::advance(Nanos now)
{
    if (candidate_ && now - candidateSeen_ >= glitch_)
        commitCandidate();
    if (!pendingSince_ || now - lastEdge_ < hold_)
        return std::nullopt;
    Nanos since = *pendingSince_;
    pendingSince_.reset();
    returnedAt_.reset();
    if (raw_ == stable_) {
        ++glitches_;
        return std::nullopt;
    }
    stable_ = raw_;
    return Change{stable_, since};
}

std::optional<Nanos> EdgeDebouncer::deadline() const
{
    std::optional<Nanos> when;
    if (pendingSince_)
        when = lastEdge_ + hold_;
    if (candidate_ && (!when || candidateSeen_ + glitch_ < *when))
        when = candidateSeen_ + glitch_;
    return when;
}

} /* namespace stopline::drivers */

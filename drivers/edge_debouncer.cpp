#include "drivers/edge_debouncer.h"

namespace stopline::drivers {

EdgeDebouncer::EdgeDebouncer(Nanos holdNs, Nanos quietNs) : hold_(holdNs), quiet_(quietNs)
{}

void EdgeDebouncer::reset(bool level)
{
    stable_ = raw_ = level;
    pendingSince_.reset();
    returnedAt_.reset();
}

void EdgeDebouncer::edge(bool level, Nanos t)
{
    if (t < lastEdge_)
        t = lastEdge_;
    ++edges_;
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
    if (!pendingSince_)
        return std::nullopt;
    return lastEdge_ + hold_;
}

} /* namespace stopline::drivers */

#include "pipeline/trigger/duplicate_guard.h"

#include <algorithm>

namespace stopline::pipeline {

namespace {

/* Two crossings of one lane closer than this are one vehicle: no two vehicles reach the
 * stop line of one lane a tenth of a second apart. */
constexpr Nanos kSameCrossingNs = 100 * kNanosPerMilli;

} /* namespace */

DuplicateGuard::Cited DuplicateGuard::span(const Decision &d)
{
    Cited c{d.kind, d.id, 0, d.eventNs, d.eventNs};
    if (d.redLight) {
        c.lane = d.redLight->lane;
        c.fromNs = std::min(d.redLight->crossingEarliestNs, d.eventNs) - kSameCrossingNs;
        c.toNs = std::max(d.redLight->crossingLatestNs, d.eventNs) + kSameCrossingNs;
    } else if (d.speed) {
        c.fromNs = std::min(d.speed->trackStartNs, d.eventNs);
        c.toNs = std::max(d.speed->trackEndNs, d.eventNs);
    }
    return c;
}

std::optional<std::uint64_t> DuplicateGuard::duplicateOf(const Decision &cite) const
{
    const Cited c = span(cite);
    for (const Cited &o : cited_)
        if (o.kind == c.kind && o.id != c.id && o.lane == c.lane && o.fromNs <= c.toNs &&
            c.fromNs <= o.toNs)
            return o.id;
    return std::nullopt;
}

void DuplicateGuard::remember(const Decision &cite)
{
    cited_.push_back(span(cite));
    const Nanos newest = cited_.back().toNs;
    while (!cited_.empty() && cited_.front().toNs < newest - keepNs_)
        cited_.pop_front();
}

} /* namespace stopline::pipeline */

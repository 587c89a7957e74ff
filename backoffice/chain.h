#pragma once

#include <cstdint>
#include <string>

#include "backoffice/store/store.h"
#include "evidence.pb.h"

namespace stopline::backoffice {

/* Decides where an authenticated record fits in its device's chain as stored
 * (docs/evidence-integrity.md items 5, 6 and 8), without I/O: the store reads the
 * neighbours inside the ingest transaction and applies the verdict.
 * - another version of the same seq: chain.fork, refused, alarm (equivocation);
 * - prev_hash not linking to seq-1, or seq+1 not linking to this: chain.broken, refused;
 * - seq-1 missing: accepted with chain.gap, alarm for a new hole beyond the head;
 * - capture time before seq-1's beyond `toleranceNs`: accepted with time.backwards, alarm. */
ChainDecision decideChain(const evidence::Record &record, const std::string &recordHash,
                          const ChainNeighbours &neighbours, int64_t toleranceNs = 2'000'000'000);

} /* namespace stopline::backoffice */

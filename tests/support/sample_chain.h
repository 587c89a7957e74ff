#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evidence/seal.h"

namespace stopline::testkit {

/* A plausible red-light violation with an A-shot, a B-shot and a plate crop whose
 * pixel bytes are random (unique per record, so a test can find and flip them). */
evidence::Record sampleViolation(uint64_t index, int64_t utcNs);

struct SampleChain
{
    std::vector<evidence::Sealed> records; /* genesis first */
    std::string checkpoint;                /* sealed checkpoint at the last record */
};

/* Genesis plus `count - 1` violations, one second apart from `startUtcNs`. */
SampleChain makeSampleChain(const evidence::SigningKey &key, const std::string &deviceId,
                            unsigned count, int64_t startUtcNs);

/* Spool-style file names: sequence number zero-padded so name order is chain order. */
std::string recordFileName(uint64_t seq);
std::string checkpointFileName(uint64_t seqHigh);

} /* namespace stopline::testkit */

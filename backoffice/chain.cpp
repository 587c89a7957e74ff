#include "backoffice/chain.h"

namespace stopline::backoffice {

ChainDecision decideChain(const evidence::Record &record, const std::string &recordHash,
                          const ChainNeighbours &n, int64_t toleranceNs)
{
    ChainDecision d;
    const uint64_t seq = record.seq();
    const int64_t s = static_cast<int64_t>(seq);
    auto refuse = [&](const std::string &code, const std::string &detail) {
        d.accept = false;
        d.failures.push_back(code + " " + detail);
        d.alarms.push_back({code, detail, s, s});
    };

    if (!n.sameSeq.empty()) {
        refuse("chain.fork", "seq " + std::to_string(seq) + " has " +
                                     std::to_string(n.sameSeq.size() + 1) + " versions");
        return d;
    }
    if (seq == 0 && !record.has_genesis())
        refuse("chain.broken", "seq 0 is not a genesis record");
    if (n.previous && record.prev_hash() != n.previous->hash)
        refuse("chain.broken", "prev_hash does not match seq " + std::to_string(seq - 1));
    if (n.next && n.next->prevHash != recordHash)
        refuse("chain.broken", "seq " + std::to_string(seq + 1) + " does not link to this record");
    if (!d.accept)
        return d;

    if (seq > 0 && !n.previous) {
        int64_t from = n.highestSeq + 1;
        if (from < s) {
            std::string range = std::to_string(from) + ".." + std::to_string(s - 1);
            d.findings.push_back("chain.gap " + range);
            d.alarms.push_back({"chain.gap", range + " missing before seq " + std::to_string(seq),
                                from, s - 1});
        } else {
            /* Filling a hole whose lower part is still missing: the alarm exists already. */
            d.findings.push_back("chain.gap before " + std::to_string(seq));
        }
    }
    if (n.previous) {
        const ChainLink &p = *n.previous;
        bool sameBoot = !record.clock().boot_id().empty() && record.clock().boot_id() == p.bootId;
        if (record.created().utc_ns() < p.utcNs - toleranceNs ||
            (sameBoot && record.created().monotonic_ns() < p.monoNs)) {
            std::string detail =
                    "seq " + std::to_string(seq) + " earlier than seq " + std::to_string(seq - 1);
            d.findings.push_back("time.backwards " + detail);
            d.alarms.push_back({"time.backwards", detail, s, s});
        }
    }
    return d;
}

} /* namespace stopline::backoffice */

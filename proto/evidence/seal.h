#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "evidence.pb.h"
#include "evidence/keys.h"

namespace stopline::evidence {

/* Domain prefixes: a signature over one kind of message can never be replayed as
 * another kind. The trailing NUL ends the prefix unambiguously. */
inline constexpr std::string_view kRecordDomain{"stopline-record-v1\0", 19};
inline constexpr std::string_view kCheckpointDomain{"stopline-checkpoint-v1\0", 23};
inline constexpr std::string_view kReceiptDomain{"stopline-receipt-v1\0", 20};

/* The hash that links a chain and that receipts acknowledge: SHA-256 of the exact
 * record bytes that were signed (not of the envelope, so the envelope may be re-framed
 * without breaking the chain). */
std::string recordHash(std::string_view recordBytes);

/* A sealed record as it goes to the spool and over the wire. */
struct Sealed
{
    std::string bytes;      /* serialized SealedRecord */
    std::string recordHash; /* 32 raw bytes */
    uint64_t seq = 0;
};

/* Sets the SHA-256 of every embedded blob (frames, plate crops) from its data, so the
 * signed record commits to each blob. */
void hashBlobs(Record *record);

/* Appends records to one device's chain: assigns seq and prev_hash, serializes once,
 * signs those exact bytes. Not thread-safe: one owner (the sealing strand) per chain.
 * The key is borrowed and must outlive the writer. */
class ChainWriter
{
public:
    /* nextSeq 0 starts a new chain, whose first record must be a Genesis. */
    ChainWriter(std::string deviceId, const SigningKey *key, uint64_t nextSeq,
                std::string headHash);

    /* Completes and seals `record`; the writer advances only when sealing succeeds. */
    Sealed seal(Record &record);

    /* Seals a checkpoint stating the current head of the chain. */
    std::string checkpoint(const Instant &time, const ClockState &clock) const;

    uint64_t nextSeq() const { return nextSeq_; }
    const std::string &headHash() const { return headHash_; }
    const std::string &deviceId() const { return deviceId_; }
    const SigningKey &key() const { return *key_; }

private:
    std::string deviceId_;
    const SigningKey *key_;
    uint64_t nextSeq_;
    std::string headHash_;
};

/* A Genesis record body naming `key`. */
Record makeGenesis(const SigningKey &key, const std::string &deviceSerial);

/* Signs a receipt with the back-office's key. */
std::string sealReceipt(const Receipt &receipt, const SigningKey &key);

/* Parses and checks a sealed receipt against the server's public key and the
 * expected (device, seq, hash); returns false with a reason on any mismatch. */
bool checkReceipt(std::string_view sealedReceipt, const PublicKey &serverKey,
                  const std::string &deviceId, uint64_t seq, const std::string &recordHash,
                  std::string *reason);

} /* namespace stopline::evidence */

#pragma once

#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "evidence.pb.h"
#include "evidence/keys.h"

namespace stopline::evidence {

/* Status codes of docs/evidence-integrity.md items 1–8. A verifier answers with
 * a list of these, never a bare yes/no: a court wants to know what exactly is wrong. */
enum class Code {
    FormatInvalid,       /* 1: does not parse, or a required field is missing */
    FormatVersion,       /* 1: a format version this verifier does not know */
    KeyUnknown,          /* 2: key id not enrolled */
    KeyWrongDevice,      /* 2: key enrolled for another device */
    KeyNotValid,         /* 2: capture time outside the key's validity */
    KeyRevoked,          /* 2: key revoked before the capture time */
    SignatureInvalid,    /* 3 */
    BlobHashMismatch,    /* 4: an embedded blob does not match its hash */
    BlobMissing,         /* 4: a blob's data or hash is absent */
    ChainBroken,         /* 5: prev_hash does not link to the previous record */
    ChainGap,            /* 6: missing sequence numbers before this record */
    ChainFork,           /* 6: same sequence number, different content */
    ChainOrder,          /* 5: presented after a record with a higher sequence number */
    ChainDuplicate,      /* 6: same record twice (harmless: at-least-once transport) */
    ChainTruncated,      /* 7: a checkpoint names records that are not here */
    CheckpointMismatch,  /* 7: checkpoint head hash differs from the record at seq_high */
    TimeBackwards,       /* 8: capture time earlier than the previous record's */
    ClockUnsynchronized, /* 8: made with an unsynchronized clock (flag, not failure) */
};

/* "format.invalid", "chain.gap", ... */
const char *codeName(Code code);

/* Warnings are reported but do not fail a record. */
bool isFailure(Code code);

struct Finding
{
    Code code;
    std::string detail; /* e.g. "12..14" for a gap, or a sentence */

    /* The name, then the detail: "chain.gap 12..14". */
    std::string text() const;
    bool failure() const { return isFailure(code); }
};

/* What one sealed record says about itself (items 1–4) and, after chain analysis,
 * about its place in the chain (5–8). */
struct RecordCheck
{
    std::string source; /* file name or request id, for reports */
    bool parsed = false;
    bool authenticated = false; /* key known and signature valid */
    Record record;
    std::string recordBytes;
    std::string keyId;
    std::string recordHash;
    std::vector<Finding> findings;

    bool ok() const;
    bool has(Code code) const;
    /* "ok", or every finding's text separated by spaces. */
    std::string summary() const;
};

struct CheckpointCheck
{
    std::string source;
    bool parsed = false;
    bool authenticated = false;
    Checkpoint checkpoint;
    std::string keyId;
    std::vector<Finding> findings;

    bool ok() const;
    bool has(Code code) const;
    std::string summary() const;
};

/* Enrolled public keys: which device each may sign for, and when. */
class KeyRing
{
public:
    struct Entry
    {
        std::shared_ptr<const PublicKey> key;
        std::string deviceId;
        int64_t notBeforeNs = INT64_MIN;
        int64_t notAfterNs = INT64_MAX;
        int64_t revokedNs = INT64_MAX;
    };

    void enroll(Entry entry);

    /* Enrols a key using its file attributes (device, not-before, not-after, revoked);
     * `fallbackDevice` applies when the file names no device. Throws KeyError on a
     * malformed date. */
    void enrollWithAttributes(std::shared_ptr<const PublicKey> key,
                              const std::string &fallbackDevice);

    /* Enrols every *.pub file in `dir` (file stem = device when not stated); returns
     * the number of keys. Throws KeyError naming a file that cannot be used. */
    size_t loadDirectory(const std::string &dir);

    const Entry *find(const std::string &keyId) const;
    size_t size() const { return entries_.size(); }

private:
    std::map<std::string, Entry> entries_;
};

/* Parses "YYYY-MM-DDTHH:MM:SSZ" (UTC) to nanoseconds since the epoch. */
bool parseUtc(std::string_view text, int64_t *ns);

/* Checks one sealed record on its own: format, key, signature, blobs, clock flag. */
RecordCheck checkRecord(std::string_view sealedBytes, const KeyRing &keys);

/* Checks one sealed checkpoint on its own: format, key, signature. */
CheckpointCheck checkCheckpoint(std::string_view sealedBytes, const KeyRing &keys);

struct BatchInput
{
    std::string source;
    std::string bytes;
    bool isCheckpoint = false;
};

struct BatchOptions
{
    /* The set starts mid-chain (a court packet, a spool): no gap before the first. */
    bool partial = false;
    /* Allowed step back of UTC between consecutive records (clock slew). */
    int64_t timeToleranceNs = 2'000'000'000;
};

struct BatchResult
{
    std::vector<RecordCheck> records;         /* in input order */
    std::vector<CheckpointCheck> checkpoints; /* in input order */

    bool ok() const;
};

/* Verifies a set of records and checkpoints of one or more devices, in the order
 * presented: items 1–8. Key-rotation records signed by an enrolled key enrol their
 * new key for the records that follow them. */
BatchResult verifyBatch(const std::vector<BatchInput> &inputs, KeyRing keys,
                        const BatchOptions &options = {});

} /* namespace stopline::evidence */

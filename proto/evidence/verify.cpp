#include "evidence/verify.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <set>

#include "evidence/crypto.h"
#include "evidence/seal.h"

namespace stopline::evidence {

const char *codeName(Code code)
{
    switch (code) {
    case Code::FormatInvalid:
        return "format.invalid";
    case Code::FormatVersion:
        return "format.version";
    case Code::KeyUnknown:
        return "key.unknown";
    case Code::KeyWrongDevice:
        return "key.wrong_device";
    case Code::KeyNotValid:
        return "key.not_valid";
    case Code::KeyRevoked:
        return "key.revoked";
    case Code::SignatureInvalid:
        return "signature.invalid";
    case Code::BlobHashMismatch:
        return "blob.hash_mismatch";
    case Code::BlobMissing:
        return "blob.missing";
    case Code::ChainBroken:
        return "chain.broken";
    case Code::ChainGap:
        return "chain.gap";
    case Code::ChainFork:
        return "chain.fork";
    case Code::ChainOrder:
        return "chain.order";
    case Code::ChainDuplicate:
        return "chain.duplicate";
    case Code::ChainTruncated:
        return "chain.truncated";
    case Code::CheckpointMismatch:
        return "checkpoint.mismatch";
    case Code::TimeBackwards:
        return "time.backwards";
    case Code::ClockUnsynchronized:
        return "clock.unsynchronized";
    }
    return "unknown";
}

bool isFailure(Code code)
{
    return code != Code::ChainDuplicate && code != Code::ClockUnsynchronized;
}

std::string Finding::text() const
{
    return detail.empty() ? codeName(code) : std::string(codeName(code)) + " " + detail;
}

namespace {

bool anyFailure(const std::vector<Finding> &findings)
{
    return std::any_of(findings.begin(), findings.end(),
                       [](const Finding &f) { return f.failure(); });
}

bool hasCode(const std::vector<Finding> &findings, Code code)
{
    return std::any_of(findings.begin(), findings.end(),
                       [code](const Finding &f) { return f.code == code; });
}

std::string summarize(const std::vector<Finding> &findings)
{
    if (findings.empty())
        return "ok";
    std::string out = anyFailure(findings) ? "" : "ok";
    for (const Finding &f : findings) {
        if (!out.empty())
            out += " ";
        out += f.text();
    }
    return out;
}

std::string rangeText(uint64_t from, uint64_t to)
{
    return std::to_string(from) + ".." + std::to_string(to);
}

const char *roleName(FrameRole role)
{
    switch (role) {
    case FRAME_A_SHOT:
        return "A-shot";
    case FRAME_B_SHOT:
        return "B-shot";
    case FRAME_CLIP:
        return "clip frame";
    case FRAME_PLATE_CROP:
        return "plate crop";
    default:
        return "frame";
    }
}

void checkBlob(const Frame &frame, const std::string &what, std::vector<Finding> *out)
{
    if (frame.sha256().empty()) {
        out->push_back({Code::BlobMissing, what + " has no hash"});
        return;
    }
    if (frame.data().empty()) {
        out->push_back({Code::BlobMissing, what + " data absent"});
        return;
    }
    if (!constantTimeEqual(sha256(frame.data()), frame.sha256()))
        out->push_back({Code::BlobHashMismatch, what});
}

void checkBlobs(RecordCheck *check)
{
    if (!check->record.has_violation())
        return;
    const Violation &v = check->record.violation();
    std::set<std::string> frameHashes;
    for (int i = 0; i < v.frames_size(); ++i) {
        const Frame &frame = v.frames(i);
        checkBlob(frame, std::string(roleName(frame.role())) + " #" + std::to_string(i),
                  &check->findings);
        frameHashes.insert(frame.sha256());
    }
    for (int i = 0; i < v.plate().candidates_size(); ++i) {
        const PlateCandidate &c = v.plate().candidates(i);
        checkBlob(c.crop(), "plate crop #" + std::to_string(i), &check->findings);
        /* A derived image must name the frame it was cut from. */
        if (!c.source_sha256().empty() && !frameHashes.count(c.source_sha256()))
            check->findings.push_back(
                    {Code::BlobHashMismatch,
                     "plate crop #" + std::to_string(i) + " names a frame not in the record"});
    }
}

void checkFormat(RecordCheck *check)
{
    const Record &r = check->record;
    auto missing = [&](const std::string &what) {
        check->findings.push_back({Code::FormatInvalid, "missing " + what});
    };
    if (r.format_version() != FORMAT_VERSION_1) {
        check->findings.push_back(
                {Code::FormatVersion, "version " + std::to_string(r.format_version())});
        return;
    }
    if (r.device_id().empty())
        missing("device_id");
    if (r.created().utc_ns() == 0)
        missing("created time");
    if (r.body_case() == Record::BODY_NOT_SET)
        missing("record body");
    if (r.seq() == 0 && !r.prev_hash().empty())
        check->findings.push_back({Code::FormatInvalid, "seq 0 with a prev_hash"});
    if (r.seq() > 0 && r.prev_hash().size() != 32)
        missing("prev_hash");
    if (r.has_violation()) {
        const Violation &v = r.violation();
        if (v.type() == VIOLATION_TYPE_UNSPECIFIED)
            missing("violation type");
        bool aShot = std::any_of(v.frames().begin(), v.frames().end(),
                                 [](const Frame &f) { return f.role() == FRAME_A_SHOT; });
        if (!aShot)
            missing("A-shot");
    }
}

void authenticate(RecordCheck *check, const KeyRing &keys, const std::string &envelopeSignature)
{
    const KeyRing::Entry *entry = keys.find(check->keyId);
    if (!entry) {
        check->findings.push_back({Code::KeyUnknown, check->keyId});
        return;
    }
    const Record &r = check->record;
    if (entry->deviceId != r.device_id())
        check->findings.push_back(
                {Code::KeyWrongDevice, check->keyId + " is enrolled for " + entry->deviceId});
    int64_t t = r.created().utc_ns();
    if (t < entry->notBeforeNs || t >= entry->notAfterNs)
        check->findings.push_back({Code::KeyNotValid, check->keyId});
    if (t >= entry->revokedNs)
        check->findings.push_back({Code::KeyRevoked, check->keyId});
    if (!entry->key->verify(kRecordDomain, check->recordBytes, envelopeSignature)) {
        check->findings.push_back({Code::SignatureInvalid, ""});
        return;
    }
    if (r.has_genesis() && r.genesis().key_id() != check->keyId)
        check->findings.push_back({Code::FormatInvalid, "genesis names another key"});
    check->authenticated = !anyFailure(check->findings);
}

/* Parses the envelope and record; returns the signature for authenticate(). */
std::string parseRecord(std::string_view bytes, RecordCheck *check)
{
    SealedRecord sealed;
    if (!sealed.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        check->findings.push_back({Code::FormatInvalid, "envelope does not parse (truncated?)"});
        return {};
    }
    if (sealed.record().empty() || sealed.key_id().empty() || sealed.signature().size() != 64) {
        check->findings.push_back(
                {Code::FormatInvalid, "envelope lacks record, key id or 64-byte signature"});
        return {};
    }
    if (!check->record.ParseFromString(sealed.record())) {
        check->findings.push_back({Code::FormatInvalid, "record does not parse"});
        return {};
    }
    check->parsed = true;
    check->keyId = sealed.key_id();
    check->recordBytes = sealed.record();
    check->recordHash = recordHash(check->recordBytes);
    checkFormat(check);
    return sealed.signature();
}

void checkClock(RecordCheck *check)
{
    if (check->parsed && !check->record.clock().synchronized())
        check->findings.push_back({Code::ClockUnsynchronized, ""});
}

} /* namespace */

bool RecordCheck::ok() const
{
    return parsed && !anyFailure(findings);
}

bool RecordCheck::has(Code code) const
{
    return hasCode(findings, code);
}

std::string RecordCheck::summary() const
{
    return summarize(findings);
}

bool CheckpointCheck::ok() const
{
    return parsed && !anyFailure(findings);
}

bool CheckpointCheck::has(Code code) const
{
    return hasCode(findings, code);
}

std::string CheckpointCheck::summary() const
{
    return summarize(findings);
}

bool BatchResult::ok() const
{
    return std::all_of(records.begin(), records.end(), [](const auto &r) { return r.ok(); }) &&
           std::all_of(checkpoints.begin(), checkpoints.end(),
                       [](const auto &c) { return c.ok(); });
}

bool parseUtc(std::string_view text, int64_t *ns)
{
    std::tm tm{};
    int consumed = 0;
    std::string s(text);
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
        consumed != static_cast<int>(s.size()))
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *ns = static_cast<int64_t>(timegm(&tm)) * 1'000'000'000;
    return true;
}

void KeyRing::enroll(Entry entry)
{
    std::string id = entry.key->keyId();
    entries_[id] = std::move(entry);
}

void KeyRing::enrollWithAttributes(std::shared_ptr<const PublicKey> key,
                                   const std::string &fallbackDevice)
{
    Entry entry;
    entry.key = key;
    auto attr = [&](const char *name) -> const std::string * {
        auto it = key->attributes.find(name);
        return it == key->attributes.end() ? nullptr : &it->second;
    };
    entry.deviceId = attr("device") ? *attr("device") : fallbackDevice;
    struct
    {
        const char *name;
        int64_t *field;
    } dates[] = {{"not-before", &entry.notBeforeNs},
                 {"not-after", &entry.notAfterNs},
                 {"revoked", &entry.revokedNs}};
    for (auto &d : dates) {
        if (const std::string *v = attr(d.name); v && !parseUtc(*v, d.field))
            throw KeyError("key " + key->keyId() + ": " + d.name + " '" + *v +
                           "' is not YYYY-MM-DDTHH:MM:SSZ");
    }
    enroll(std::move(entry));
}

size_t KeyRing::loadDirectory(const std::string &dir)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw KeyError("key folder " + dir + " does not exist");
    std::vector<fs::path> files;
    for (const auto &e : fs::directory_iterator(dir))
        if (e.path().extension() == ".pub")
            files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const fs::path &p : files) {
        std::shared_ptr<const PublicKey> key = PublicKey::loadFile(p.string());
        enrollWithAttributes(key, p.stem().string());
    }
    return files.size();
}

const KeyRing::Entry *KeyRing::find(const std::string &keyId) const
{
    auto it = entries_.find(keyId);
    return it == entries_.end() ? nullptr : &it->second;
}

RecordCheck checkRecord(std::string_view sealedBytes, const KeyRing &keys)
{
    RecordCheck check;
    std::string signature = parseRecord(sealedBytes, &check);
    if (!check.parsed)
        return check;
    authenticate(&check, keys, signature);
    checkBlobs(&check);
    checkClock(&check);
    return check;
}

CheckpointCheck checkCheckpoint(std::string_view sealedBytes, const KeyRing &keys)
{
    CheckpointCheck check;
    SealedCheckpoint sealed;
    if (!sealed.ParseFromArray(sealedBytes.data(), static_cast<int>(sealedBytes.size())) ||
        sealed.checkpoint().empty() || sealed.signature().size() != 64 ||
        !check.checkpoint.ParseFromString(sealed.checkpoint())) {
        check.findings.push_back({Code::FormatInvalid, "checkpoint does not parse"});
        return check;
    }
    if (check.checkpoint.device_id().empty() || check.checkpoint.head_hash().size() != 32) {
        check.findings.push_back({Code::FormatInvalid, "checkpoint lacks device or head hash"});
        return check;
    }
    check.parsed = true;
    check.keyId = sealed.key_id();
    const KeyRing::Entry *entry = keys.find(check.keyId);
    if (!entry) {
        check.findings.push_back({Code::KeyUnknown, check.keyId});
        return check;
    }
    if (entry->deviceId != check.checkpoint.device_id())
        check.findings.push_back(
                {Code::KeyWrongDevice, check.keyId + " is enrolled for " + entry->deviceId});
    if (!entry->key->verify(kCheckpointDomain, sealed.checkpoint(), sealed.signature()))
        check.findings.push_back({Code::SignatureInvalid, ""});
    check.authenticated = !anyFailure(check.findings);
    return check;
}

namespace {

/* Items 5–8 for one device. `order` holds indices into `records` in input order. */
void analyzeChain(std::vector<RecordCheck> &records, const std::vector<size_t> &order,
                  std::vector<CheckpointCheck *> &checkpoints, const BatchOptions &options)
{
    /* chain.order: presented after a higher sequence number. */
    uint64_t highest = 0;
    bool any = false;
    for (size_t i : order) {
        uint64_t seq = records[i].record.seq();
        if (any && seq < highest)
            records[i].findings.push_back({Code::ChainOrder, "seq " + std::to_string(seq) +
                                                                     " presented after seq " +
                                                                     std::to_string(highest)});
        highest = any ? std::max(highest, seq) : seq;
        any = true;
    }

    /* Versions of each sequence number: same hash twice is a duplicate, a different
     * hash is a fork (equivocation). */
    std::map<uint64_t, std::vector<size_t>> bySeq;
    for (size_t i : order)
        bySeq[records[i].record.seq()].push_back(i);
    for (auto &[seq, idx] : bySeq) {
        std::set<std::string> hashes;
        for (size_t i : idx)
            hashes.insert(records[i].recordHash);
        if (hashes.size() > 1) {
            for (size_t i : idx)
                records[i].findings.push_back(
                        {Code::ChainFork, "seq " + std::to_string(seq) + " has " +
                                                  std::to_string(hashes.size()) + " versions"});
        } else {
            for (size_t k = 1; k < idx.size(); ++k)
                records[idx[k]].findings.push_back({Code::ChainDuplicate, ""});
        }
    }

    /* Links, gaps and time between consecutive present sequence numbers. */
    const RecordCheck *prev = nullptr;
    uint64_t prevSeq = 0;
    bool prevForked = false;
    for (auto &[seq, idx] : bySeq) {
        bool forked = records[idx.front()].has(Code::ChainFork);
        for (size_t i : idx) {
            RecordCheck &rc = records[i];
            if (seq == 0 && !rc.record.has_genesis())
                rc.findings.push_back({Code::ChainBroken, "seq 0 is not a genesis record"});
            if (!prev) {
                if (seq > 0 && !options.partial)
                    rc.findings.push_back({Code::ChainGap, rangeText(0, seq - 1)});
                continue;
            }
            if (seq > prevSeq + 1) {
                rc.findings.push_back({Code::ChainGap, rangeText(prevSeq + 1, seq - 1)});
            } else if (!prevForked && rc.record.prev_hash() != prev->recordHash) {
                rc.findings.push_back({Code::ChainBroken,
                                       "prev_hash does not match seq " + std::to_string(prevSeq)});
            }
            const Instant &a = prev->record.created();
            const Instant &b = rc.record.created();
            bool sameBoot = !rc.record.clock().boot_id().empty() &&
                            rc.record.clock().boot_id() == prev->record.clock().boot_id();
            if (b.utc_ns() < a.utc_ns() - options.timeToleranceNs ||
                (sameBoot && b.monotonic_ns() < a.monotonic_ns()))
                rc.findings.push_back(
                        {Code::TimeBackwards, "earlier than seq " + std::to_string(prevSeq)});
        }
        prev = &records[idx.front()];
        prevSeq = seq;
        prevForked = forked;
    }

    /* Checkpoints: the only evidence that the newest records went missing. */
    for (CheckpointCheck *cp : checkpoints) {
        if (!cp->authenticated)
            continue;
        uint64_t high = cp->checkpoint.seq_high();
        if (bySeq.empty() || high > bySeq.rbegin()->first) {
            uint64_t from = bySeq.empty() ? 0 : bySeq.rbegin()->first + 1;
            cp->findings.push_back({Code::ChainTruncated, rangeText(from, high)});
            continue;
        }
        auto it = bySeq.find(high);
        if (it != bySeq.end()) {
            bool match = std::any_of(it->second.begin(), it->second.end(), [&](size_t i) {
                return records[i].recordHash == cp->checkpoint.head_hash();
            });
            if (!match)
                cp->findings.push_back({Code::CheckpointMismatch,
                                        "head hash differs from seq " + std::to_string(high)});
        }
    }
}

} /* namespace */

BatchResult verifyBatch(const std::vector<BatchInput> &inputs, KeyRing keys,
                        const BatchOptions &options)
{
    BatchResult result;
    std::vector<std::string> signatures;
    for (const BatchInput &in : inputs) {
        if (in.isCheckpoint)
            continue;
        RecordCheck check;
        check.source = in.source;
        signatures.push_back(parseRecord(in.bytes, &check));
        result.records.push_back(std::move(check));
    }

    /* Authenticate in chain order so a key rotation enrols its key before the records
     * signed with it. */
    std::vector<size_t> chainOrder;
    for (size_t i = 0; i < result.records.size(); ++i)
        if (result.records[i].parsed)
            chainOrder.push_back(i);
    std::stable_sort(chainOrder.begin(), chainOrder.end(), [&](size_t a, size_t b) {
        const Record &ra = result.records[a].record;
        const Record &rb = result.records[b].record;
        if (ra.device_id() != rb.device_id())
            return ra.device_id() < rb.device_id();
        return ra.seq() < rb.seq();
    });
    for (size_t i : chainOrder) {
        RecordCheck &rc = result.records[i];
        authenticate(&rc, keys, signatures[i]);
        checkBlobs(&rc);
        checkClock(&rc);
        if (rc.authenticated && rc.record.has_key_rotation()) {
            try {
                KeyRing::Entry entry;
                entry.key = PublicKey::fromRaw(rc.record.key_rotation().new_public_key());
                entry.deviceId = rc.record.device_id();
                entry.notBeforeNs = rc.record.created().utc_ns();
                keys.enroll(std::move(entry));
            } catch (const KeyError &e) {
                rc.findings.push_back({Code::FormatInvalid, std::string("rotation: ") + e.what()});
            }
        }
    }

    for (const BatchInput &in : inputs) {
        if (!in.isCheckpoint)
            continue;
        CheckpointCheck cp = checkCheckpoint(in.bytes, keys);
        cp.source = in.source;
        result.checkpoints.push_back(std::move(cp));
    }

    std::map<std::string, std::vector<size_t>> byDevice; /* input order within device */
    for (size_t i = 0; i < result.records.size(); ++i)
        if (result.records[i].parsed)
            byDevice[result.records[i].record.device_id()].push_back(i);
    std::map<std::string, std::vector<CheckpointCheck *>> checkpointsByDevice;
    for (CheckpointCheck &cp : result.checkpoints)
        if (cp.parsed)
            checkpointsByDevice[cp.checkpoint.device_id()].push_back(&cp);
    for (auto &[device, cps] : checkpointsByDevice)
        byDevice.try_emplace(device);
    for (auto &[device, order] : byDevice)
        analyzeChain(result.records, order, checkpointsByDevice[device], options);
    return result;
}

} /* namespace stopline::evidence */

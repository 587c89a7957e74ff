#include "backoffice/ingest.h"

#include <nlohmann/json.hpp>

#include "backoffice/chain.h"
#include "evidence/crypto.h"
#include "evidence/seal.h"
#include "evidence/verify.h"

namespace stopline::backoffice {

using namespace evidence;
using nlohmann::json;

std::string violationTypeName(int type)
{
    switch (type) {
    case RED_LIGHT:
        return "red_light";
    case SCHOOL_ZONE_SPEED:
        return "school_zone_speed";
    default:
        return "unspecified";
    }
}

KeyRing keyRingFor(Store *store, const std::string &keyId)
{
    KeyRing ring;
    if (keyId.empty())
        return ring;
    if (auto k = store->findKey(keyId)) {
        KeyRing::Entry e;
        e.key = PublicKey::fromRaw(k->publicKey);
        e.deviceId = k->deviceId;
        e.notBeforeNs = k->notBeforeNs;
        e.notAfterNs = k->notAfterNs;
        e.revokedNs = k->revokedNs;
        ring.enroll(std::move(e));
    }
    return ring;
}

namespace {

IngestReply jsonReply(int status, const std::string &error, std::vector<std::string> codes,
                      const std::vector<std::string> &findings = {})
{
    IngestReply r;
    r.status = status;
    r.contentType = "application/json";
    r.codes = std::move(codes);
    r.body = json{{"error", error}, {"codes", r.codes}, {"findings", findings}}.dump();
    return r;
}

std::string firstWord(const std::string &s)
{
    return s.substr(0, s.find(' '));
}

std::string recordKind(const Record &r)
{
    switch (r.body_case()) {
    case Record::kViolation:
        return "violation";
    case Record::kCalibration:
        return "calibration";
    case Record::kSelfCheck:
        return "self_check";
    case Record::kGenesis:
        return "genesis";
    case Record::kKeyRotation:
        return "key_rotation";
    default:
        return "unknown";
    }
}

void addMedia(const Frame &f, std::vector<MediaBlob> *out)
{
    if (f.sha256().size() != 32 || f.data().empty())
        return;
    for (const MediaBlob &m : *out)
        if (m.sha256 == f.sha256())
            return;
    std::string type = f.encoding() == "jpeg"  ? "image/jpeg"
                       : f.encoding() == "png" ? "image/png"
                                               : "application/octet-stream";
    out->push_back({f.sha256(), type, f.data()});
}

/* The store keeps sequence numbers in signed 64-bit columns (SQLite INTEGER,
 * PostgreSQL BIGINT): one at 2^63 or above would come back negative, outside every
 * range query (gap alarms, verify-store, downloads). The protocol allows them; this
 * back-office cannot keep them, so it says so instead of storing them wrong. */
constexpr uint64_t kMaxStoredSeq = static_cast<uint64_t>(INT64_MAX);

IngestReply seqOutOfRange(const char *what, uint64_t seq)
{
    std::string finding = std::string("seq.out_of_range: ") + what + " " + std::to_string(seq) +
                          " is above " + std::to_string(kMaxStoredSeq) +
                          ", the largest sequence number the store can keep";
    return jsonReply(422, std::string(what) + " refused: " + finding, {"seq.out_of_range"},
                     {finding});
}

} /* namespace */

Ingest::Ingest(Store *store, const SigningKey *serverKey, std::string serverId)
    : store_(store), serverKey_(serverKey), serverId_(std::move(serverId))
{}

IngestReply Ingest::record(const std::string &device, std::string_view bytes)
{
    SealedRecord envelope;
    if (bytes.empty() || !envelope.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
        envelope.record().empty())
        return jsonReply(400, "body is not a SealedRecord (protobuf)", {"format.invalid"});

    KeyRing ring = keyRingFor(store_, envelope.key_id());
    RecordCheck check = checkRecord(bytes, ring);
    std::vector<std::string> findings;
    std::vector<std::string> codes;
    for (const Finding &f : check.findings) {
        findings.push_back(f.text());
        if (f.failure())
            codes.push_back(codeName(f.code));
    }
    if (!check.parsed)
        return jsonReply(400, "record does not parse", codes, findings);
    const Record &r = check.record;
    if (r.device_id() != device || check.has(Code::KeyWrongDevice))
        return jsonReply(
                403, "device " + device + " may not upload records of device " + r.device_id(),
                codes.empty() ? std::vector<std::string>{"key.wrong_device"} : codes, findings);
    if (!check.ok())
        return jsonReply(422, "record refused: " + check.summary(), codes, findings);
    if (r.seq() > kMaxStoredSeq)
        return seqOutOfRange("record seq", r.seq());

    NewRecord nr;
    nr.deviceId = r.device_id();
    nr.seq = r.seq();
    nr.hash = check.recordHash;
    nr.prevHash = r.prev_hash();
    nr.createdUtcNs = r.created().utc_ns();
    nr.createdMonoNs = r.created().monotonic_ns();
    nr.bootId = r.clock().boot_id();
    nr.kind = recordKind(r);
    nr.recordId = r.record_id();
    nr.bytes = std::string(bytes);
    for (const Finding &f : check.findings)
        nr.findings += (nr.findings.empty() ? "" : "; ") + f.text();
    if (r.has_violation()) {
        const Violation &v = r.violation();
        nr.makeCase = true;
        nr.violationType = violationTypeName(v.type());
        nr.locationCode = v.location().code();
        auto dev = store_->device(device);
        nr.site = dev && !dev->site.empty() ? dev->site : v.location().code();
        nr.eventUtcNs = v.event().utc_ns() ? v.event().utc_ns() : r.created().utc_ns();
        for (const Frame &f : v.frames())
            addMedia(f, &nr.media);
        for (const PlateCandidate &c : v.plate().candidates())
            addMedia(c.crop(), &nr.media);
    }
    if (r.has_key_rotation()) {
        try {
            auto key = PublicKey::fromRaw(r.key_rotation().new_public_key());
            nr.rotatedKey = DeviceKey{key->keyId(),
                                      device,
                                      key->raw(),
                                      r.created().utc_ns(),
                                      INT64_MAX,
                                      INT64_MAX,
                                      "rotation seq " + std::to_string(r.seq())};
        } catch (const KeyError &e) {
            return jsonReply(422, std::string("key rotation names an unusable key: ") + e.what(),
                             {"format.invalid"});
        }
    }

    IngestOutcome out = store_->ingest(
            nr, [&](const ChainNeighbours &n) { return decideChain(r, check.recordHash, n); },
            [&](int64_t caseId, int64_t receivedNs) {
                Receipt receipt;
                receipt.set_device_id(r.device_id());
                receipt.set_seq(r.seq());
                receipt.set_record_hash(check.recordHash);
                receipt.set_received_utc_ns(receivedNs);
                receipt.set_server_id(serverId_);
                if (caseId)
                    receipt.set_case_id(std::to_string(caseId));
                return sealReceipt(receipt, *serverKey_);
            });
    IngestReply reply;
    reply.caseId = out.caseId;
    switch (out.kind) {
    case IngestOutcome::Kind::Refused: {
        std::vector<std::string> c;
        for (const std::string &f : out.failures)
            c.push_back(firstWord(f));
        return jsonReply(409, "record refused: does not fit the stored chain", c, out.failures);
    }
    case IngestOutcome::Kind::Duplicate:
        reply.status = 200;
        break;
    case IngestOutcome::Kind::Stored:
        reply.status = 201;
        for (const Finding &f : check.findings)
            reply.codes.push_back(codeName(f.code)); /* warnings only: failures were refused */
        for (const std::string &f : out.findings)
            reply.codes.push_back(firstWord(f));
        break;
    }
    reply.contentType = "application/x-protobuf";
    reply.body = out.receipt;
    return reply;
}

IngestReply Ingest::checkpoint(const std::string &device, std::string_view bytes)
{
    SealedCheckpoint envelope;
    if (bytes.empty() || !envelope.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
        return jsonReply(400, "body is not a SealedCheckpoint (protobuf)", {"format.invalid"});
    CheckpointCheck check = checkCheckpoint(bytes, keyRingFor(store_, envelope.key_id()));
    std::vector<std::string> codes, findings;
    for (const Finding &f : check.findings) {
        findings.push_back(f.text());
        if (f.failure())
            codes.push_back(codeName(f.code));
    }
    if (!check.parsed)
        return jsonReply(400, "checkpoint does not parse", codes, findings);
    if (check.checkpoint.device_id() != device || check.has(Code::KeyWrongDevice))
        return jsonReply(403,
                         "device " + device + " may not send checkpoints of device " +
                                 check.checkpoint.device_id(),
                         {"key.wrong_device"}, findings);
    if (!check.ok())
        return jsonReply(422, "checkpoint refused: " + check.summary(), codes, findings);
    if (check.checkpoint.seq_high() > kMaxStoredSeq)
        return seqOutOfRange("checkpoint seq_high", check.checkpoint.seq_high());
    CheckpointOutcome out = store_->addCheckpoint(device, check.checkpoint.seq_high(),
                                                  check.checkpoint.head_hash(), std::string(bytes));
    IngestReply reply;
    reply.status = out.duplicate ? 200 : 201;
    reply.contentType = "application/json";
    for (const std::string &f : out.findings)
        reply.codes.push_back(firstWord(f));
    reply.body = json{{"stored", !out.duplicate},
                      {"seq_high", check.checkpoint.seq_high()},
                      {"codes", reply.codes},
                      {"findings", out.findings}}
                         .dump();
    return reply;
}

IngestReply Ingest::heartbeat(const std::string &device, std::string_view text)
{
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return jsonReply(400, "heartbeat body is not a JSON object", {"format.invalid"});
    /* Known fields and their types; unknown fields are kept (newer daemons). */
    struct Field
    {
        const char *path;
        json::value_t type; /* number_integer also accepts unsigned */
    };
    static const Field fields[] = {
            {"device_id", json::value_t::string},
            {"time_utc_ns", json::value_t::number_integer},
            {"software_version", json::value_t::string},
            {"uptime_s", json::value_t::number_float},
            {"signal_sensing", json::value_t::object},
            {"signal_sensing/ok", json::value_t::boolean},
            {"signal_sensing/detail", json::value_t::string},
            {"radar", json::value_t::object},
            {"radar/ok", json::value_t::boolean},
            {"radar/last_self_check_utc_ns", json::value_t::number_integer},
            {"radar/detail", json::value_t::string},
            {"camera", json::value_t::object},
            {"camera/ok", json::value_t::boolean},
            {"camera/fps", json::value_t::number_float},
            {"spool", json::value_t::object},
            {"spool/depth", json::value_t::number_integer},
            {"spool/bytes", json::value_t::number_integer},
            {"spool/capacity_bytes", json::value_t::number_integer},
            {"disk_free_bytes", json::value_t::number_integer},
            {"clock", json::value_t::object},
            {"clock/synchronized", json::value_t::boolean},
            {"clock/estimated_error_us", json::value_t::number_integer},
            {"clock/maximum_error_us", json::value_t::number_integer},
            {"enforcement", json::value_t::object},
            {"enforcement/suspended", json::value_t::boolean},
            {"enforcement/reason", json::value_t::string},
            {"alarms", json::value_t::array},
    };
    for (const Field &f : fields) {
        json::json_pointer ptr(std::string("/") + f.path);
        if (!j.contains(ptr))
            continue;
        const json &v = j.at(ptr);
        bool ok;
        switch (f.type) {
        case json::value_t::number_integer:
            ok = v.is_number_integer();
            break;
        case json::value_t::number_float:
            ok = v.is_number();
            break;
        default:
            ok = v.type() == f.type;
        }
        if (!ok)
            return jsonReply(400,
                             std::string("heartbeat field '") + f.path + "' has the wrong type",
                             {"format.invalid"});
    }
    if (j.contains("device_id") && j["device_id"] != device)
        return jsonReply(403,
                         "heartbeat names device " + j["device_id"].get<std::string>() +
                                 " but was sent by " + device,
                         {"key.wrong_device"});
    j["device_id"] = device;
    store_->addHeartbeat(device, j.dump());
    IngestReply reply;
    reply.status = 201;
    reply.contentType = "application/json";
    reply.body = json{{"stored", true}}.dump();
    return reply;
}

} /* namespace stopline::backoffice */

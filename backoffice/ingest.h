#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "backoffice/store/store.h"
#include "evidence/keys.h"
#include "evidence/verify.h"

namespace stopline::backoffice {

/* Outcome of one upload, already shaped as the HTTP answer: the transport only copies
 * it out. `body` is a SealedReceipt (protobuf) on 200/201, JSON otherwise. */
struct IngestReply
{
    int status = 500;
    std::string contentType;
    std::string body;
    int64_t caseId = 0;
    std::vector<std::string> codes; /* status codes that decided the answer */
};

/* Receives what devices send: sealed records, checkpoints, heartbeats. Verifies a
 * record exactly as received (checkRecord with the device's enrolled key, then the
 * chain as stored), stores those bytes, and answers with a receipt signed by the
 * server's key. Transport-agnostic so it is tested without sockets. */
class Ingest
{
public:
    /* Both borrowed; they outlive the Ingest. */
    Ingest(Store *store, const evidence::SigningKey *serverKey, std::string serverId);

    /* `device` is the identity the transport authenticated (client certificate or
     * token); a record of any other device is refused with 403. */
    IngestReply record(const std::string &device, std::string_view sealedBytes);
    IngestReply checkpoint(const std::string &device, std::string_view sealedBytes);
    /* JSON heartbeat (see backoffice/API.md); wrong types are refused naming the key. */
    IngestReply heartbeat(const std::string &device, std::string_view json);

    const std::string &serverId() const { return serverId_; }

private:
    Store *store_;
    const evidence::SigningKey *serverKey_;
    std::string serverId_;
};

/* "red_light" / "school_zone_speed" from the schema enum. */
std::string violationTypeName(int type);

/* A KeyRing holding just the enrolled key `keyId` (empty when unknown). */
evidence::KeyRing keyRingFor(Store *store, const std::string &keyId);

} /* namespace stopline::backoffice */

#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backoffice/store/db.h"

namespace stopline::backoffice {

/* Current schema version; migrations up to it run on open (Store::migrate). */
inline constexpr int kSchemaVersion = 4;

struct DeviceKey
{
    std::string keyId;
    std::string deviceId;
    std::string publicKey; /* raw 32 bytes */
    int64_t notBeforeNs = INT64_MIN;
    int64_t notAfterNs = INT64_MAX;
    int64_t revokedNs = INT64_MAX;
    std::string source; /* "enrolled" or "rotation seq N" */
};

struct DeviceInfo
{
    std::string id;
    std::string site;
    std::string description;
    int64_t enrolledNs = 0;
    bool hasToken = false;
    int64_t records = 0;
    int64_t highestSeq = -1;
    int64_t lastReceivedNs = 0;
};

struct MediaBlob
{
    std::string sha256; /* raw 32 bytes */
    std::string contentType;
    std::string bytes;
};

struct NewAlarm
{
    std::string kind; /* "chain.gap", "chain.fork", "chain.truncated", ... */
    std::string detail;
    int64_t seqFrom = -1;
    int64_t seqTo = -1;
};

/* What the store knows about a device's chain around one sequence number: everything
 * the chain check (chain.h) needs, read inside the ingest transaction. */
struct ChainLink
{
    uint64_t seq = 0;
    std::string hash;
    std::string prevHash;
    int64_t utcNs = 0;
    int64_t monoNs = 0;
    std::string bootId;
};

struct ChainNeighbours
{
    std::vector<ChainLink> sameSeq;    /* other versions of this seq (a fork if non-empty) */
    std::optional<ChainLink> previous; /* seq - 1 */
    std::optional<ChainLink> next;     /* seq + 1 */
    int64_t highestSeq = -1;           /* -1: no record yet */
};

/* The chain check's verdict, applied by the store in the same transaction. */
struct ChainDecision
{
    bool accept = true;
    std::vector<std::string> failures; /* codes that refuse the record (409) */
    std::vector<std::string> findings; /* codes kept with an accepted record */
    std::vector<NewAlarm> alarms;
};

struct NewRecord
{
    std::string deviceId;
    uint64_t seq = 0;
    std::string hash;     /* raw */
    std::string prevHash; /* raw */
    int64_t createdUtcNs = 0;
    int64_t createdMonoNs = 0;
    std::string bootId;
    std::string kind; /* "violation", "genesis", "self_check", ... */
    std::string recordId;
    std::string bytes;    /* the exact SealedRecord bytes received */
    std::string findings; /* findings of checkRecord, "; " separated */
    /* A violation opens a case. */
    bool makeCase = false;
    std::string violationType; /* "red_light", "school_zone_speed" */
    std::string site;
    std::string locationCode;
    int64_t eventUtcNs = 0;
    std::vector<MediaBlob> media;
    std::optional<DeviceKey> rotatedKey; /* a key rotation enrols its new key */
};

struct IngestOutcome
{
    enum class Kind { Stored, Duplicate, Refused } kind = Kind::Stored;
    std::string receipt; /* SealedReceipt bytes (Stored, Duplicate) */
    int64_t caseId = 0;
    std::vector<std::string> failures; /* Refused */
    std::vector<std::string> findings;
};

struct StoredRecord
{
    int64_t rowId = 0;
    std::string deviceId;
    uint64_t seq = 0;
    std::string hash;
    std::string bytes;
    std::string receipt;
    std::string findings;
    std::string kind;
    int64_t receivedNs = 0;
};

struct CheckpointOutcome
{
    bool duplicate = false;
    std::vector<std::string> findings; /* "chain.truncated 5..9", "checkpoint.mismatch ..." */
};

struct CaseInfo
{
    int64_t id = 0;
    int64_t recordRow = 0;
    std::string deviceId;
    uint64_t seq = 0;
    std::string site;
    std::string locationCode;
    std::string violationType;
    int64_t eventUtcNs = 0;
    int64_t createdNs = 0;
    std::string status; /* queued, approved, rejected */
    std::string leaseOwner;
    int64_t leaseExpiresNs = 0;
    int64_t version = 0;
    std::string decision;
    std::string reasonCode;
    std::string note;
    std::string checklist; /* JSON */
    std::string decidedBy;
    int64_t decidedNs = 0;
    int64_t timeOnCaseMs = 0;
    bool clipViewed = false;
    std::string approval; /* signed approval statement (JSON bytes) */
    std::string approvalSignature;
};

struct Decision
{
    int64_t caseId = 0;
    std::string owner;
    int64_t version = 0;
    std::string decision; /* "approved" or "rejected" */
    std::string reasonCode;
    std::string note;
    std::string checklist;
    int64_t decidedNs = 0;
    int64_t timeOnCaseMs = 0;
    bool clipViewed = false;
    std::string approval;
    std::string approvalSignature;
};

enum class DecideStatus { Ok, NotFound, AlreadyDecided, NotOwner, LeaseExpired, VersionMismatch };
const char *decideStatusText(DecideStatus s);

struct QueueCount
{
    std::string violationType;
    std::string site;
    int64_t queued = 0;
    int64_t oldestCreatedNs = 0;
};

struct QueueStats
{
    std::vector<QueueCount> byTypeAndSite;
    int64_t queued = 0;
    int64_t leased = 0;
    int64_t approved = 0;
    int64_t rejected = 0;
    int64_t oldestCreatedNs = 0; /* 0 when the queue is empty */
};

struct UserInfo
{
    int64_t id = 0;
    std::string username;
    std::string displayName;
    std::string role; /* reviewer, supervisor, technician, admin */
    std::string passwordHash;
    bool authorized = false;
    std::string signatureSha256; /* raw; empty when no signature on file */
    bool disabled = false;
};

struct SessionInfo
{
    std::string tokenHash;
    int64_t userId = 0;
    std::string csrf;
    int64_t createdNs = 0;
    int64_t expiresNs = 0;
    std::string ip;
};

struct AuditInput
{
    std::string actor;
    std::string action;
    std::string target;
    std::string detail;
    std::string ip;
};

/* Failed logins allowed within one window before further attempts are refused. */
struct LoginLimits
{
    int perAccountAndAddress = 5;
    int perAddress = 20;
    int64_t windowNs = 15LL * 60 * 1'000'000'000;
};

enum class LoginVerdict { Allowed, Failed, Throttled };

struct AuditEntry
{
    int64_t seq = 0;
    int64_t atNs = 0;
    std::string actor, action, target, detail, ip;
    std::string prevHash; /* hex */
    std::string hash;     /* hex */
};

struct AuditVerification
{
    bool ok = true;
    int64_t entries = 0;
    int64_t firstBadSeq = -1;
    std::string problem;
};

struct Alarm
{
    int64_t id = 0;
    std::string deviceId;
    std::string kind;
    std::string detail;
    int64_t seqFrom = -1, seqTo = -1;
    int64_t raisedNs = 0;
    int64_t resolvedNs = 0;
    std::string resolvedBy;
};

struct Heartbeat
{
    std::string deviceId;
    int64_t receivedNs = 0;
    std::string body; /* JSON as received */
};

/* Everything the back-office keeps, behind one interface over two backends (SQLite
 * for one box, PostgreSQL for a city). The SQL is written once; the few places where
 * the dialects must differ (claiming, serializing writers) say so. Thread-safe: each
 * call borrows a connection from a small pool. Times come from one injectable clock so
 * tests can expire a lease without sleeping. */
class Store
{
public:
    using Factory = std::function<std::unique_ptr<SqlDb>()>;
    using Clock = std::function<int64_t()>;

    Store(Factory factory, size_t poolSize);
    ~Store();

    /* The embedded default: `dir`/stopline.db, created with the folder if missing. */
    static std::unique_ptr<Store> openSqliteDir(const std::string &dir, size_t poolSize = 4);
    /* A libpq URL; `schema` non-empty keeps the tables in that schema. */
    static std::unique_ptr<Store> openPostgres(const std::string &url, const std::string &schema,
                                               size_t poolSize = 4);
    /* "postgresql://..." or "postgres://..." → PostgreSQL, anything else → SQLite dir. */
    static std::unique_ptr<Store> open(const std::string &location, size_t poolSize = 4);

    Dialect dialect() const { return dialect_; }
    void setClock(Clock clock) { clock_ = std::move(clock); }
    int64_t now() const { return clock_(); }

    /* Applies pending schema migrations; returns the version now in force. */
    int migrate();
    int schemaVersion();

    /* Devices and their keys. */
    void enrollDevice(const std::string &deviceId, const std::string &site,
                      const std::string &description, const DeviceKey &key,
                      const std::string &tokenSha256);
    void setDeviceToken(const std::string &deviceId, const std::string &tokenSha256);
    /* Identity and site only (records/highestSeq stay unset); devices() has the counts. */
    std::optional<DeviceInfo> device(const std::string &deviceId);
    std::optional<std::string> deviceByToken(const std::string &tokenSha256);
    std::vector<DeviceInfo> devices();
    std::optional<DeviceKey> findKey(const std::string &keyId);
    /* Keys enrolled for a device, rotations included (for re-verifying a chain). */
    std::vector<DeviceKey> deviceKeys(const std::string &deviceId);

    /* Stores a verified record with its media, case, alarms and receipt in one
     * transaction. `decide` runs inside it against the chain as stored, and
     * `makeReceipt(caseId, receivedNs)` seals the receipt; writers of one device are
     * serialized, so two uploads cannot both extend the same head. */
    IngestOutcome
    ingest(const NewRecord &record,
           const std::function<ChainDecision(const ChainNeighbours &)> &decide,
           const std::function<std::string(int64_t caseId, int64_t receivedNs)> &makeReceipt);

    /* Loads many records without chain checks or receipts, in one transaction: for
     * imports and benchmarks that need 100,000 cases in a minute. */
    void bulkLoad(const std::vector<NewRecord> &records);

    std::optional<StoredRecord> record(const std::string &deviceId, uint64_t seq);
    std::optional<StoredRecord> recordByRow(int64_t rowId);
    std::vector<StoredRecord> records(const std::string &deviceId, uint64_t fromSeq, size_t limit);
    int64_t countRecords();

    CheckpointOutcome addCheckpoint(const std::string &deviceId, uint64_t seqHigh,
                                    const std::string &headHash, const std::string &bytes);

    std::optional<MediaBlob> media(const std::string &sha256);
    void putMedia(const MediaBlob &blob);

    /* The review queue. */
    std::optional<CaseInfo> claimNext(const std::string &owner, int64_t leaseNs);
    /* Claiming a case gives up the owner's lease on any other (one lease per reviewer);
     * `released` lists the cases given up. */
    std::optional<CaseInfo> claimCase(int64_t caseId, const std::string &owner, int64_t leaseNs,
                                      std::string *why, std::vector<int64_t> *released = nullptr);
    bool release(int64_t caseId, const std::string &owner);
    DecideStatus decide(const Decision &decision, const AuditInput &audit);
    std::optional<CaseInfo> caseInfo(int64_t caseId);
    std::vector<CaseInfo> cases(const std::string &status, size_t limit, int64_t beforeId = 0);
    QueueStats queueStats();

    /* People. */
    int64_t addUser(const std::string &username, const std::string &displayName,
                    const std::string &role, const std::string &passwordHash);
    std::optional<UserInfo> user(const std::string &username);
    std::optional<UserInfo> userById(int64_t id);
    std::vector<UserInfo> users();
    void setAuthorized(const std::string &username, bool authorized);
    void setPasswordHash(const std::string &username, const std::string &passwordHash);
    /* Stores the image content-addressed and points the user at it. */
    void setSignature(const std::string &username, const MediaBlob &image);

    void createSession(const SessionInfo &session);
    std::optional<SessionInfo> session(const std::string &tokenHash);
    void deleteSession(const std::string &tokenHash);

    /* Audit log: each entry's hash covers the previous one, so an edit or a deletion
     * anywhere breaks every hash after it. */
    AuditEntry appendAudit(const AuditInput &entry);
    std::vector<AuditEntry> audit(size_t limit, int64_t beforeSeq = 0,
                                  const std::string &target = {});
    AuditVerification verifyAudit();
    /* Login throttle, keyed by (account, address) and by address, so a stranger's
     * guesses lock out only the stranger's address. settleLogin decides and counts in
     * one transaction under the audit appender's lock: concurrent guesses (on any
     * server sharing the store) cannot all pass one check before any is counted.
     * A Failed verdict is audited as login-failed; Throttled once per window and
     * address as login-throttled; Allowed writes nothing (the caller audits the login). */
    LoginVerdict settleLogin(const std::string &username, const std::string &ip,
                             bool passwordOk, const LoginLimits &limits);
    /* The same check without counting a failure (a throttled answer is audited once per
     * window): lets a throttled guess skip the password hash. */
    bool loginThrottled(const std::string &username, const std::string &ip,
                        const LoginLimits &limits);

    /* Alarms and heartbeats. */
    std::vector<Alarm> alarms(bool openOnly);
    bool resolveAlarm(int64_t id, const std::string &by);
    void addHeartbeat(const std::string &deviceId, const std::string &body);
    std::vector<Heartbeat> latestHeartbeats();
    std::vector<Heartbeat> heartbeats(const std::string &deviceId, size_t limit);

    /* Runs `fn` on one pooled connection inside a transaction, committed when `fn`
     * returns and rolled back when it throws: modules with their own tables (registry,
     * workflows) write several rows atomically without widening this class for each. */
    void transact(bool write, const std::function<void(SqlDb &)> &fn);
    /* appendAudit() inside a transact() callback: the entry commits with the change. */
    AuditEntry appendAuditIn(SqlDb &db, const AuditInput &entry);

    /* Direct access for tests (tamper with the audit log) and maintenance. */
    std::vector<Row> rawQuery(const std::string &sql, const std::vector<Value> &params = {});

private:
    class Conn;
    Conn borrow();
    void giveBack(std::unique_ptr<SqlDb> db);
    std::string sql(const std::string &text) const;
    void lockDevice(SqlDb &db, const std::string &deviceId);
    void lockLeasesOf(SqlDb &db, const std::string &owner);
    AuditEntry appendAuditLocked(SqlDb &db, const AuditInput &entry);
    bool loginThrottledLocked(SqlDb &db, const std::string &username, const std::string &ip,
                              const LoginLimits &limits);
    void auditThrottleLocked(SqlDb &db, const std::string &username, const std::string &ip,
                             const LoginLimits &limits);
    int64_t insertRecordRows(SqlDb &db, const NewRecord &r, int64_t receivedNs);

    Factory factory_;
    Dialect dialect_;
    size_t poolSize_;
    size_t open_ = 0;
    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<std::unique_ptr<SqlDb>> idle_;
    Clock clock_;
};

/* Hex SHA-256 for text columns and logs. */
std::string hexSha256(const std::string &data);

} /* namespace stopline::backoffice */

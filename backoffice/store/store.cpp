#include "backoffice/store/store.h"

#include <chrono>
#include <filesystem>

#include "evidence/crypto.h"

namespace stopline::backoffice {

using evidence::sha256;
using evidence::toHex;

std::string hexSha256(const std::string &data)
{
    return toHex(sha256(data));
}

const char *decideStatusText(DecideStatus s)
{
    switch (s) {
    case DecideStatus::Ok:
        return "ok";
    case DecideStatus::NotFound:
        return "no such case";
    case DecideStatus::AlreadyDecided:
        return "the case was already decided";
    case DecideStatus::NotOwner:
        return "the case is leased to someone else (claim it first)";
    case DecideStatus::LeaseExpired:
        return "your lease on the case expired: nothing was saved; claim it again";
    case DecideStatus::VersionMismatch:
        return "the case changed since you opened it (stale version): reload it";
    }
    return "unknown";
}

namespace {

int64_t wallClockNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
}

/* Versioned migrations. {ID} and {BLOB} are the only dialect differences in the DDL.
 * Never edit a migration that has shipped: add the next one. */
struct Migration
{
    int version;
    const char *description;
    const char *sql;
};

const Migration kMigrations[] = {
        {1, "core: devices, records, media, cases, users, sessions, audit, alarms, heartbeats",
         R"SQL(
CREATE TABLE devices (
  device_id TEXT PRIMARY KEY,
  site TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  token_sha256 TEXT UNIQUE,
  enrolled_ns BIGINT NOT NULL);
CREATE TABLE device_keys (
  key_id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL REFERENCES devices(device_id),
  public_key {BLOB} NOT NULL,
  not_before_ns BIGINT NOT NULL,
  not_after_ns BIGINT NOT NULL,
  revoked_ns BIGINT NOT NULL,
  source TEXT NOT NULL);
CREATE TABLE media (
  sha256 {BLOB} PRIMARY KEY,
  content_type TEXT NOT NULL,
  bytes {BLOB} NOT NULL);
CREATE TABLE records (
  id {ID},
  device_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  record_hash {BLOB} NOT NULL,
  prev_hash {BLOB},
  created_utc_ns BIGINT NOT NULL,
  created_mono_ns BIGINT NOT NULL,
  boot_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  record_id TEXT NOT NULL,
  bytes {BLOB} NOT NULL,
  findings TEXT NOT NULL,
  received_ns BIGINT NOT NULL,
  UNIQUE (device_id, seq, record_hash));
CREATE INDEX records_device_seq ON records(device_id, seq);
CREATE TABLE receipts (
  record_row BIGINT PRIMARY KEY REFERENCES records(id),
  receipt {BLOB} NOT NULL);
CREATE TABLE quarantine (
  id {ID},
  device_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  record_hash {BLOB} NOT NULL,
  bytes {BLOB} NOT NULL,
  failures TEXT NOT NULL,
  received_ns BIGINT NOT NULL);
CREATE TABLE cases (
  id {ID},
  record_row BIGINT NOT NULL REFERENCES records(id),
  device_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  site TEXT NOT NULL,
  location_code TEXT NOT NULL,
  violation_type TEXT NOT NULL,
  event_utc_ns BIGINT NOT NULL,
  created_ns BIGINT NOT NULL,
  status TEXT NOT NULL DEFAULT 'queued',
  lease_owner TEXT,
  lease_expires_ns BIGINT,
  version BIGINT NOT NULL DEFAULT 0,
  decision TEXT,
  reason_code TEXT,
  note TEXT,
  checklist TEXT,
  decided_by TEXT,
  decided_ns BIGINT,
  time_on_case_ms BIGINT,
  clip_viewed INTEGER,
  approval {BLOB},
  approval_sig {BLOB});
CREATE INDEX cases_queue ON cases(status, id);
CREATE TABLE checkpoints (
  id {ID},
  device_id TEXT NOT NULL,
  seq_high BIGINT NOT NULL,
  head_hash {BLOB} NOT NULL,
  bytes {BLOB} NOT NULL,
  findings TEXT NOT NULL,
  received_ns BIGINT NOT NULL,
  UNIQUE (device_id, seq_high, head_hash));
CREATE TABLE alarms (
  id {ID},
  device_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  detail TEXT NOT NULL,
  seq_from BIGINT NOT NULL,
  seq_to BIGINT NOT NULL,
  raised_ns BIGINT NOT NULL,
  resolved_ns BIGINT,
  resolved_by TEXT);
CREATE INDEX alarms_open ON alarms(resolved_ns, device_id);
CREATE TABLE heartbeats (
  id {ID},
  device_id TEXT NOT NULL,
  received_ns BIGINT NOT NULL,
  body TEXT NOT NULL);
CREATE INDEX heartbeats_device ON heartbeats(device_id, id);
CREATE TABLE users (
  id {ID},
  username TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  authorized INTEGER NOT NULL DEFAULT 0,
  signature_sha256 {BLOB},
  disabled INTEGER NOT NULL DEFAULT 0,
  created_ns BIGINT NOT NULL);
CREATE TABLE sessions (
  token_sha256 TEXT PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id),
  csrf TEXT NOT NULL,
  created_ns BIGINT NOT NULL,
  expires_ns BIGINT NOT NULL,
  ip TEXT NOT NULL);
CREATE TABLE audit (
  seq BIGINT PRIMARY KEY,
  at_ns BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT NOT NULL,
  ip TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL);
)SQL"},
        {2, "queue: index leases by owner, audit by target",
         R"SQL(
CREATE INDEX cases_lease_owner ON cases(lease_owner, status);
CREATE INDEX audit_target ON audit(target, seq);
)SQL"},
        {3,
         "issue 7: registry, case files, tasks, referrals, citations, payments, contacts, "
         "employee reports, reimbursements, second reviews, statistics cache",
         R"SQL(
CREATE TABLE registry_vehicles (
  plate TEXT NOT NULL,
  state TEXT NOT NULL,
  owner_name TEXT NOT NULL,
  owner_address TEXT NOT NULL,
  owner_phone TEXT NOT NULL,
  make TEXT NOT NULL,
  model TEXT NOT NULL,
  year BIGINT NOT NULL,
  colour TEXT NOT NULL,
  ownership TEXT NOT NULL,
  agency TEXT NOT NULL,
  agency_contact TEXT NOT NULL,
  department TEXT NOT NULL,
  owner_key TEXT NOT NULL,
  source TEXT NOT NULL,
  imported_ns BIGINT NOT NULL,
  PRIMARY KEY (plate, state));
CREATE INDEX registry_owner_key ON registry_vehicles(owner_key);
CREATE TABLE case_files (
  case_id BIGINT PRIMARY KEY REFERENCES cases(id),
  plate TEXT NOT NULL,
  state TEXT NOT NULL,
  plate_source TEXT NOT NULL,
  ownership TEXT NOT NULL DEFAULT '',
  vehicle TEXT NOT NULL DEFAULT '',
  facts TEXT NOT NULL DEFAULT '{}',
  stage TEXT NOT NULL DEFAULT 'review',
  outcome TEXT NOT NULL DEFAULT 'open',
  contact_name TEXT NOT NULL DEFAULT '',
  contact_address TEXT NOT NULL DEFAULT '',
  contact_phone TEXT NOT NULL DEFAULT '',
  routed_ns BIGINT,
  updated_ns BIGINT NOT NULL);
CREATE INDEX case_files_plate ON case_files(plate, state);
CREATE TABLE tasks (
  id {ID},
  case_id BIGINT NOT NULL,
  rule TEXT NOT NULL,
  role TEXT NOT NULL,
  title TEXT NOT NULL,
  detail TEXT NOT NULL,
  due_ns BIGINT NOT NULL,
  status TEXT NOT NULL,
  created_ns BIGINT NOT NULL,
  closed_ns BIGINT,
  closed_by TEXT,
  outcome TEXT);
CREATE INDEX tasks_case ON tasks(case_id);
CREATE INDEX tasks_open ON tasks(status, due_ns);
CREATE TABLE referrals (
  id {ID},
  case_id BIGINT NOT NULL,
  referred_ns BIGINT NOT NULL,
  role TEXT NOT NULL,
  person_contacted TEXT NOT NULL,
  organization TEXT NOT NULL,
  disposition TEXT NOT NULL,
  recorded_by TEXT NOT NULL,
  recorded_ns BIGINT NOT NULL);
CREATE INDEX referrals_case ON referrals(case_id);
CREATE TABLE citations (
  id {ID},
  case_id BIGINT NOT NULL,
  number TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  recipient_role TEXT NOT NULL,
  recipient_name TEXT NOT NULL,
  recipient_address TEXT NOT NULL,
  employee TEXT NOT NULL,
  amount_cents BIGINT NOT NULL,
  access_code TEXT NOT NULL,
  status TEXT NOT NULL,
  created_ns BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  mailed_ns BIGINT,
  received_ns BIGINT,
  due_ns BIGINT,
  supersedes BIGINT,
  rule TEXT NOT NULL,
  pdf_sha256 {BLOB});
CREATE INDEX citations_case ON citations(case_id);
CREATE INDEX citations_status_due ON citations(status, due_ns);
CREATE TABLE payments (
  id {ID},
  case_id BIGINT NOT NULL,
  citation_id BIGINT NOT NULL,
  amount_cents BIGINT NOT NULL,
  paid_ns BIGINT NOT NULL,
  method TEXT NOT NULL,
  reference TEXT NOT NULL,
  recorded_by TEXT NOT NULL,
  recorded_ns BIGINT NOT NULL);
CREATE INDEX payments_citation ON payments(citation_id);
CREATE TABLE contacts (
  id {ID},
  case_id BIGINT NOT NULL,
  at_ns BIGINT NOT NULL,
  channel TEXT NOT NULL,
  person TEXT NOT NULL,
  outcome TEXT NOT NULL,
  notes TEXT NOT NULL,
  recorded_by TEXT NOT NULL);
CREATE INDEX contacts_case ON contacts(case_id, at_ns);
CREATE TABLE employee_reports (
  id {ID},
  kind TEXT NOT NULL,
  case_id BIGINT,
  plate TEXT NOT NULL,
  state TEXT NOT NULL,
  occurred_ns BIGINT NOT NULL,
  employee TEXT NOT NULL,
  supervisor TEXT NOT NULL,
  justified INTEGER NOT NULL,
  narrative TEXT NOT NULL,
  recorded_by TEXT NOT NULL,
  recorded_ns BIGINT NOT NULL);
CREATE INDEX employee_reports_plate ON employee_reports(plate, state);
CREATE TABLE reimbursements (
  id {ID},
  case_id BIGINT NOT NULL,
  employee TEXT NOT NULL,
  elected_ns BIGINT NOT NULL,
  citation_id BIGINT NOT NULL);
CREATE INDEX reimbursements_employee ON reimbursements(employee, elected_ns);
CREATE TABLE second_reviews (
  case_id BIGINT PRIMARY KEY,
  reason TEXT NOT NULL,
  decided_by TEXT NOT NULL,
  time_on_case_ms BIGINT NOT NULL,
  minimum_ms BIGINT NOT NULL,
  queued_ns BIGINT NOT NULL,
  reviewer TEXT,
  reviewed_ns BIGINT,
  verdict TEXT,
  note TEXT);
CREATE INDEX second_reviews_open ON second_reviews(reviewed_ns, queued_ns);
CREATE TABLE case_stats (
  case_id BIGINT PRIMARY KEY,
  lane BIGINT NOT NULL,
  measured_yellow_us BIGINT NOT NULL,
  minimum_yellow_us BIGINT NOT NULL,
  speed DOUBLE PRECISION NOT NULL,
  speed_limit DOUBLE PRECISION NOT NULL);
)SQL"},
        {4, "issue 16: audit by address (the login throttle counts failures per address)",
         R"SQL(
CREATE INDEX audit_ip_action ON audit(ip, action, at_ns);
)SQL"},
};

std::string replaceAll(std::string s, const std::string &from, const std::string &to)
{
    for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
        s.replace(pos, from.size(), to);
    return s;
}

const char *kCaseColumns =
        "id, record_row, device_id, seq, site, location_code, violation_type, event_utc_ns, "
        "created_ns, status, lease_owner, lease_expires_ns, version, decision, reason_code, note, "
        "checklist, decided_by, decided_ns, time_on_case_ms, clip_viewed, approval, approval_sig";

CaseInfo caseFromRow(const Row &r)
{
    CaseInfo c;
    c.id = r.integer(0);
    c.recordRow = r.integer(1);
    c.deviceId = r.text(2);
    c.seq = static_cast<uint64_t>(r.integer(3));
    c.site = r.text(4);
    c.locationCode = r.text(5);
    c.violationType = r.text(6);
    c.eventUtcNs = r.integer(7);
    c.createdNs = r.integer(8);
    c.status = r.text(9);
    c.leaseOwner = r.text(10);
    c.leaseExpiresNs = r.isNull(11) ? 0 : r.integer(11);
    c.version = r.integer(12);
    c.decision = r.text(13);
    c.reasonCode = r.text(14);
    c.note = r.text(15);
    c.checklist = r.text(16);
    c.decidedBy = r.text(17);
    c.decidedNs = r.isNull(18) ? 0 : r.integer(18);
    c.timeOnCaseMs = r.isNull(19) ? 0 : r.integer(19);
    c.clipViewed = !r.isNull(20) && r.integer(20) != 0;
    c.approval = r.text(21);
    c.approvalSignature = r.text(22);
    return c;
}

const char *kUserColumns =
        "id, username, display_name, role, password_hash, authorized, signature_sha256, disabled";

UserInfo userFromRow(const Row &r)
{
    UserInfo u;
    u.id = r.integer(0);
    u.username = r.text(1);
    u.displayName = r.text(2);
    u.role = r.text(3);
    u.passwordHash = r.text(4);
    u.authorized = r.integer(5) != 0;
    u.signatureSha256 = r.text(6);
    u.disabled = r.integer(7) != 0;
    return u;
}

/* The receipt lives in its own table: writing it after the case id is known must not
 * rewrite the 200 KB record row (SQLite rewrites whole rows on UPDATE). */
const char *kRecordColumns =
        "id, device_id, seq, record_hash, bytes, (SELECT receipt FROM receipts "
        "WHERE record_row = records.id), findings, kind, received_ns";

StoredRecord recordFromRow(const Row &r)
{
    StoredRecord s;
    s.rowId = r.integer(0);
    s.deviceId = r.text(1);
    s.seq = static_cast<uint64_t>(r.integer(2));
    s.hash = r.text(3);
    s.bytes = r.text(4);
    s.receipt = r.text(5);
    s.findings = r.text(6);
    s.kind = r.text(7);
    s.receivedNs = r.integer(8);
    return s;
}

ChainLink linkFromRow(const Row &r)
{
    ChainLink l;
    l.seq = static_cast<uint64_t>(r.integer(0));
    l.hash = r.text(1);
    l.prevHash = r.text(2);
    l.utcNs = r.integer(3);
    l.monoNs = r.integer(4);
    l.bootId = r.text(5);
    return l;
}

AuditEntry auditFromRow(const Row &r)
{
    AuditEntry a;
    a.seq = r.integer(0);
    a.atNs = r.integer(1);
    a.actor = r.text(2);
    a.action = r.text(3);
    a.target = r.text(4);
    a.detail = r.text(5);
    a.ip = r.text(6);
    a.prevHash = r.text(7);
    a.hash = r.text(8);
    return a;
}

/* Each field length-prefixed, so no two different entries hash the same text. */
std::string auditHash(const AuditEntry &a)
{
    std::string text;
    auto field = [&](const std::string &s) {
        text += std::to_string(s.size());
        text += ':';
        text += s;
        text += '\n';
    };
    field(a.prevHash);
    field(std::to_string(a.seq));
    field(std::to_string(a.atNs));
    field(a.actor);
    field(a.action);
    field(a.target);
    field(a.detail);
    field(a.ip);
    return hexSha256(text);
}

const std::string kGenesisAuditHash(64, '0');

} /* namespace */

/* A pooled connection, returned to the pool when it goes out of scope. */
class Store::Conn
{
public:
    Conn(Store *store, std::unique_ptr<SqlDb> db) : store_(store), db_(std::move(db)) {}
    Conn(Conn &&o) noexcept : store_(o.store_), db_(std::move(o.db_)) {}
    ~Conn()
    {
        if (db_)
            store_->giveBack(std::move(db_));
    }
    SqlDb &operator*() { return *db_; }
    SqlDb *operator->() { return db_.get(); }

private:
    Store *store_;
    std::unique_ptr<SqlDb> db_;
};

Store::Store(Factory factory, size_t poolSize)
    : factory_(std::move(factory)), poolSize_(poolSize ? poolSize : 1), clock_(wallClockNs)
{
    std::unique_ptr<SqlDb> first = factory_();
    dialect_ = first->dialect();
    open_ = 1;
    idle_.push_back(std::move(first));
}

Store::~Store() = default;

std::unique_ptr<Store> Store::openSqliteDir(const std::string &dir, size_t poolSize)
{
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
        throw DbError("cannot create data folder " + dir + ": " + ec.message());
    std::string path = (std::filesystem::path(dir) / "stopline.db").string();
    auto store = std::make_unique<Store>([path] { return openSqlite(path); }, poolSize);
    store->migrate();
    return store;
}

std::unique_ptr<Store> Store::openPostgres(const std::string &url, const std::string &schema,
                                           size_t poolSize)
{
    auto store = std::make_unique<Store>(
            [url, schema] { return backoffice::openPostgres(url, schema); }, poolSize);
    store->migrate();
    return store;
}

std::unique_ptr<Store> Store::open(const std::string &location, size_t poolSize)
{
    if (location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0)
        return openPostgres(location, {}, poolSize);
    return openSqliteDir(location, poolSize);
}

Store::Conn Store::borrow()
{
    std::unique_lock lock(mutex_);
    for (;;) {
        if (!idle_.empty()) {
            std::unique_ptr<SqlDb> db = std::move(idle_.back());
            idle_.pop_back();
            return Conn(this, std::move(db));
        }
        if (open_ < poolSize_) {
            ++open_;
            lock.unlock();
            try {
                return Conn(this, factory_());
            } catch (...) {
                lock.lock();
                --open_;
                throw;
            }
        }
        available_.wait(lock);
    }
}

void Store::giveBack(std::unique_ptr<SqlDb> db)
{
    {
        std::lock_guard lock(mutex_);
        idle_.push_back(std::move(db));
    }
    available_.notify_one();
}

std::string Store::sql(const std::string &text) const
{
    if (dialect_ == Dialect::Sqlite)
        return replaceAll(replaceAll(text, "{ID}", "INTEGER PRIMARY KEY"), "{BLOB}", "BLOB");
    return replaceAll(replaceAll(text, "{ID}", "BIGSERIAL PRIMARY KEY"), "{BLOB}", "BYTEA");
}

/* Serializes writers of one device's chain. SQLite's BEGIN IMMEDIATE already
 * serializes every writer; PostgreSQL needs a transaction-scoped advisory lock. */
void Store::lockDevice(SqlDb &db, const std::string &deviceId)
{
    if (dialect_ == Dialect::Postgres)
        db.query("SELECT pg_advisory_xact_lock(hashtext(?))", {"device:" + deviceId});
}

int Store::migrate()
{
    Conn db = borrow();
    db->execScript("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, "
                   "description TEXT NOT NULL, applied_ns BIGINT NOT NULL)");
    Transaction txn(*db, true);
    if (dialect_ == Dialect::Postgres)
        db->query("SELECT pg_advisory_xact_lock(53011)"); /* two servers starting at once */
    int current = static_cast<int>(
            db->query("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0].integer(0));
    if (current > kSchemaVersion)
        throw DbError("database schema version " + std::to_string(current) +
                      " is newer than this program (" + std::to_string(kSchemaVersion) +
                      "): upgrade stopline-backoffice");
    for (const Migration &m : kMigrations) {
        if (m.version <= current)
            continue;
        db->execScript(sql(m.sql));
        db->query("INSERT INTO schema_version (version, description, applied_ns) VALUES (?, ?, ?)",
                  {int64_t{m.version}, std::string(m.description), now()});
        current = m.version;
    }
    txn.commit();
    return current;
}

int Store::schemaVersion()
{
    Conn db = borrow();
    return static_cast<int>(
            db->query("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0].integer(0));
}

void Store::enrollDevice(const std::string &deviceId, const std::string &site,
                         const std::string &description, const DeviceKey &key,
                         const std::string &tokenSha256)
{
    Conn db = borrow();
    Transaction txn(*db, true);
    db->query("INSERT INTO devices (device_id, site, description, token_sha256, enrolled_ns) "
              "VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET site = excluded.site, "
              "description = excluded.description",
              {deviceId, site, description,
               tokenSha256.empty() ? Value{nullptr} : Value{tokenSha256}, now()});
    if (!tokenSha256.empty())
        db->query("UPDATE devices SET token_sha256 = ? WHERE device_id = ?",
                  {tokenSha256, deviceId});
    auto existing = db->query("SELECT device_id FROM device_keys WHERE key_id = ?", {key.keyId});
    if (!existing.empty() && existing[0].text(0) != deviceId)
        throw DbError("key " + key.keyId + " is already enrolled for device " +
                      existing[0].text(0));
    db->query(
            "INSERT INTO device_keys (key_id, device_id, public_key, not_before_ns, not_after_ns, "
            "revoked_ns, source) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key_id) DO UPDATE SET "
            "not_before_ns = excluded.not_before_ns, not_after_ns = excluded.not_after_ns, "
            "revoked_ns = excluded.revoked_ns",
            {key.keyId, deviceId, Blob{key.publicKey}, key.notBeforeNs, key.notAfterNs,
             key.revokedNs, key.source.empty() ? std::string("enrolled") : key.source});
    txn.commit();
}

void Store::setDeviceToken(const std::string &deviceId, const std::string &tokenSha256)
{
    Conn db = borrow();
    db->query("UPDATE devices SET token_sha256 = ? WHERE device_id = ?", {tokenSha256, deviceId});
    if (db->changes() != 1)
        throw DbError("no enrolled device " + deviceId);
}

std::optional<DeviceInfo> Store::device(const std::string &deviceId)
{
    /* On every upload: one indexed row, no counting over the device's records. */
    Conn db = borrow();
    auto rows =
            db->query("SELECT device_id, site, description, enrolled_ns, token_sha256 FROM devices "
                      "WHERE device_id = ?",
                      {deviceId});
    if (rows.empty())
        return std::nullopt;
    DeviceInfo d;
    d.id = rows[0].text(0);
    d.site = rows[0].text(1);
    d.description = rows[0].text(2);
    d.enrolledNs = rows[0].integer(3);
    d.hasToken = !rows[0].isNull(4);
    return d;
}

std::optional<std::string> Store::deviceByToken(const std::string &tokenSha256)
{
    Conn db = borrow();
    auto rows = db->query("SELECT device_id FROM devices WHERE token_sha256 = ?", {tokenSha256});
    if (rows.empty())
        return std::nullopt;
    return rows[0].text(0);
}

std::vector<DeviceInfo> Store::devices()
{
    Conn db = borrow();
    std::vector<DeviceInfo> out;
    for (const Row &r :
         db->query("SELECT d.device_id, d.site, d.description, d.enrolled_ns, d.token_sha256, "
                   "(SELECT COUNT(*) FROM records r WHERE r.device_id = d.device_id), "
                   "(SELECT MAX(seq) FROM records r WHERE r.device_id = d.device_id), "
                   "(SELECT MAX(received_ns) FROM records r WHERE r.device_id = d.device_id) "
                   "FROM devices d ORDER BY d.device_id")) {
        DeviceInfo d;
        d.id = r.text(0);
        d.site = r.text(1);
        d.description = r.text(2);
        d.enrolledNs = r.integer(3);
        d.hasToken = !r.isNull(4);
        d.records = r.integer(5);
        d.highestSeq = r.isNull(6) ? -1 : r.integer(6);
        d.lastReceivedNs = r.isNull(7) ? 0 : r.integer(7);
        out.push_back(std::move(d));
    }
    return out;
}

namespace {

const char *const kKeySelect = "SELECT key_id, device_id, public_key, not_before_ns, "
                               "not_after_ns, revoked_ns, source FROM device_keys ";

DeviceKey keyFromRow(const Row &r)
{
    return DeviceKey{r.text(0),    r.text(1),    r.text(2), r.integer(3),
                     r.integer(4), r.integer(5), r.text(6)};
}

} /* namespace */

std::optional<DeviceKey> Store::findKey(const std::string &keyId)
{
    Conn db = borrow();
    auto rows = db->query(std::string(kKeySelect) + "WHERE key_id = ?", {keyId});
    if (rows.empty())
        return std::nullopt;
    return keyFromRow(rows[0]);
}

std::vector<DeviceKey> Store::deviceKeys(const std::string &deviceId)
{
    Conn db = borrow();
    std::vector<DeviceKey> out;
    for (const Row &r :
         db->query(std::string(kKeySelect) + "WHERE device_id = ? ORDER BY not_before_ns",
                   {deviceId}))
        out.push_back(keyFromRow(r));
    return out;
}

int64_t Store::insertRecordRows(SqlDb &db, const NewRecord &r, int64_t receivedNs)
{
    for (const MediaBlob &m : r.media)
        db.query("INSERT INTO media (sha256, content_type, bytes) VALUES (?, ?, ?) "
                 "ON CONFLICT (sha256) DO NOTHING",
                 {Blob{m.sha256}, m.contentType, Blob{m.bytes}});
    auto rows =
            db.query("INSERT INTO records (device_id, seq, record_hash, prev_hash, created_utc_ns, "
                     "created_mono_ns, boot_id, kind, record_id, bytes, findings, received_ns) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                     {r.deviceId, static_cast<int64_t>(r.seq), Blob{r.hash}, Blob{r.prevHash},
                      r.createdUtcNs, r.createdMonoNs, r.bootId, r.kind, r.recordId, Blob{r.bytes},
                      r.findings, receivedNs});
    return rows.at(0).integer(0);
}

IngestOutcome Store::ingest(const NewRecord &r,
                            const std::function<ChainDecision(const ChainNeighbours &)> &decide,
                            const std::function<std::string(int64_t, int64_t)> &makeReceipt)
{
    Conn db = borrow();
    Transaction txn(*db, true);
    lockDevice(*db, r.deviceId);
    IngestOutcome out;
    auto dup = db->query(
            "SELECT (SELECT receipt FROM receipts WHERE record_row = records.id), findings "
            "FROM records WHERE device_id = ? AND seq = ? AND record_hash = ?",
            {r.deviceId, static_cast<int64_t>(r.seq), Blob{r.hash}});
    if (!dup.empty()) {
        out.kind = IngestOutcome::Kind::Duplicate;
        out.receipt = dup[0].text(0);
        auto c = db->query("SELECT c.id FROM cases c JOIN records r ON c.record_row = r.id "
                           "WHERE r.device_id = ? AND r.seq = ? AND r.record_hash = ?",
                           {r.deviceId, static_cast<int64_t>(r.seq), Blob{r.hash}});
        out.caseId = c.empty() ? 0 : c[0].integer(0);
        return out; /* read-only: the rollback changes nothing */
    }

    ChainNeighbours n;
    const char *linkSql = "SELECT seq, record_hash, prev_hash, created_utc_ns, created_mono_ns, "
                          "boot_id FROM records WHERE device_id = ? AND seq = ? ORDER BY id";
    for (const Row &row : db->query(linkSql, {r.deviceId, static_cast<int64_t>(r.seq)}))
        n.sameSeq.push_back(linkFromRow(row));
    if (r.seq > 0) {
        auto prev = db->query(linkSql, {r.deviceId, static_cast<int64_t>(r.seq - 1)});
        if (!prev.empty())
            n.previous = linkFromRow(prev[0]);
    }
    auto next = db->query(linkSql, {r.deviceId, static_cast<int64_t>(r.seq + 1)});
    if (!next.empty())
        n.next = linkFromRow(next[0]);
    auto high = db->query("SELECT MAX(seq) FROM records WHERE device_id = ?", {r.deviceId});
    n.highestSeq = high[0].isNull(0) ? -1 : high[0].integer(0);

    ChainDecision verdict = decide(n);
    int64_t received = now();
    auto raise = [&](const NewAlarm &a) {
        db->query("INSERT INTO alarms (device_id, kind, detail, seq_from, seq_to, raised_ns) "
                  "VALUES (?, ?, ?, ?, ?, ?)",
                  {r.deviceId, a.kind, a.detail, a.seqFrom, a.seqTo, received});
    };
    if (!verdict.accept) {
        /* Authentic but refused (fork, broken link): kept as evidence of what the device
         * sent, never as a case. */
        std::string failures;
        for (const std::string &f : verdict.failures)
            failures += (failures.empty() ? "" : " ") + f;
        db->query("INSERT INTO quarantine (device_id, seq, record_hash, bytes, failures, "
                  "received_ns) VALUES (?, ?, ?, ?, ?, ?)",
                  {r.deviceId, static_cast<int64_t>(r.seq), Blob{r.hash}, Blob{r.bytes}, failures,
                   received});
        for (const NewAlarm &a : verdict.alarms)
            raise(a);
        txn.commit();
        out.kind = IngestOutcome::Kind::Refused;
        out.failures = verdict.failures;
        return out;
    }

    NewRecord stored = r;
    for (const std::string &f : verdict.findings)
        stored.findings += (stored.findings.empty() ? "" : "; ") + f;
    int64_t rowId = insertRecordRows(*db, stored, received);
    if (r.makeCase) {
        auto c = db->query("INSERT INTO cases (record_row, device_id, seq, site, location_code, "
                           "violation_type, event_utc_ns, created_ns) VALUES (?, ?, ?, ?, ?, ?, ?, "
                           "?) RETURNING id",
                           {rowId, r.deviceId, static_cast<int64_t>(r.seq), r.site, r.locationCode,
                            r.violationType, r.eventUtcNs, received});
        out.caseId = c.at(0).integer(0);
    }
    for (const NewAlarm &a : verdict.alarms)
        raise(a);
    /* A record that fills the last hole of a gap, or reaches a checkpoint's head,
     * resolves the alarm it caused. */
    auto open = db->query("SELECT id, seq_from, seq_to FROM alarms WHERE device_id = ? AND "
                          "resolved_ns IS NULL AND kind IN ('chain.gap', 'chain.truncated') AND "
                          "seq_from <= ? AND seq_to >= ?",
                          {r.deviceId, static_cast<int64_t>(r.seq), static_cast<int64_t>(r.seq)});
    for (const Row &a : open) {
        int64_t from = a.integer(1), to = a.integer(2);
        int64_t have = db->query("SELECT COUNT(DISTINCT seq) FROM records WHERE device_id = ? AND "
                                 "seq >= ? AND seq <= ?",
                                 {r.deviceId, from, to})[0]
                               .integer(0);
        if (have == to - from + 1)
            db->query("UPDATE alarms SET resolved_ns = ?, resolved_by = 'records arrived' WHERE id "
                      "= ?",
                      {received, a.integer(0)});
    }
    if (r.rotatedKey) {
        const DeviceKey &k = *r.rotatedKey;
        db->query("INSERT INTO device_keys (key_id, device_id, public_key, not_before_ns, "
                  "not_after_ns, revoked_ns, source) VALUES (?, ?, ?, ?, ?, ?, ?) "
                  "ON CONFLICT (key_id) DO NOTHING",
                  {k.keyId, k.deviceId, Blob{k.publicKey}, k.notBeforeNs, k.notAfterNs, k.revokedNs,
                   k.source});
    }
    out.receipt = makeReceipt(out.caseId, received);
    db->query("INSERT INTO receipts (record_row, receipt) VALUES (?, ?)",
              {rowId, Blob{out.receipt}});
    txn.commit();
    out.kind = IngestOutcome::Kind::Stored;
    out.findings = verdict.findings;
    return out;
}

void Store::bulkLoad(const std::vector<NewRecord> &records)
{
    Conn db = borrow();
    Transaction txn(*db, true);
    int64_t received = now();
    for (const NewRecord &r : records) {
        int64_t rowId = insertRecordRows(*db, r, received);
        if (r.makeCase)
            db->query("INSERT INTO cases (record_row, device_id, seq, site, location_code, "
                      "violation_type, event_utc_ns, created_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      {rowId, r.deviceId, static_cast<int64_t>(r.seq), r.site, r.locationCode,
                       r.violationType, r.eventUtcNs, received});
    }
    txn.commit();
}

std::optional<StoredRecord> Store::record(const std::string &deviceId, uint64_t seq)
{
    Conn db = borrow();
    auto rows =
            db->query(std::string("SELECT ") + kRecordColumns +
                              " FROM records WHERE device_id = ? AND seq = ? ORDER BY id LIMIT 1",
                      {deviceId, static_cast<int64_t>(seq)});
    if (rows.empty())
        return std::nullopt;
    return recordFromRow(rows[0]);
}

std::optional<StoredRecord> Store::recordByRow(int64_t rowId)
{
    Conn db = borrow();
    auto rows = db->query(std::string("SELECT ") + kRecordColumns + " FROM records WHERE id = ?",
                          {rowId});
    if (rows.empty())
        return std::nullopt;
    return recordFromRow(rows[0]);
}

std::vector<StoredRecord> Store::records(const std::string &deviceId, uint64_t fromSeq,
                                         size_t limit)
{
    Conn db = borrow();
    std::vector<StoredRecord> out;
    for (const Row &r :
         db->query(std::string("SELECT ") + kRecordColumns +
                           " FROM records WHERE device_id = ? AND seq >= ? "
                           "ORDER BY seq, id LIMIT ?",
                   {deviceId, static_cast<int64_t>(fromSeq), static_cast<int64_t>(limit)}))
        out.push_back(recordFromRow(r));
    return out;
}

int64_t Store::countRecords()
{
    Conn db = borrow();
    return db->query("SELECT COUNT(*) FROM records")[0].integer(0);
}

CheckpointOutcome Store::addCheckpoint(const std::string &deviceId, uint64_t seqHigh,
                                       const std::string &headHash, const std::string &bytes)
{
    Conn db = borrow();
    Transaction txn(*db, true);
    lockDevice(*db, deviceId);
    CheckpointOutcome out;
    int64_t received = now();
    auto high = db->query("SELECT MAX(seq) FROM records WHERE device_id = ?", {deviceId});
    int64_t highest = high[0].isNull(0) ? -1 : high[0].integer(0);
    auto atHigh = db->query("SELECT record_hash FROM records WHERE device_id = ? AND seq = ?",
                            {deviceId, static_cast<int64_t>(seqHigh)});
    std::vector<NewAlarm> alarms;
    if (static_cast<int64_t>(seqHigh) > highest) {
        NewAlarm a{"chain.truncated", "", highest + 1, static_cast<int64_t>(seqHigh)};
        a.detail = std::to_string(a.seqFrom) + ".." + std::to_string(a.seqTo) +
                   " named by a checkpoint but not received";
        out.findings.push_back("chain.truncated " + std::to_string(a.seqFrom) + ".." +
                               std::to_string(a.seqTo));
        /* One open alarm per missing range: a device sending checkpoints while it
         * catches up must not bury the UI. */
        auto covering = db->query("SELECT id FROM alarms WHERE device_id = ? AND kind = "
                                  "'chain.truncated' AND resolved_ns IS NULL AND seq_to >= ?",
                                  {deviceId, a.seqTo});
        if (covering.empty())
            alarms.push_back(a);
    } else if (!atHigh.empty()) {
        bool match = false;
        for (const Row &r : atHigh)
            match = match || r.text(0) == headHash;
        if (!match) {
            std::string detail = "head hash differs from seq " + std::to_string(seqHigh);
            out.findings.push_back("checkpoint.mismatch " + detail);
            alarms.push_back({"checkpoint.mismatch", detail, static_cast<int64_t>(seqHigh),
                              static_cast<int64_t>(seqHigh)});
        }
    }
    std::string findings;
    for (const std::string &f : out.findings)
        findings += (findings.empty() ? "" : "; ") + f;
    db->query("INSERT INTO checkpoints (device_id, seq_high, head_hash, bytes, findings, "
              "received_ns) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, seq_high, "
              "head_hash) DO NOTHING",
              {deviceId, static_cast<int64_t>(seqHigh), Blob{headHash}, Blob{bytes}, findings,
               received});
    out.duplicate = db->changes() == 0;
    for (const NewAlarm &a : alarms)
        db->query("INSERT INTO alarms (device_id, kind, detail, seq_from, seq_to, raised_ns) "
                  "VALUES (?, ?, ?, ?, ?, ?)",
                  {deviceId, a.kind, a.detail, a.seqFrom, a.seqTo, received});
    txn.commit();
    return out;
}

std::optional<MediaBlob> Store::media(const std::string &sha)
{
    Conn db = borrow();
    auto rows = db->query("SELECT sha256, content_type, bytes FROM media WHERE sha256 = ?",
                          {Blob{sha}});
    if (rows.empty())
        return std::nullopt;
    return MediaBlob{rows[0].text(0), rows[0].text(1), rows[0].text(2)};
}

void Store::putMedia(const MediaBlob &m)
{
    Conn db = borrow();
    db->query("INSERT INTO media (sha256, content_type, bytes) VALUES (?, ?, ?) "
              "ON CONFLICT (sha256) DO NOTHING",
              {Blob{m.sha256}, m.contentType, Blob{m.bytes}});
}

std::optional<CaseInfo> Store::claimNext(const std::string &owner, int64_t leaseNs)
{
    Conn db = borrow();
    Transaction txn(*db, true);
    lockLeasesOf(*db, owner);
    int64_t t = now();
    /* One live lease per reviewer: asking again returns the case already held, so a
     * double key press cannot hoard cases. */
    auto held = db->query(std::string("SELECT ") + kCaseColumns +
                                  " FROM cases WHERE lease_owner = ? AND status = 'queued' AND "
                                  "lease_expires_ns > ? ORDER BY id LIMIT 1",
                          {owner, t});
    if (!held.empty()) {
        txn.commit();
        return caseFromRow(held[0]);
    }
    /* PostgreSQL: rows locked by a concurrent claimer are skipped, not waited for.
     * SQLite: BEGIN IMMEDIATE made this transaction the only writer. */
    std::string pick = "SELECT id FROM cases WHERE status = 'queued' AND (lease_owner IS NULL OR "
                       "lease_expires_ns <= ?) ORDER BY id LIMIT 1";
    if (dialect_ == Dialect::Postgres)
        pick += " FOR UPDATE SKIP LOCKED";
    auto rows = db->query("UPDATE cases SET lease_owner = ?, lease_expires_ns = ?, version = "
                          "version + 1 WHERE id = (" +
                                  pick + ") RETURNING " + kCaseColumns,
                          {owner, t + leaseNs, t});
    txn.commit();
    if (rows.empty())
        return std::nullopt;
    return caseFromRow(rows[0]);
}

std::optional<CaseInfo> Store::claimCase(int64_t caseId, const std::string &owner, int64_t leaseNs,
                                         std::string *why, std::vector<int64_t> *released)
{
    Conn db = borrow();
    Transaction txn(*db, true);
    lockLeasesOf(*db, owner);
    int64_t t = now();
    auto rows = db->query("UPDATE cases SET lease_owner = ?, lease_expires_ns = ?, version = "
                          "version + 1 WHERE id = ? AND status = 'queued' AND (lease_owner IS NULL "
                          "OR lease_owner = ? OR lease_expires_ns <= ?) RETURNING " +
                                  std::string(kCaseColumns),
                          {owner, t + leaseNs, caseId, owner, t});
    if (rows.empty()) {
        auto c = db->query("SELECT status, lease_owner FROM cases WHERE id = ?", {caseId});
        if (why)
            *why = c.empty()                  ? "no such case"
                   : c[0].text(0) != "queued" ? "the case was already decided"
                                              : "the case is leased to " + c[0].text(1);
        return std::nullopt;
    }
    /* One live lease per reviewer here too: claiming by id gives up the case held
     * before (its version moves, so a decision sent for it is refused, not lost
     * silently), else a reviewer could hoard cases by opening them one by one. */
    for (const Row &r :
         db->query("UPDATE cases SET lease_owner = NULL, lease_expires_ns = NULL, version = "
                   "version + 1 WHERE lease_owner = ? AND status = 'queued' AND id <> ? "
                   "RETURNING id",
                   {owner, caseId}))
        if (released)
            released->push_back(r.integer(0));
    txn.commit();
    return caseFromRow(rows[0]);
}

/* Serializes one reviewer's claims. PostgreSQL: two concurrent claims by the same
 * reviewer would each miss the other's uncommitted lease and both keep theirs.
 * SQLite: BEGIN IMMEDIATE already made this transaction the only writer. */
void Store::lockLeasesOf(SqlDb &db, const std::string &owner)
{
    if (dialect_ == Dialect::Postgres)
        db.query("SELECT pg_advisory_xact_lock(53013, hashtext(?))", {owner});
}

bool Store::release(int64_t caseId, const std::string &owner)
{
    Conn db = borrow();
    db->query("UPDATE cases SET lease_owner = NULL, lease_expires_ns = NULL, version = version + 1 "
              "WHERE id = ? AND lease_owner = ? AND status = 'queued'",
              {caseId, owner});
    return db->changes() == 1;
}

DecideStatus Store::decide(const Decision &d, const AuditInput &audit)
{
    Conn db = borrow();
    Transaction txn(*db, true);
    int64_t t = now();
    db->query(
            "UPDATE cases SET status = ?, decision = ?, reason_code = ?, note = ?, checklist = ?, "
            "decided_by = ?, decided_ns = ?, time_on_case_ms = ?, clip_viewed = ?, approval = ?, "
            "approval_sig = ?, lease_owner = NULL, lease_expires_ns = NULL, version = version + 1 "
            "WHERE id = ? AND status = 'queued' AND lease_owner = ? AND version = ? AND "
            "lease_expires_ns > ?",
            {d.decision, d.decision, d.reasonCode, d.note, d.checklist, d.owner, d.decidedNs,
             d.timeOnCaseMs, int64_t{d.clipViewed},
             d.approval.empty() ? Value{nullptr} : Value{Blob{d.approval}},
             d.approvalSignature.empty() ? Value{nullptr} : Value{Blob{d.approvalSignature}},
             d.caseId, d.owner, d.version, t});
    if (db->changes() != 1) {
        /* Say exactly why: a reviewer whose lease lapsed must know nothing was saved. */
        auto rows = db->query("SELECT status, lease_owner, version, lease_expires_ns FROM cases "
                              "WHERE id = ?",
                              {d.caseId});
        if (rows.empty())
            return DecideStatus::NotFound;
        const Row &r = rows[0];
        if (r.text(0) != "queued")
            return DecideStatus::AlreadyDecided;
        if (r.text(1) != d.owner)
            return r.isNull(1) ? DecideStatus::LeaseExpired : DecideStatus::NotOwner;
        if (!r.isNull(3) && r.integer(3) <= t)
            return DecideStatus::LeaseExpired;
        return DecideStatus::VersionMismatch;
    }
    appendAuditLocked(*db, audit);
    txn.commit();
    return DecideStatus::Ok;
}

std::optional<CaseInfo> Store::caseInfo(int64_t caseId)
{
    Conn db = borrow();
    auto rows =
            db->query(std::string("SELECT ") + kCaseColumns + " FROM cases WHERE id = ?", {caseId});
    if (rows.empty())
        return std::nullopt;
    return caseFromRow(rows[0]);
}

std::vector<CaseInfo> Store::cases(const std::string &status, size_t limit, int64_t beforeId)
{
    Conn db = borrow();
    std::vector<CaseInfo> out;
    std::string q =
            std::string("SELECT ") + kCaseColumns + " FROM cases WHERE (? = '' OR status = ?)";
    std::vector<Value> p{status, status};
    if (beforeId > 0) {
        q += " AND id < ?";
        p.emplace_back(beforeId);
    }
    q += " ORDER BY id DESC LIMIT ?";
    p.emplace_back(static_cast<int64_t>(limit));
    for (const Row &r : db->query(q, p))
        out.push_back(caseFromRow(r));
    return out;
}

QueueStats Store::queueStats()
{
    Conn db = borrow();
    QueueStats s;
    int64_t t = now();
    for (const Row &r :
         db->query("SELECT violation_type, site, COUNT(*), MIN(created_ns) FROM cases "
                   "WHERE status = 'queued' GROUP BY violation_type, site ORDER BY "
                   "violation_type, site")) {
        QueueCount c{r.text(0), r.text(1), r.integer(2), r.integer(3)};
        s.queued += c.queued;
        if (s.oldestCreatedNs == 0 || c.oldestCreatedNs < s.oldestCreatedNs)
            s.oldestCreatedNs = c.oldestCreatedNs;
        s.byTypeAndSite.push_back(std::move(c));
    }
    s.leased =
            db->query("SELECT COUNT(*) FROM cases WHERE status = 'queued' AND lease_expires_ns > ?",
                      {t})[0]
                    .integer(0);
    for (const Row &r : db->query("SELECT status, COUNT(*) FROM cases WHERE status <> 'queued' "
                                  "GROUP BY status")) {
        if (r.text(0) == "approved")
            s.approved = r.integer(1);
        else if (r.text(0) == "rejected")
            s.rejected = r.integer(1);
    }
    return s;
}

int64_t Store::addUser(const std::string &username, const std::string &displayName,
                       const std::string &role, const std::string &passwordHash)
{
    Conn db = borrow();
    if (!db->query("SELECT id FROM users WHERE username = ?", {username}).empty())
        throw DbError("user '" + username + "' already exists");
    return db
            ->query("INSERT INTO users (username, display_name, role, password_hash, created_ns) "
                    "VALUES (?, ?, ?, ?, ?) RETURNING id",
                    {username, displayName, role, passwordHash, now()})
            .at(0)
            .integer(0);
}

std::optional<UserInfo> Store::user(const std::string &username)
{
    Conn db = borrow();
    auto rows = db->query(std::string("SELECT ") + kUserColumns + " FROM users WHERE username = ?",
                          {username});
    if (rows.empty())
        return std::nullopt;
    return userFromRow(rows[0]);
}

std::optional<UserInfo> Store::userById(int64_t id)
{
    Conn db = borrow();
    auto rows = db->query(std::string("SELECT ") + kUserColumns + " FROM users WHERE id = ?", {id});
    if (rows.empty())
        return std::nullopt;
    return userFromRow(rows[0]);
}

std::vector<UserInfo> Store::users()
{
    Conn db = borrow();
    std::vector<UserInfo> out;
    for (const Row &r :
         db->query(std::string("SELECT ") + kUserColumns + " FROM users ORDER BY username"))
        out.push_back(userFromRow(r));
    return out;
}

void Store::setAuthorized(const std::string &username, bool authorized)
{
    Conn db = borrow();
    db->query("UPDATE users SET authorized = ? WHERE username = ?",
              {int64_t{authorized}, username});
    if (db->changes() != 1)
        throw DbError("no user '" + username + "'");
}

void Store::setPasswordHash(const std::string &username, const std::string &passwordHash)
{
    Conn db = borrow();
    db->query("UPDATE users SET password_hash = ? WHERE username = ?", {passwordHash, username});
    if (db->changes() != 1)
        throw DbError("no user '" + username + "'");
}

void Store::setSignature(const std::string &username, const MediaBlob &image)
{
    Conn db = borrow();
    Transaction txn(*db, true);
    db->query("INSERT INTO media (sha256, content_type, bytes) VALUES (?, ?, ?) "
              "ON CONFLICT (sha256) DO NOTHING",
              {Blob{image.sha256}, image.contentType, Blob{image.bytes}});
    db->query("UPDATE users SET signature_sha256 = ? WHERE username = ?",
              {Blob{image.sha256}, username});
    if (db->changes() != 1)
        throw DbError("no user '" + username + "'");
    txn.commit();
}

void Store::createSession(const SessionInfo &s)
{
    Conn db = borrow();
    db->query("DELETE FROM sessions WHERE expires_ns < ?", {now()});
    db->query("INSERT INTO sessions (token_sha256, user_id, csrf, created_ns, expires_ns, ip) "
              "VALUES (?, ?, ?, ?, ?, ?)",
              {s.tokenHash, s.userId, s.csrf, s.createdNs, s.expiresNs, s.ip});
}

std::optional<SessionInfo> Store::session(const std::string &tokenHash)
{
    Conn db = borrow();
    auto rows = db->query("SELECT token_sha256, user_id, csrf, created_ns, expires_ns, ip FROM "
                          "sessions WHERE token_sha256 = ?",
                          {tokenHash});
    if (rows.empty())
        return std::nullopt;
    const Row &r = rows[0];
    return SessionInfo{r.text(0), r.integer(1), r.text(2), r.integer(3), r.integer(4), r.text(5)};
}

void Store::deleteSession(const std::string &tokenHash)
{
    Conn db = borrow();
    db->query("DELETE FROM sessions WHERE token_sha256 = ?", {tokenHash});
}

AuditEntry Store::appendAuditLocked(SqlDb &db, const AuditInput &in)
{
    if (dialect_ == Dialect::Postgres)
        db.query("SELECT pg_advisory_xact_lock(53012)"); /* one appender at a time */
    auto last = db.query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
    AuditEntry a;
    a.seq = last.empty() ? 1 : last[0].integer(0) + 1;
    a.prevHash = last.empty() ? kGenesisAuditHash : last[0].text(1);
    a.atNs = now();
    a.actor = in.actor;
    a.action = in.action;
    a.target = in.target;
    a.detail = in.detail;
    a.ip = in.ip;
    a.hash = auditHash(a);
    db.query("INSERT INTO audit (seq, at_ns, actor, action, target, detail, ip, prev_hash, hash) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
             {a.seq, a.atNs, a.actor, a.action, a.target, a.detail, a.ip, a.prevHash, a.hash});
    return a;
}

AuditEntry Store::appendAudit(const AuditInput &entry)
{
    Conn db = borrow();
    Transaction txn(*db, true);
    AuditEntry a = appendAuditLocked(*db, entry);
    txn.commit();
    return a;
}

std::vector<AuditEntry> Store::audit(size_t limit, int64_t beforeSeq, const std::string &target)
{
    Conn db = borrow();
    std::string q = "SELECT seq, at_ns, actor, action, target, detail, ip, prev_hash, hash FROM "
                    "audit WHERE (? = '' OR target = ?)";
    std::vector<Value> p{target, target};
    if (beforeSeq > 0) {
        q += " AND seq < ?";
        p.emplace_back(beforeSeq);
    }
    q += " ORDER BY seq DESC LIMIT ?";
    p.emplace_back(static_cast<int64_t>(limit));
    std::vector<AuditEntry> out;
    for (const Row &r : db->query(q, p))
        out.push_back(auditFromRow(r));
    return out;
}

LoginVerdict Store::settleLogin(const std::string &username, const std::string &ip,
                               bool passwordOk, const LoginLimits &limits)
{
    Conn db = borrow();
    Transaction txn(*db, true);
    if (dialect_ == Dialect::Postgres)
        db->query("SELECT pg_advisory_xact_lock(53012)"); /* the audit appender's lock */
    LoginVerdict verdict = loginThrottledLocked(*db, username, ip, limits)
                                   ? LoginVerdict::Throttled
                                   : passwordOk ? LoginVerdict::Allowed : LoginVerdict::Failed;
    if (verdict == LoginVerdict::Failed)
        appendAuditLocked(*db, {username, "login-failed", "user:" + username, "", ip});
    else if (verdict == LoginVerdict::Throttled)
        auditThrottleLocked(*db, username, ip, limits);
    txn.commit();
    return verdict;
}

bool Store::loginThrottled(const std::string &username, const std::string &ip,
                           const LoginLimits &limits)
{
    Conn db = borrow();
    if (!loginThrottledLocked(*db, username, ip, limits))
        return false;
    Transaction txn(*db, true);
    if (dialect_ == Dialect::Postgres)
        db->query("SELECT pg_advisory_xact_lock(53012)"); /* the audit appender's lock */
    auditThrottleLocked(*db, username, ip, limits);
    txn.commit();
    return true;
}

/* Once per window and address, not once per further attempt: a stranger's guesses must
 * not grow the log. */
void Store::auditThrottleLocked(SqlDb &db, const std::string &username, const std::string &ip,
                                const LoginLimits &limits)
{
    const std::string target = "user:" + username;
    if (db.query("SELECT COUNT(*) FROM audit WHERE target = ? AND action = 'login-throttled' "
                 "AND ip = ? AND at_ns >= ?",
                 {target, ip, now() - limits.windowNs})[0]
                .integer(0) == 0)
        appendAuditLocked(db, {username, "login-throttled", target, "", ip});
}

bool Store::loginThrottledLocked(SqlDb &db, const std::string &username, const std::string &ip,
                                 const LoginLimits &limits)
{
    const int64_t since = now() - limits.windowNs;
    int64_t forAccount = db.query("SELECT COUNT(*) FROM audit WHERE target = ? AND action = "
                                  "'login-failed' AND ip = ? AND at_ns >= ?",
                                  {"user:" + username, ip, since})[0]
                                 .integer(0);
    if (forAccount >= limits.perAccountAndAddress)
        return true;
    int64_t forAddress = db.query("SELECT COUNT(*) FROM audit WHERE ip = ? AND action = "
                                  "'login-failed' AND at_ns >= ?",
                                  {ip, since})[0]
                                 .integer(0);
    return forAddress >= limits.perAddress;
}

AuditVerification Store::verifyAudit()
{
    Conn db = borrow();
    AuditVerification v;
    std::string prev = kGenesisAuditHash;
    int64_t expectSeq = 1;
    for (const Row &r :
         db->query("SELECT seq, at_ns, actor, action, target, detail, ip, prev_hash, "
                   "hash FROM audit ORDER BY seq")) {
        AuditEntry a = auditFromRow(r);
        ++v.entries;
        std::string problem;
        if (a.seq != expectSeq)
            problem = "entry " + std::to_string(expectSeq) + " is missing";
        else if (a.prevHash != prev)
            problem = "entry " + std::to_string(a.seq) + " does not link to the one before";
        else if (auditHash(a) != a.hash)
            problem = "entry " + std::to_string(a.seq) + " was altered (hash mismatch)";
        if (!problem.empty() && v.ok) {
            v.ok = false;
            v.firstBadSeq = a.seq;
            v.problem = problem;
        }
        prev = a.hash;
        expectSeq = a.seq + 1;
    }
    return v;
}

std::vector<Alarm> Store::alarms(bool openOnly)
{
    Conn db = borrow();
    std::vector<Alarm> out;
    for (const Row &r : db->query(
                 std::string("SELECT id, device_id, kind, detail, seq_from, seq_to, "
                             "raised_ns, resolved_ns, resolved_by FROM alarms") +
                 (openOnly ? " WHERE resolved_ns IS NULL" : "") + " ORDER BY id DESC LIMIT 500")) {
        Alarm a;
        a.id = r.integer(0);
        a.deviceId = r.text(1);
        a.kind = r.text(2);
        a.detail = r.text(3);
        a.seqFrom = r.integer(4);
        a.seqTo = r.integer(5);
        a.raisedNs = r.integer(6);
        a.resolvedNs = r.isNull(7) ? 0 : r.integer(7);
        a.resolvedBy = r.text(8);
        out.push_back(std::move(a));
    }
    return out;
}

bool Store::resolveAlarm(int64_t id, const std::string &by)
{
    Conn db = borrow();
    db->query("UPDATE alarms SET resolved_ns = ?, resolved_by = ? WHERE id = ? AND resolved_ns IS "
              "NULL",
              {now(), by, id});
    return db->changes() == 1;
}

void Store::addHeartbeat(const std::string &deviceId, const std::string &body)
{
    Conn db = borrow();
    db->query("INSERT INTO heartbeats (device_id, received_ns, body) VALUES (?, ?, ?)",
              {deviceId, now(), body});
}

std::vector<Heartbeat> Store::latestHeartbeats()
{
    Conn db = borrow();
    std::vector<Heartbeat> out;
    for (const Row &r :
         db->query("SELECT h.device_id, h.received_ns, h.body FROM heartbeats h "
                   "WHERE h.id = (SELECT MAX(id) FROM heartbeats x WHERE x.device_id "
                   "= h.device_id) ORDER BY h.device_id"))
        out.push_back({r.text(0), r.integer(1), r.text(2)});
    return out;
}

std::vector<Heartbeat> Store::heartbeats(const std::string &deviceId, size_t limit)
{
    Conn db = borrow();
    std::vector<Heartbeat> out;
    for (const Row &r : db->query("SELECT device_id, received_ns, body FROM heartbeats WHERE "
                                  "device_id = ? ORDER BY id DESC LIMIT ?",
                                  {deviceId, static_cast<int64_t>(limit)}))
        out.push_back({r.text(0), r.integer(1), r.text(2)});
    return out;
}

void Store::transact(bool write, const std::function<void(SqlDb &)> &fn)
{
    Conn db = borrow();
    Transaction txn(*db, write);
    fn(*db);
    txn.commit();
}

AuditEntry Store::appendAuditIn(SqlDb &db, const AuditInput &entry)
{
    return appendAuditLocked(db, entry);
}

std::vector<Row> Store::rawQuery(const std::string &text, const std::vector<Value> &params)
{
    Conn db = borrow();
    return db->query(text, params);
}

} /* namespace stopline::backoffice */

#include "backoffice/workflows/casework.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>

#include "backoffice/review.h"
#include "backoffice/workflows/casework_internal.h"
#include "evidence/crypto.h"

namespace stopline::backoffice {

using nlohmann::json;
using namespace work;

namespace work {

namespace {

const char *const kFileColumns =
        "case_id, plate, state, plate_source, ownership, vehicle, facts, stage, outcome, "
        "contact_name, contact_address, contact_phone, routed_ns, updated_ns";

FileRow fileFromRow(const Row &r)
{
    FileRow f;
    f.exists = true;
    f.caseId = r.integer(0);
    f.plate = r.text(1);
    f.state = r.text(2);
    f.plateSource = r.text(3);
    f.ownership = r.text(4);
    f.vehicle = r.text(5);
    f.facts = r.text(6);
    f.stage = r.text(7);
    f.outcome = r.text(8);
    f.contactName = r.text(9);
    f.contactAddress = r.text(10);
    f.contactPhone = r.text(11);
    f.routedNs = r.isNull(12) ? 0 : r.integer(12);
    f.updatedNs = r.integer(13);
    return f;
}

std::string trim(const std::string &s)
{
    size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos)
        return {};
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

/* The facts kept with a case file as an object; {} when none were stored. */
json factsOf(const FileRow &f)
{
    json facts = json::parse(f.facts, nullptr, false);
    return facts.is_object() ? facts : json::object();
}

} /* namespace */

const char *const kCitationColumns =
        "c.id, c.case_id, c.number, c.kind, c.recipient_role, c.recipient_name, "
        "c.recipient_address, c.employee, c.amount_cents, c.access_code, c.status, c.created_ns, "
        "c.created_by, c.mailed_ns, c.received_ns, c.due_ns, c.supersedes, c.rule, c.pdf_sha256, "
        "(SELECT COALESCE(SUM(p.amount_cents), 0) FROM payments p WHERE p.citation_id = c.id)";

std::optional<FileRow> loadFile(SqlDb &db, int64_t caseId)
{
    auto rows = db.query(
            std::string("SELECT ") + kFileColumns + " FROM case_files WHERE case_id = ?", {caseId});
    if (rows.empty())
        return std::nullopt;
    return fileFromRow(rows[0]);
}

void saveFile(SqlDb &db, const FileRow &f)
{
    db.query("INSERT INTO case_files (case_id, plate, state, plate_source, ownership, vehicle, "
             "facts, stage, outcome, contact_name, contact_address, contact_phone, routed_ns, "
             "updated_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (case_id) "
             "DO UPDATE SET plate = excluded.plate, state = excluded.state, plate_source = "
             "excluded.plate_source, ownership = excluded.ownership, vehicle = excluded.vehicle, "
             "facts = excluded.facts, stage = excluded.stage, outcome = excluded.outcome, "
             "contact_name = excluded.contact_name, contact_address = excluded.contact_address, "
             "contact_phone = excluded.contact_phone, routed_ns = excluded.routed_ns, "
             "updated_ns = excluded.updated_ns",
             {f.caseId, f.plate, f.state, f.plateSource, f.ownership, f.vehicle, f.facts, f.stage,
              f.outcome, f.contactName, f.contactAddress, f.contactPhone,
              f.routedNs ? Value{f.routedNs} : Value{nullptr}, f.updatedNs});
}

CitationRow citationFromRow(const Row &r)
{
    CitationRow c;
    c.id = r.integer(0);
    c.caseId = r.integer(1);
    c.number = r.text(2);
    c.kind = r.text(3);
    c.recipientRole = r.text(4);
    c.recipientName = r.text(5);
    c.recipientAddress = r.text(6);
    c.employee = r.text(7);
    c.amountCents = r.integer(8);
    c.accessCode = r.text(9);
    c.status = r.text(10);
    c.createdNs = r.integer(11);
    c.createdBy = r.text(12);
    c.mailedNs = r.isNull(13) ? 0 : r.integer(13);
    c.receivedNs = r.isNull(14) ? 0 : r.integer(14);
    c.dueNs = r.isNull(15) ? 0 : r.integer(15);
    c.supersedes = r.isNull(16) ? 0 : r.integer(16);
    c.rule = r.text(17);
    c.pdfSha256 = r.text(18);
    c.paidCents = r.integer(19);
    return c;
}

std::vector<CitationRow> citationsOf(SqlDb &db, int64_t caseId)
{
    std::vector<CitationRow> out;
    for (const Row &r : db.query(std::string("SELECT ") + kCitationColumns +
                                         " FROM citations c WHERE c.case_id = ? ORDER BY c.id",
                                 {caseId}))
        out.push_back(citationFromRow(r));
    return out;
}

std::optional<CitationRow> citationById(SqlDb &db, int64_t id)
{
    auto rows = db.query(
            std::string("SELECT ") + kCitationColumns + " FROM citations c WHERE c.id = ?", {id});
    if (rows.empty())
        return std::nullopt;
    return citationFromRow(rows[0]);
}

bool payable(const std::string &kind)
{
    return kind == "citation" || kind == "reimbursement";
}

json citationJson(const CitationRow &c)
{
    return json{{"id", c.id},
                {"case_id", c.caseId},
                {"number", c.number},
                {"kind", c.kind},
                {"recipient_role", c.recipientRole},
                {"recipient_name", c.recipientName},
                {"recipient_address", c.recipientAddress},
                {"employee", c.employee},
                {"amount", money(c.amountCents)},
                {"amount_cents", c.amountCents},
                {"paid", money(c.paidCents)},
                {"balance", money(std::max<int64_t>(0, c.amountCents - c.paidCents))},
                {"balance_cents", std::max<int64_t>(0, c.amountCents - c.paidCents)},
                {"status", c.status},
                {"created_utc", isoUtc(c.createdNs)},
                {"mailed_date", c.mailedNs ? rules::localDate(c.mailedNs) : ""},
                {"due_date", c.dueNs ? rules::localDate(c.dueNs) : ""},
                {"due_ns", c.dueNs},
                {"rule", c.rule},
                {"has_pdf", !c.pdfSha256.empty()},
                {"payable", payable(c.kind)}};
}

std::string money(int64_t cents)
{
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%s$%lld.%02lld", cents < 0 ? "-" : "",
                  static_cast<long long>(std::llabs(cents) / 100),
                  static_cast<long long>(std::llabs(cents) % 100));
    return buf;
}

bool parseMoney(const json &v, int64_t *cents)
{
    if (v.is_number_integer()) {
        *cents = v.get<int64_t>() * 100;
        return true;
    }
    if (v.is_number_float()) {
        double d = v.get<double>();
        *cents = static_cast<int64_t>(d * 100 + (d >= 0 ? 0.5 : -0.5));
        return std::abs(d * 100 - static_cast<double>(*cents)) < 0.01;
    }
    if (!v.is_string())
        return false;
    std::string s = trim(v.get<std::string>());
    if (!s.empty() && s[0] == '$')
        s = s.substr(1);
    size_t dot = s.find('.');
    std::string whole = s.substr(0, dot), frac = dot == std::string::npos ? "" : s.substr(dot + 1);
    auto digits = [](const std::string &t) {
        return std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (whole.empty() || whole.size() > 9 || !digits(whole) || frac.size() > 2 || !digits(frac) ||
        (dot != std::string::npos && frac.empty()))
        return false;
    *cents = std::stoll(whole) * 100 +
             (frac.empty() ? 0 : std::stoll(frac + std::string(2 - frac.size(), '0')));
    return true;
}

int64_t parseDay(const json &body, const char *fieldName, int64_t now)
{
    if (!body.contains(fieldName) || body[fieldName].is_null() ||
        (body[fieldName].is_string() && body[fieldName].get<std::string>().empty()))
        return now;
    const json &v = body[fieldName];
    int y = 0, m = 0, d = 0;
    char tail = 0;
    if (!v.is_string() ||
        std::sscanf(v.get<std::string>().c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 ||
        m < 1 || m > 12 || d < 1 || d > 31 || y < 2000)
        throw WorkError(422, std::string("'") + fieldName + "' must be a date YYYY-MM-DD");
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_hour = 12;
    tm.tm_isdst = -1;
    int64_t ns = static_cast<int64_t>(std::mktime(&tm)) * kSecond;
    if (tm.tm_mday != d)
        throw WorkError(422,
                        std::string("'") + fieldName + "': there is no " + v.get<std::string>());
    if (rules::localDate(ns) == rules::localDate(now))
        return now;
    if (ns > now)
        throw WorkError(422, std::string("'") + fieldName + "' " + v.get<std::string>() +
                                     " is in the future");
    return ns;
}

std::string field(const json &body, const char *key, size_t max, bool required)
{
    std::string s;
    if (body.contains(key) && !body[key].is_null()) {
        if (!body[key].is_string())
            throw WorkError(422, std::string("'") + key + "' must be text");
        s = trim(body[key].get<std::string>());
    }
    if (required && s.empty())
        throw WorkError(422, std::string("'") + key + "' is required");
    if (s.size() > max)
        throw WorkError(422, std::string("'") + key + "' is longer than " + std::to_string(max) +
                                     " characters");
    return s;
}

json object(const json &body)
{
    if (!body.is_object())
        throw WorkError(400, "send a JSON object");
    return body;
}

std::string localDateTime(int64_t ns)
{
    std::time_t t = static_cast<std::time_t>(ns / kSecond);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[48];
    std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %Z", &tm);
    return buf;
}

bool loadRecord(Store *store, const CaseInfo &c, StoredRecord *stored, evidence::Record *record)
{
    auto rec = store->recordByRow(c.recordRow);
    if (!rec)
        return false;
    *stored = *rec;
    evidence::SealedRecord env;
    return env.ParseFromString(rec->bytes) && record->ParseFromString(env.record());
}

json vehicleJson(const VehicleEntry &e)
{
    return json{{"plate", e.plate},
                {"state", e.state},
                {"owner_name", e.ownerName},
                {"owner_address", e.ownerAddress},
                {"owner_phone", e.ownerPhone},
                {"make", e.make},
                {"model", e.model},
                {"year", e.year},
                {"colour", e.colour},
                {"ownership", ownershipKey(e.ownership)},
                {"ownership_label", ownershipLabel(e.ownership)},
                {"agency", e.agency},
                {"agency_contact", e.agencyContact},
                {"department", e.department},
                {"source", e.source}};
}

std::optional<VehicleEntry> vehicleFromJson(const std::string &text)
{
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return std::nullopt;
    VehicleEntry e;
    e.plate = j.value("plate", "");
    e.state = j.value("state", "");
    e.ownerName = j.value("owner_name", "");
    e.ownerAddress = j.value("owner_address", "");
    e.ownerPhone = j.value("owner_phone", "");
    e.make = j.value("make", "");
    e.model = j.value("model", "");
    e.year = j.value("year", 0);
    e.colour = j.value("colour", "");
    parseOwnership(j.value("ownership", "private"), &e.ownership);
    e.agency = j.value("agency", "");
    e.agencyContact = j.value("agency_contact", "");
    e.department = j.value("department", "");
    e.source = j.value("source", "");
    return e;
}

void audit(Store *store, SqlDb &db, const Actor &who, const std::string &action, int64_t caseId,
           const std::string &detail)
{
    store->appendAuditIn(db, {who.name, action, "case:" + std::to_string(caseId), detail, who.ip});
}

} /* namespace work */

namespace {

/* Access codes for the recipient's portal: no look-alike characters. */
std::string accessCode()
{
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    std::string bytes = evidence::randomBytes(8), out;
    for (unsigned char b : bytes)
        out += alphabet[b % 32];
    return out;
}

const std::set<std::string> kMailRules = {"private",
                                          "commercial",
                                          "government",
                                          "rental",
                                          "private.driver_named",
                                          "rental.renter_named",
                                          "rental.window_lapsed"};

/* What closes each kind of task, for a technician who presses "done" instead. */
std::string properAction(const std::string &rule)
{
    if (kMailRules.count(rule))
        return "mark the document mailed (Mailing)";
    if (rule == "rental.notice_mailed")
        return "record the rental business's answer, or issue to the business after the window";
    if (rule == "city_owned")
        return "record the department the Fleet Manager identified";
    if (rule == "police.no_lights" || rule == "unmarked.report_not_justified" ||
        rule == "off_duty.report")
        return "record the finding of the Office of Professional Standards";
    if (rule == "owner_unknown")
        return "set the plate and state, or import the registry, and route the case again";
    if (rule == "ops.reimbursement")
        return "record the employee's payment";
    const rules::RuleRow *row = rules::findRow(rule);
    if (row && row->needsReferral)
        return "record the referral (date, person contacted, disposition)";
    return "";
}

json taskJson(const Row &r, int64_t now)
{
    /* id, case_id, rule, role, title, detail, due_ns, status, created_ns, closed_ns,
     * closed_by, outcome, [plate, state, site, type] */
    rules::Role roles[] = {rules::Role::Technician, rules::Role::ReviewingOfficer,
                           rules::Role::TrafficLieutenant, rules::Role::ProfessionalStandards,
                           rules::Role::TrafficSectionCommander};
    std::string role = r.text(3), label;
    for (rules::Role x : roles)
        if (role == rules::roleKey(x))
            label = rules::roleLabel(x);
    json j{{"id", r.integer(0)},
           {"case_id", r.integer(1)},
           {"rule", r.text(2)},
           {"role", role},
           {"role_label", label},
           {"title", r.text(4)},
           {"detail", r.text(5)},
           {"due_date", rules::localDate(r.integer(6))},
           {"due_ns", r.integer(6)},
           {"status", r.text(7)},
           {"overdue", r.text(7) == "open" && r.integer(6) < now},
           {"created_utc", isoUtc(r.integer(8))},
           {"closed_utc", r.isNull(9) ? "" : isoUtc(r.integer(9))},
           {"closed_by", r.text(10)},
           {"outcome", r.text(11)},
           {"closes_by", properAction(r.text(2))}};
    if (r.values.size() > 12) {
        j["plate"] = r.text(12);
        j["state"] = r.text(13);
        j["site"] = r.text(14);
        j["type"] = r.text(15);
    }
    return j;
}

const char *kTaskColumns = "t.id, t.case_id, t.rule, t.role, t.title, t.detail, t.due_ns, "
                           "t.status, t.created_ns, t.closed_ns, t.closed_by, t.outcome";

std::string lower(std::string s)
{
    for (char &c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

} /* namespace */

CaseWork::CaseWork(Store *store, Registry *registry, WorkConfig config)
    : store_(store), registry_(registry), config_(std::move(config))
{}

std::string CaseWork::defaultPlate(const CaseInfo &c)
{
    StoredRecord stored;
    evidence::Record record;
    if (!loadRecord(store_, c, &stored, &record))
        return {};
    const evidence::Plate &p = record.violation().plate();
    return p.candidates_size() ? normalizePlate(p.candidates(0).read()) : std::string();
}

int64_t CaseWork::fineFor(const CaseInfo &c) const
{
    return c.violationType == "school_zone_speed" ? config_.schoolZoneFineCents
                                                  : config_.redLightFineCents;
}

/* ---------- vehicle ---------- */

json CaseWork::vehicle(const CaseInfo &c)
{
    std::optional<FileRow> f;
    store_->transact(false, [&](SqlDb &db) { f = loadFile(db, c.id); });
    std::string plate = f ? f->plate : defaultPlate(c);
    std::string state = f ? f->state : config_.plateState;
    std::string source = f ? f->plateSource : "device read, default state";
    auto entry = plate.empty() ? std::nullopt : registry_->lookup(plate, state);
    return json{{"plate", plate},
                {"state", state},
                {"source", source},
                {"registry", entry ? vehicleJson(*entry) : json(nullptr)},
                {"needs_lights", entry && isPolice(entry->ownership)},
                {"stage", f ? f->stage : "review"}};
}

json CaseWork::setVehicle(int64_t caseId, const json &body, const Actor &who)
{
    json b = object(body);
    std::string plate = normalizePlate(field(b, "plate", 20, true));
    std::string state = field(b, "state", 2, true);
    for (char &ch : state)
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (plate.empty() || plate.size() > 10)
        throw WorkError(422, "'plate' must be 1 to 10 letters and digits");
    if (!validState(state))
        throw WorkError(422, "'state' must be a two-letter code, e.g. WA");
    auto c = store_->caseInfo(caseId);
    if (!c)
        throw WorkError(404, "no case " + std::to_string(caseId));
    std::string fallback = defaultPlate(*c);
    store_->transact(true, [&](SqlDb &db) {
        FileRow f = loadFile(db, caseId).value_or(FileRow{});
        if (f.exists && f.stage != "review" && f.stage != "owner_unknown")
            throw WorkError(409, "case " + std::to_string(caseId) + " was already routed as " +
                                         f.plate + " " + f.state + " (stage " + f.stage + ")");
        std::string was = f.exists ? f.plate + " " + f.state : fallback + " " + config_.plateState;
        f.caseId = caseId;
        f.plate = plate;
        f.state = state;
        f.plateSource = "set by " + who.name;
        f.updatedNs = store_->now();
        saveFile(db, f);
        audit(store_, db, who, "set-vehicle", caseId, plate + " " + state + " (was " + was + ")");
    });
    return vehicle(*c);
}

std::string CaseWork::missingFacts(const CaseInfo &c, const json &facts)
{
    json v = vehicle(c);
    if (!v["needs_lights"].get<bool>())
        return {};
    if (facts.is_object() && facts.value("emergency_lights", json()).is_boolean())
        return {};
    return "the registry lists " + v["plate"].get<std::string>() + " " +
           v["state"].get<std::string>() +
           " as a police department vehicle: say whether its emergency lights were activated";
}

/* ---------- routing and rule steps ---------- */

namespace {

rules::CaseFacts factsFor(SqlDb &db, const FileRow &f, const CaseInfo &c)
{
    rules::CaseFacts cf;
    Ownership o;
    if (!f.ownership.empty() && parseOwnership(f.ownership, &o))
        cf.ownership = o;
    json facts = factsOf(f);
    if (facts.value("emergency_lights", json()).is_boolean())
        cf.emergencyLights = facts["emergency_lights"].get<bool>();
    if (facts.value("on_duty", json()).is_boolean())
        cf.onDuty = facts["on_duty"].get<bool>();
    cf.stage = f.stage;
    cf.violationNs = c.eventUtcNs ? c.eventUtcNs : c.createdNs;
    return cf;
}

/* A report for this case: bound to it, or filed before the case arrived (same plate
 * and state, within a day of the violation). Binds a matched report to the case. */
std::optional<rules::Report> findReport(SqlDb &db, const FileRow &f, const CaseInfo &c,
                                        const char *kind)
{
    int64_t at = c.eventUtcNs ? c.eventUtcNs : c.createdNs;
    auto rows = db.query("SELECT id, justified, case_id FROM employee_reports WHERE kind = ? AND "
                         "(case_id = ? OR (case_id IS NULL AND plate = ? AND state = ? AND "
                         "occurred_ns >= ? AND occurred_ns <= ?)) ORDER BY id DESC LIMIT 1",
                         {std::string(kind), c.id, f.plate, f.state, at - kDay, at + kDay});
    if (rows.empty())
        return std::nullopt;
    if (rows[0].isNull(2))
        db.query("UPDATE employee_reports SET case_id = ? WHERE id = ?",
                 {c.id, rows[0].integer(0)});
    rules::Report r;
    r.kind = std::string(kind) == "supervisor" ? rules::Report::Kind::Supervisor
                                               : rules::Report::Kind::OffDuty;
    r.justified = rows[0].integer(1) != 0;
    return r;
}

json outcomeJson(const rules::Outcome &o, const FileRow &f)
{
    return json{{"row", o.row->id},
                {"then", o.row->then},
                {"task",
                 {{"role", rules::roleKey(o.row->role)},
                  {"role_label", rules::roleLabel(o.row->role)},
                  {"title", o.row->task},
                  {"due_date", rules::localDate(o.dueNs)},
                  {"detail", o.detail}}},
                {"stage", f.stage},
                {"outcome", f.outcome}};
}

} /* namespace */

void CaseWork::afterDecision(int64_t caseId, const json &facts, const Actor &who)
{
    try {
        auto c = store_->caseInfo(caseId);
        if (!c)
            return;
        /* Quality: a decision faster than the minimum is flagged; others are sampled. */
        std::string reason;
        if (c->timeOnCaseMs < config_.minReviewMs)
            reason = "rubber_stamp";
        else {
            std::string r = evidence::randomBytes(4);
            uint32_t roll = (uint32_t(uint8_t(r[0])) << 24) | (uint32_t(uint8_t(r[1])) << 16) |
                            (uint32_t(uint8_t(r[2])) << 8) | uint8_t(r[3]);
            if (roll / 4294967296.0 * 100.0 < config_.secondReviewPercent)
                reason = "random_sample";
        }
        if (!reason.empty())
            store_->transact(true, [&](SqlDb &db) {
                db.query("INSERT INTO second_reviews (case_id, reason, decided_by, "
                         "time_on_case_ms, minimum_ms, queued_ns) VALUES (?, ?, ?, ?, ?, ?) ON "
                         "CONFLICT (case_id) DO NOTHING",
                         {caseId, reason, c->decidedBy, c->timeOnCaseMs, config_.minReviewMs,
                          store_->now()});
                audit(store_, db, {"system", who.ip}, "second-review-queued", caseId,
                      reason + " time_on_case_ms=" + std::to_string(c->timeOnCaseMs) +
                              " minimum_ms=" + std::to_string(config_.minReviewMs));
            });
        if (c->status == "approved")
            route(caseId, facts, who);
    } catch (const std::exception &e) {
        try {
            store_->appendAudit(
                    {who.name, "route-failed", "case:" + std::to_string(caseId), e.what(), who.ip});
        } catch (...) {
        }
    }
}

json CaseWork::route(int64_t caseId, const json &facts, const Actor &who)
{
    auto c = store_->caseInfo(caseId);
    if (!c)
        throw WorkError(404, "no case " + std::to_string(caseId));
    if (c->status != "approved")
        throw WorkError(409, "case " + std::to_string(caseId) + " is " + c->status +
                                     ": only approved cases are routed");
    if (!facts.is_null() && !facts.is_object())
        throw WorkError(422, "'facts' must be an object {emergency_lights, on_duty}");
    for (const char *k : {"emergency_lights", "on_duty"})
        if (facts.is_object() && facts.contains(k) && !facts[k].is_boolean() && !facts[k].is_null())
            throw WorkError(422, std::string("'facts.") + k + "' must be true or false");
    json v = vehicle(*c);
    std::string plate = v["plate"], state = v["state"];
    auto entry = plate.empty() ? std::nullopt : registry_->lookup(plate, state);
    json result;
    int64_t now = store_->now();
    store_->transact(true, [&](SqlDb &db) {
        FileRow f = loadFile(db, caseId).value_or(FileRow{});
        if (!f.exists) {
            f.caseId = caseId;
            f.plate = plate;
            f.state = state;
            f.plateSource = v["source"];
        }
        if (f.stage != "review" && f.stage != "owner_unknown")
            throw WorkError(409, "case " + std::to_string(caseId) + " was already routed (stage " +
                                         f.stage + ")");
        json merged = factsOf(f);
        if (facts.is_object())
            for (auto &[k, val] : facts.items())
                if (val.is_boolean())
                    merged[k] = val;
        f.facts = merged.dump();
        f.ownership = entry ? ownershipKey(entry->ownership) : "";
        f.vehicle = entry ? vehicleJson(*entry).dump() : "";
        if (entry) {
            f.contactName = entry->ownerName;
            f.contactAddress = entry->ownerAddress;
            f.contactPhone = entry->ownerPhone;
        }
        rules::CaseFacts cf = factsFor(db, f, *c);
        cf.report = findReport(db, f, *c, "supervisor");
        rules::StepInput in;
        in.step = rules::Step::Approved;
        in.atNs = now;
        rules::Outcome o = rules::decide(cf, in, config_.rules);
        if (!o.row)
            throw WorkError(422, o.refused);
        f.routedNs = now;
        applyRow(db, f, *c, o, {}, who, now);
        result = outcomeJson(o, f);
        /* An off-duty member's report filed before the case was routed holds it now. */
        if (findReport(db, f, *c, "off_duty")) {
            rules::CaseFacts again = factsFor(db, f, *c);
            rules::StepInput off;
            off.step = rules::Step::OffDutyReport;
            off.atNs = now;
            rules::Outcome o2 = rules::decide(again, off, config_.rules);
            if (o2.row) {
                applyRow(db, f, *c, o2, {}, who, now);
                result["then_also"] = outcomeJson(o2, f);
            }
        }
    });
    return result;
}

int64_t CaseWork::newCitation(SqlDb &db, const CaseInfo &c, const std::string &kind,
                              const std::string &recipientRole, const std::string &name,
                              const std::string &address, const std::string &status,
                              const std::string &rule, int64_t supersedes,
                              const std::string &employee, int64_t amountCents, const Actor &who)
{
    std::string placeholder = "new-" + evidence::toHex(evidence::randomBytes(8));
    int64_t id = db.query("INSERT INTO citations (case_id, number, kind, recipient_role, "
                          "recipient_name, recipient_address, employee, amount_cents, "
                          "access_code, status, created_ns, created_by, supersedes, rule) VALUES "
                          "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                          {c.id, placeholder, kind, recipientRole, name, address, employee,
                           amountCents, accessCode(), status, store_->now(), who.name,
                           supersedes ? Value{supersedes} : Value{nullptr}, rule})
                         .at(0)
                         .integer(0);
    char number[64];
    std::snprintf(number, sizeof(number), "%s-%s%06lld", config_.citationPrefix.c_str(),
                  kind == "rental_notice"   ? "N"
                  : kind == "reimbursement" ? "R"
                  : kind == "citation"      ? ""
                                            : "C",
                  static_cast<long long>(id));
    db.query("UPDATE citations SET number = ? WHERE id = ?", {std::string(number), id});
    return id;
}

void CaseWork::applyRow(SqlDb &db, FileRow &f, const CaseInfo &c, const rules::Outcome &o,
                        const StepExtras &x, const Actor &who, int64_t atNs)
{
    const rules::RuleRow &r = *o.row;
    int64_t now = store_->now();
    db.query("UPDATE tasks SET status = 'done', closed_ns = ?, closed_by = ?, outcome = ? WHERE "
             "case_id = ? AND status = 'open'",
             {now, who.name, std::string("next: ") + r.id, c.id});
    auto vehicle = vehicleFromJson(f.vehicle).value_or(VehicleEntry{});
    std::string detail = o.detail;
    auto addDetail = [&](const std::string &s) { detail += (detail.empty() ? "" : "; ") + s; };
    /* Kinds and statuses are this file's own constants, never input. */
    auto setStatus = [&](const std::string &to, std::initializer_list<const char *> kinds,
                         std::initializer_list<const char *> from) {
        auto list = [](std::initializer_list<const char *> items) {
            std::string s;
            for (const char *i : items)
                s += (s.empty() ? "'" : ", '") + std::string(i) + "'";
            return s;
        };
        db.query("UPDATE citations SET status = ? WHERE case_id = ? AND kind IN (" + list(kinds) +
                         ") AND status IN (" + list(from) + ")",
                 {to, c.id});
    };
    std::string documents;
    switch (r.issue) {
    case rules::Issue::CitationToOwner:
        newCitation(db, c, "citation", "registered_owner", vehicle.ownerName, vehicle.ownerAddress,
                    "pending", r.id, 0, "", fineFor(c), who);
        break;
    case rules::Issue::CitationToDriver: {
        int64_t old = 0;
        for (const CitationRow &cr : citationsOf(db, c.id))
            if (cr.kind == "citation" && (cr.status == "pending" || cr.status == "issued"))
                old = cr.id;
        setStatus("superseded", {"citation"}, {"pending", "issued"});
        newCitation(db, c, "citation", "named_driver", x.name, x.address, "pending", r.id, old, "",
                    fineFor(c), who);
        f.contactName = x.name;
        f.contactAddress = x.address;
        f.contactPhone = x.phone;
        addDetail("named driver: " + x.name);
        break;
    }
    case rules::Issue::RentalNotice:
        newCitation(db, c, "rental_notice", "rental_business", vehicle.ownerName,
                    vehicle.ownerAddress, "pending", r.id, 0, "", 0, who);
        break;
    case rules::Issue::CitationToRenter:
        setStatus("answered", {"rental_notice"}, {"issued", "pending"});
        newCitation(db, c, "citation", "renter", x.name, x.address, "pending", r.id, 0, "",
                    fineFor(c), who);
        f.contactName = x.name;
        f.contactAddress = x.address;
        f.contactPhone = x.phone;
        addDetail("renter: " + x.name);
        break;
    case rules::Issue::CitationToRentalBusiness:
        setStatus("lapsed", {"rental_notice"}, {"issued", "pending"});
        newCitation(db, c, "citation", "rental_business", vehicle.ownerName, vehicle.ownerAddress,
                    "pending", r.id, 0, "", fineFor(c), who);
        break;
    case rules::Issue::CopyToAgency:
        newCitation(db, c, "agency_copy", "agency_contact",
                    vehicle.agencyContact + ", " + vehicle.agency, vehicle.ownerAddress, "pending",
                    r.id, 0, "", 0, who);
        addDetail("notify " + vehicle.agencyContact + " of " + vehicle.agency);
        break;
    case rules::Issue::CopyToDepartment:
        newCitation(db, c, "department_copy", "department_contact", x.contact + ", " + x.department,
                    vehicle.ownerAddress, "pending", r.id, 0, "", 0, who);
        addDetail("department " + x.department + ", contact " + x.contact);
        break;
    case rules::Issue::AdvisoryToDismiss:
        setStatus("dismissal_requested", {"citation"}, {"pending", "issued"});
        break;
    case rules::Issue::HoldIssuance:
        setStatus("held", {"citation", "rental_notice"}, {"pending"});
        if (r.id == std::string("city_owned") && !vehicle.department.empty())
            addDetail("the registry names the department " + vehicle.department +
                      ": confirm with the Fleet Manager");
        break;
    case rules::Issue::CancelCitations:
        setStatus("cancelled", {"citation", "rental_notice"}, {"pending", "held", "issued"});
        break;
    case rules::Issue::Reimbursement: {
        int64_t id = newCitation(db, c, "reimbursement", "employee", x.employee,
                                 "(internal: department employee)", "issued", r.id, 0, x.employee,
                                 fineFor(c), who);
        db.query("UPDATE citations SET mailed_ns = ?, due_ns = ? WHERE id = ?",
                 {atNs, o.dueNs, id});
        db.query("INSERT INTO reimbursements (case_id, employee, elected_ns, citation_id) VALUES "
                 "(?, ?, ?, ?)",
                 {c.id, x.employee, atNs, id});
        f.contactName = x.employee;
        f.contactAddress = "";
        f.contactPhone = "";
        break;
    }
    case rules::Issue::None:
        break;
    }
    /* Leaving an OPS inquiry not justified: a department vehicle's held ticket is settled
     * internally (reimbursement or discipline); an off-duty member in a private vehicle
     * is "subject to the ticket", so a held citation goes back to the mailing queue. */
    if (r.step == rules::Step::OpsFinding && r.issue != rules::Issue::CancelCitations) {
        Ownership own;
        bool police = parseOwnership(f.ownership, &own) && isPolice(own);
        if (police || f.stage != "off_duty_inquiry")
            setStatus("cancelled", {"citation", "rental_notice"}, {"held"});
        else
            setStatus("pending", {"citation", "rental_notice"}, {"held"});
    }
    if (!x.employee.empty() && r.issue != rules::Issue::Reimbursement)
        addDetail("employee " + x.employee);
    if (!x.note.empty())
        addDetail(x.note);
    db.query("INSERT INTO tasks (case_id, rule, role, title, detail, due_ns, status, created_ns, "
             "closed_ns, closed_by, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
             {c.id, std::string(r.id), std::string(rules::roleKey(r.role)), std::string(r.task),
              detail, o.dueNs, std::string(r.closesAtOnce ? "done" : "open"), now,
              r.closesAtOnce ? Value{now} : Value{nullptr},
              r.closesAtOnce ? Value{who.name} : Value{nullptr},
              r.closesAtOnce ? Value{std::string(r.then)} : Value{nullptr}});
    f.stage = r.stage;
    f.outcome = r.outcome;
    f.updatedNs = now;
    saveFile(db, f);
    audit(store_, db, who, "rule", c.id,
          std::string(r.id) + ": " + r.then + "; task for " + rules::roleLabel(r.role) + " \"" +
                  r.task + "\" due " + rules::localDate(o.dueNs) +
                  (detail.empty() ? "" : " (" + detail + ")"));
}

json CaseWork::applyStep(int64_t caseId, const rules::StepInput &input, const StepExtras &x,
                         const Actor &who)
{
    auto c = store_->caseInfo(caseId);
    if (!c)
        throw WorkError(404, "no case " + std::to_string(caseId));
    json result;
    store_->transact(true, [&](SqlDb &db) {
        auto f = loadFile(db, caseId);
        if (!f || f->stage == "review")
            throw WorkError(409, "case " + std::to_string(caseId) +
                                         " has not been routed yet (approve it first)");
        rules::CaseFacts cf = factsFor(db, *f, *c);
        rules::StepInput in = input;
        for (const CitationRow &cr : citationsOf(db, caseId))
            if (cr.kind == "rental_notice" && cr.mailedNs) {
                in.noticeMailedNs = cr.mailedNs;
                in.noticeReceivedNs = cr.receivedNs;
            }
        if (in.step == rules::Step::OpsFinding && !x.employee.empty())
            for (const Row &r :
                 db.query("SELECT elected_ns FROM reimbursements WHERE employee = ?", {x.employee}))
                in.priorReimbursementsNs.push_back(r.integer(0));
        rules::Outcome o = rules::decide(cf, in, config_.rules);
        if (!o.row)
            throw WorkError(409, o.refused);
        applyRow(db, *f, *c, o, x, who, in.atNs);
        result = outcomeJson(o, *f);
    });
    return result;
}

json CaseWork::ownerDeclaration(int64_t caseId, const json &body, const Actor &who)
{
    json b = object(body);
    StepExtras x;
    x.name = field(b, "driver_name", 200, false);
    x.address = field(b, "driver_address", 400, false);
    x.phone = field(b, "driver_phone", 40, false);
    if (!x.name.empty() && x.address.empty())
        throw WorkError(422, "'driver_address' is required with the driver's name");
    rules::StepInput in;
    in.step = x.name.empty() ? rules::Step::OwnerNotDriver : rules::Step::OwnerNamedDriver;
    in.atNs = parseDay(b, "received_date", store_->now());
    x.note = field(b, "note", 1000, false);
    if (in.step == rules::Step::OwnerNotDriver && x.note.empty())
        x.note = "owner declared under oath not to have been the driver";
    return applyStep(caseId, in, x, who);
}

json CaseWork::rentalAnswer(int64_t caseId, const json &body, const Actor &who)
{
    json b = object(body);
    StepExtras x;
    x.name = field(b, "renter_name", 200, true);
    x.address = field(b, "renter_address", 400, true);
    x.phone = field(b, "renter_phone", 40, false);
    rules::StepInput in;
    in.step = rules::Step::RenterNamed;
    in.atNs = parseDay(b, "received_date", store_->now());
    return applyStep(caseId, in, x, who);
}

json CaseWork::rentalLapse(int64_t caseId, const Actor &who)
{
    rules::StepInput in;
    in.step = rules::Step::RentalWindowLapsed;
    in.atNs = store_->now();
    return applyStep(caseId, in, {}, who);
}

json CaseWork::departmentIdentified(int64_t caseId, const json &body, const Actor &who)
{
    json b = object(body);
    StepExtras x;
    x.department = field(b, "department", 200, true);
    x.contact = field(b, "contact", 200, true);
    x.note = field(b, "note", 1000, false);
    rules::StepInput in;
    in.step = rules::Step::DepartmentIdentified;
    in.atNs = parseDay(b, "date", store_->now());
    return applyStep(caseId, in, x, who);
}

json CaseWork::opsFinding(int64_t caseId, const json &body, const Actor &who)
{
    json b = object(body);
    if (!b.value("justified", json()).is_boolean())
        throw WorkError(422, "'justified' must be true or false");
    StepExtras x;
    x.employee = field(b, "employee", 100, !b["justified"].get<bool>());
    x.note = field(b, "note", 2000, false);
    rules::StepInput in;
    in.step = rules::Step::OpsFinding;
    in.justified = b["justified"].get<bool>();
    in.reimburse = b.value("reimburse", false);
    in.rebuttal = field(b, "rebuttal", 2000, false);
    in.atNs = parseDay(b, "date", store_->now());
    if (!in.rebuttal.empty())
        x.note +=
                (x.note.empty() ? "" : "; ") + std::string("presumption rebutted: ") + in.rebuttal;
    if (b.contains("on_duty") && b["on_duty"].is_boolean())
        store_->transact(true, [&](SqlDb &db) {
            auto f = loadFile(db, caseId);
            if (!f)
                return;
            json facts = factsOf(*f);
            facts["on_duty"] = b["on_duty"];
            f->facts = facts.dump();
            saveFile(db, *f);
        });
    return applyStep(caseId, in, x, who);
}

json CaseWork::recordReferral(int64_t caseId, const json &body, const Actor &who)
{
    json b = object(body);
    int64_t at = parseDay(b, "referred_date", store_->now());
    std::string person = field(b, "person_contacted", 200, true);
    std::string org = field(b, "organization", 200, true);
    std::string disposition = field(b, "disposition", 1000, true);
    if (!store_->caseInfo(caseId))
        throw WorkError(404, "no case " + std::to_string(caseId));
    json out;
    store_->transact(true, [&](SqlDb &db) {
        auto f = loadFile(db, caseId);
        if (!f || f->stage == "review")
            throw WorkError(409, "case " + std::to_string(caseId) + " has not been routed yet");
        std::string role = "traffic_lieutenant";
        int64_t id = db.query("INSERT INTO referrals (case_id, referred_ns, role, "
                              "person_contacted, organization, disposition, recorded_by, "
                              "recorded_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                              {caseId, at, role, person, org, disposition, who.name, store_->now()})
                             .at(0)
                             .integer(0);
        int64_t closed = 0;
        for (const Row &t : db.query("SELECT id, rule FROM tasks WHERE case_id = ? AND status = "
                                     "'open'",
                                     {caseId})) {
            const rules::RuleRow *row = rules::findRow(t.text(1));
            if (row && row->needsReferral) {
                db.query("UPDATE tasks SET status = 'done', closed_ns = ?, closed_by = ?, "
                         "outcome = ? WHERE id = ?",
                         {store_->now(), who.name, "referral " + std::to_string(id), t.integer(0)});
                ++closed;
            }
        }
        audit(store_, db, who, "referral", caseId,
              "referred " + rules::localDate(at) + " to " + person + " (" + org +
                      "): " + disposition);
        out = {{"referral_id", id}, {"tasks_closed", closed}};
    });
    return out;
}

json CaseWork::employeeReport(const json &body, const Actor &who)
{
    json b = object(body);
    std::string kind = field(b, "kind", 20, true);
    if (kind != "supervisor" && kind != "off_duty")
        throw WorkError(422, "'kind' must be \"supervisor\" (unmarked vehicle, reported by the "
                             "supervisor) or \"off_duty\" (compelling reason)");
    std::string employee = field(b, "employee", 100, true);
    std::string supervisor = field(b, "supervisor", 100, kind == "supervisor");
    std::string narrative = field(b, "narrative", 4000, true);
    bool justified = b.value("justified", false);
    if (kind == "supervisor" && !b.value("justified", json()).is_boolean())
        throw WorkError(422, "'justified' must be true or false (in the course of duties, with "
                             "safety and caution)");
    int64_t caseId = 0;
    if (b.contains("case_id") && !b["case_id"].is_null()) {
        if (!b["case_id"].is_number_integer())
            throw WorkError(422, "'case_id' must be a number");
        caseId = b["case_id"].get<int64_t>();
    }
    std::string plate = normalizePlate(field(b, "plate", 20, caseId == 0));
    std::string state = field(b, "state", 2, caseId == 0);
    for (char &ch : state)
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    int64_t occurred = parseDay(b, "occurred_date", store_->now());
    std::optional<CaseInfo> c;
    if (caseId) {
        c = store_->caseInfo(caseId);
        if (!c)
            throw WorkError(404, "no case " + std::to_string(caseId));
        occurred = c->eventUtcNs ? c->eventUtcNs : occurred;
        json v = vehicle(*c);
        if (plate.empty()) {
            plate = v["plate"];
            state = v["state"];
        }
    } else if (!validState(state)) {
        throw WorkError(422, "'state' must be a two-letter code");
    }
    int64_t reportId = 0;
    store_->transact(true, [&](SqlDb &db) {
        reportId = db.query("INSERT INTO employee_reports (kind, case_id, plate, state, "
                            "occurred_ns, employee, supervisor, justified, narrative, "
                            "recorded_by, recorded_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                            "RETURNING id",
                            {kind, caseId ? Value{caseId} : Value{nullptr}, plate, state, occurred,
                             employee, supervisor, int64_t{justified}, narrative, who.name,
                             store_->now()})
                           .at(0)
                           .integer(0);
        store_->appendAuditIn(
                db, {who.name, "employee-report",
                     caseId ? "case:" + std::to_string(caseId) : "plate:" + plate + " " + state,
                     kind + (justified ? " justified" : "") + " employee " + employee, who.ip});
    });
    json out{{"report_id", reportId}, {"case_id", caseId ? json(caseId) : json(nullptr)}};
    /* A routed case is pre-empted or sent to OPS now; a case not routed yet takes the
     * report into account when it is. */
    std::optional<FileRow> f;
    if (caseId)
        store_->transact(false, [&](SqlDb &db) { f = loadFile(db, caseId); });
    if (f && f->stage != "review") {
        rules::StepInput in;
        in.step = kind == "supervisor" ? rules::Step::SupervisorReport : rules::Step::OffDutyReport;
        in.justified = justified;
        in.atNs = store_->now();
        StepExtras x;
        x.employee = employee;
        x.note = (kind == "supervisor" ? "supervisor " + supervisor + ": " : "") + narrative;
        out["applied"] = applyStep(caseId, in, x, who);
    } else {
        out["applied"] = nullptr;
        out["note"] = "kept on file: it applies when the case is routed";
    }
    return out;
}

json CaseWork::taskDone(int64_t taskId, const json &body, const Actor &who)
{
    json b = body.is_object() ? body : json::object();
    std::string note = field(b, "note", 1000, true);
    json out;
    store_->transact(true, [&](SqlDb &db) {
        auto rows =
                db.query("SELECT case_id, rule, status, title FROM tasks WHERE id = ?", {taskId});
        if (rows.empty())
            throw WorkError(404, "no task " + std::to_string(taskId));
        if (rows[0].text(2) != "open")
            throw WorkError(409,
                            "task " + std::to_string(taskId) + " is already " + rows[0].text(2));
        std::string proper = properAction(rows[0].text(1));
        if (!proper.empty())
            throw WorkError(409, "\"" + rows[0].text(3) + "\" closes when you " + proper);
        db.query("UPDATE tasks SET status = 'done', closed_ns = ?, closed_by = ?, outcome = ? "
                 "WHERE id = ?",
                 {store_->now(), who.name, note, taskId});
        audit(store_, db, who, "task-done", rows[0].integer(0),
              "task " + std::to_string(taskId) + " \"" + rows[0].text(3) + "\": " + note);
        out = {{"ok", true}, {"case_id", rows[0].integer(0)}};
    });
    return out;
}

json CaseWork::tasks(const std::string &role, bool includeClosed)
{
    json list = json::array(), unrouted = json::array();
    int64_t now = store_->now();
    store_->transact(false, [&](SqlDb &db) {
        for (const Row &r :
             db.query(std::string("SELECT ") + kTaskColumns +
                              ", f.plate, f.state, c.site, c.violation_type FROM tasks t JOIN "
                              "cases c ON c.id = t.case_id LEFT JOIN case_files f ON f.case_id = "
                              "t.case_id WHERE (? = '' OR t.role = ?) AND (t.status = 'open' OR "
                              "? = 1) ORDER BY t.status DESC, t.due_ns, t.id LIMIT 500",
                      {role, role, int64_t{includeClosed}}))
            list.push_back(taskJson(r, now));
        for (const Row &r :
             db.query("SELECT c.id, c.site, c.violation_type, c.decided_ns FROM cases c LEFT JOIN "
                      "case_files f ON f.case_id = c.id WHERE c.status = 'approved' AND "
                      "(f.case_id IS NULL OR f.stage = 'review') ORDER BY c.id LIMIT 200"))
            unrouted.push_back({{"case_id", r.integer(0)},
                                {"site", r.text(1)},
                                {"type", r.text(2)},
                                {"approved_utc", r.isNull(3) ? "" : isoUtc(r.integer(3))}});
    });
    json roles = json::array();
    for (rules::Role x :
         {rules::Role::Technician, rules::Role::ReviewingOfficer, rules::Role::TrafficLieutenant,
          rules::Role::ProfessionalStandards, rules::Role::TrafficSectionCommander})
        roles.push_back({{"key", rules::roleKey(x)}, {"label", rules::roleLabel(x)}});
    return json{{"tasks", list}, {"unrouted", unrouted}, {"roles", roles}};
}

/* ---------- case file and search ---------- */

json CaseWork::caseFile(int64_t caseId)
{
    auto c = store_->caseInfo(caseId);
    if (!c)
        throw WorkError(404, "no case " + std::to_string(caseId));
    StoredRecord stored;
    evidence::Record record;
    bool parsed = loadRecord(store_, *c, &stored, &record);
    json out;
    json frames = {{"a", nullptr}, {"b", nullptr}, {"plate", nullptr}};
    if (parsed) {
        for (const evidence::Frame &fr : record.violation().frames()) {
            if (fr.role() == evidence::FRAME_A_SHOT)
                frames["a"] = evidence::toHex(fr.sha256());
            if (fr.role() == evidence::FRAME_B_SHOT)
                frames["b"] = evidence::toHex(fr.sha256());
        }
        if (record.violation().plate().candidates_size())
            frames["plate"] =
                    evidence::toHex(record.violation().plate().candidates(0).crop().sha256());
    }
    const evidence::Location &loc = record.violation().location();
    out["case"] = {{"id", c->id},
                   {"status", c->status},
                   {"type", c->violationType},
                   {"site", c->site},
                   {"device_id", c->deviceId},
                   {"seq", c->seq},
                   {"event_utc", isoUtc(c->eventUtcNs)},
                   {"event_local", localDateTime(c->eventUtcNs)},
                   {"location", loc.code() + " " + loc.description()},
                   {"lane", loc.lane()},
                   {"statute", record.violation().statute_code() + " " +
                                       record.violation().statute_description()},
                   {"decision", c->decision},
                   {"reason", c->reasonCode},
                   {"decided_by", c->decidedBy},
                   {"decided_utc", c->decidedNs ? isoUtc(c->decidedNs) : ""},
                   {"time_on_case_ms", c->timeOnCaseMs},
                   {"record_hash", evidence::toHex(stored.hash)},
                   {"frames", frames}};
    out["vehicle"] = vehicle(*c);
    int64_t now = store_->now();
    store_->transact(false, [&](SqlDb &db) {
        auto f = loadFile(db, caseId);
        json file = nullptr;
        if (f) {
            Ownership o;
            file = {{"plate", f->plate},
                    {"state", f->state},
                    {"plate_source", f->plateSource},
                    {"ownership", f->ownership},
                    {"ownership_label",
                     parseOwnership(f->ownership, &o) ? ownershipLabel(o) : "not in the registry"},
                    {"routed_with",
                     f->vehicle.empty() ? json(nullptr) : json::parse(f->vehicle, nullptr, false)},
                    {"facts", factsOf(*f)},
                    {"stage", f->stage},
                    {"outcome", f->outcome},
                    {"contact",
                     {{"name", f->contactName},
                      {"address", f->contactAddress},
                      {"phone", f->contactPhone}}},
                    {"routed_utc", f->routedNs ? isoUtc(f->routedNs) : ""}};
        }
        out["file"] = file;
        json tasks = json::array();
        for (const Row &r : db.query(std::string("SELECT ") + kTaskColumns +
                                             " FROM tasks t WHERE t.case_id = ? ORDER BY t.id",
                                     {caseId}))
            tasks.push_back(taskJson(r, now));
        out["tasks"] = tasks;
        json refs = json::array();
        for (const Row &r : db.query("SELECT id, referred_ns, role, person_contacted, "
                                     "organization, disposition, recorded_by FROM referrals "
                                     "WHERE case_id = ? ORDER BY id",
                                     {caseId}))
            refs.push_back({{"id", r.integer(0)},
                            {"referred_date", rules::localDate(r.integer(1))},
                            {"role", r.text(2)},
                            {"person_contacted", r.text(3)},
                            {"organization", r.text(4)},
                            {"disposition", r.text(5)},
                            {"recorded_by", r.text(6)}});
        out["referrals"] = refs;
        json cits = json::array();
        bool payNow = false;
        int64_t windowEnds = 0;
        for (const CitationRow &cr : citationsOf(db, caseId)) {
            cits.push_back(citationJson(cr));
            payNow = payNow || (payable(cr.kind) && cr.status == "issued");
            if (cr.kind == "rental_notice" && cr.mailedNs)
                windowEnds = rules::rentalWindowEnd(cr.mailedNs, cr.receivedNs, config_.rules);
        }
        out["citations"] = cits;
        json pays = json::array();
        for (const Row &r : db.query("SELECT p.id, p.amount_cents, p.paid_ns, p.method, "
                                     "p.reference, p.recorded_by, c.number FROM payments p JOIN "
                                     "citations c ON c.id = p.citation_id WHERE p.case_id = ? "
                                     "ORDER BY p.paid_ns, p.id",
                                     {caseId}))
            pays.push_back({{"id", r.integer(0)},
                            {"amount", money(r.integer(1))},
                            {"paid_date", rules::localDate(r.integer(2))},
                            {"method", r.text(3)},
                            {"reference", r.text(4)},
                            {"recorded_by", r.text(5)},
                            {"citation", r.text(6)}});
        out["payments"] = pays;
        json contacts = json::array();
        for (const Row &r : db.query("SELECT id, at_ns, channel, person, outcome, notes, "
                                     "recorded_by FROM contacts WHERE case_id = ? ORDER BY at_ns "
                                     "DESC, id DESC",
                                     {caseId}))
            contacts.push_back({{"id", r.integer(0)},
                                {"at", localDateTime(r.integer(1))},
                                {"channel", r.text(2)},
                                {"person", r.text(3)},
                                {"outcome", r.text(4)},
                                {"notes", r.text(5)},
                                {"recorded_by", r.text(6)}});
        out["contacts"] = contacts;
        json reports = json::array();
        for (const Row &r : db.query("SELECT id, kind, employee, supervisor, justified, "
                                     "narrative, recorded_by, recorded_ns FROM employee_reports "
                                     "WHERE case_id = ? ORDER BY id",
                                     {caseId}))
            reports.push_back({{"id", r.integer(0)},
                               {"kind", r.text(1)},
                               {"employee", r.text(2)},
                               {"supervisor", r.text(3)},
                               {"justified", r.integer(4) != 0},
                               {"narrative", r.text(5)},
                               {"recorded_by", r.text(6)},
                               {"recorded_utc", isoUtc(r.integer(7))}});
        out["reports"] = reports;
        auto sr = db.query("SELECT reason, decided_by, time_on_case_ms, minimum_ms, reviewer, "
                           "reviewed_ns, verdict, note FROM second_reviews WHERE case_id = ?",
                           {caseId});
        out["second_review"] =
                sr.empty() ? json(nullptr)
                           : json{{"reason", sr[0].text(0)},
                                  {"decided_by", sr[0].text(1)},
                                  {"time_on_case_ms", sr[0].integer(2)},
                                  {"minimum_ms", sr[0].integer(3)},
                                  {"reviewer", sr[0].text(4)},
                                  {"reviewed_utc", sr[0].isNull(5) ? "" : isoUtc(sr[0].integer(5))},
                                  {"verdict", sr[0].text(6)},
                                  {"note", sr[0].text(7)}};
        json actions = json::array();
        std::string stage = f ? f->stage : "review";
        Ownership own;
        bool owned = f && parseOwnership(f->ownership, &own);
        if (c->status == "approved" && (stage == "review" || stage == "owner_unknown"))
            actions.push_back("route");
        if (stage == "review" || stage == "owner_unknown")
            actions.push_back("set_vehicle");
        if (stage == "citation_owner" && owned && own == Ownership::Private && f->outcome != "paid")
            actions.push_back("declaration");
        if (stage == "rental_window") {
            actions.push_back("rental_answer");
            actions.push_back("rental_lapse");
        }
        if (stage == "fleet_manager")
            actions.push_back("department");
        if (stage == "agency_referral" || stage == "department_referral" || stage == "dismissal")
            actions.push_back("referral");
        if (stage == "ops_inquiry" || stage == "off_duty_inquiry")
            actions.push_back("ops_finding");
        if (f && stage != "review")
            actions.push_back("contact");
        if (payNow)
            actions.push_back("payment");
        out["actions"] = actions;
        out["rental_window_ends"] = windowEnds ? rules::localDate(windowEnds) : "";
        out["rental_window_open"] = windowEnds ? now <= windowEnds : false;
    });
    return out;
}

json CaseWork::search(const std::string &query)
{
    std::string q = query;
    size_t b = q.find_first_not_of(" \t"), e = q.find_last_not_of(" \t");
    q = b == std::string::npos ? "" : q.substr(b, e - b + 1);
    json results = json::array();
    if (q.empty())
        return json{{"query", q}, {"results", results}};
    std::vector<int64_t> ids;
    std::set<int64_t> seen;
    auto add = [&](int64_t id) {
        if (seen.insert(id).second)
            ids.push_back(id);
    };
    std::string digits = q;
    if (lower(digits).rfind("case", 0) == 0)
        digits = digits.substr(4);
    digits.erase(0, digits.find_first_not_of(" #:"));
    bool numeric = !digits.empty() && digits.size() < 16 &&
                   std::all_of(digits.begin(), digits.end(),
                               [](char ch) { return ch >= '0' && ch <= '9'; });
    std::string plate = normalizePlate(q);
    std::string like;
    for (char ch : lower(q)) {
        if (ch == '%' || ch == '_' || ch == '\\')
            like += '\\';
        like += ch;
    }
    std::string upper = q;
    for (char &ch : upper)
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    store_->transact(false, [&](SqlDb &db) {
        if (numeric)
            for (const Row &r : db.query("SELECT id FROM cases WHERE id = ?", {std::stoll(digits)}))
                add(r.integer(0));
        for (const Row &r : db.query("SELECT case_id FROM citations WHERE number = ?", {upper}))
            add(r.integer(0));
        if (plate.size() >= 2)
            for (const Row &r :
                 db.query("SELECT case_id FROM case_files WHERE plate LIKE ? ORDER BY case_id DESC "
                          "LIMIT 50",
                          {plate + "%"}))
                add(r.integer(0));
        if (q.size() >= 3) {
            for (const Row &r :
                 db.query("SELECT DISTINCT case_id FROM citations WHERE LOWER(recipient_name) LIKE "
                          "? ESCAPE '\\' ORDER BY case_id DESC LIMIT 50",
                          {"%" + like + "%"}))
                add(r.integer(0));
            for (const Row &r :
                 db.query("SELECT case_id FROM case_files WHERE LOWER(contact_name) LIKE ? ESCAPE "
                          "'\\' ORDER BY case_id DESC LIMIT 50",
                          {"%" + like + "%"}))
                add(r.integer(0));
            for (const Row &r :
                 db.query("SELECT f.case_id FROM registry_vehicles v JOIN case_files f ON f.plate "
                          "= v.plate AND f.state = v.state WHERE v.owner_key LIKE ? ESCAPE '\\' "
                          "ORDER BY f.case_id DESC LIMIT 50",
                          {"%" + like + "%"}))
                add(r.integer(0));
        }
        if (ids.size() > 50)
            ids.resize(50);
        for (int64_t id : ids) {
            auto rows = db.query(
                    "SELECT c.id, c.violation_type, c.site, c.event_utc_ns, c.status, f.plate, "
                    "f.state, f.stage, f.outcome, f.contact_name FROM cases c LEFT JOIN "
                    "case_files f ON f.case_id = c.id WHERE c.id = ?",
                    {id});
            if (rows.empty())
                continue;
            const Row &r = rows[0];
            json item{{"case_id", r.integer(0)}, {"type", r.text(1)},
                      {"site", r.text(2)},       {"event_utc", isoUtc(r.integer(3))},
                      {"status", r.text(4)},     {"plate", r.text(5)},
                      {"state", r.text(6)},      {"stage", r.text(7)},
                      {"outcome", r.text(8)},    {"party", r.text(9)},
                      {"citation", nullptr}};
            for (const CitationRow &cr : citationsOf(db, id))
                if (cr.status != "superseded")
                    item["citation"] = citationJson(cr);
            results.push_back(item);
        }
    });
    return json{{"query", q}, {"results", results}};
}

} /* namespace stopline::backoffice */

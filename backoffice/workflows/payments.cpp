/* The technician's daily work on money and people: payments, the contact log,
 * current contact information, the overdue list and the summons-service report. */

#include <algorithm>
#include <set>

#include "backoffice/citations/citation_pdf.h"
#include "backoffice/review.h"
#include "backoffice/workflows/casework.h"
#include "backoffice/workflows/casework_internal.h"

namespace stopline::backoffice {

using nlohmann::json;
using namespace work;

namespace {

const std::set<std::string> kMethods = {"cash", "check", "card", "online", "money_order", "other"};
const std::set<std::string> kChannels = {"phone", "mail", "email", "in_person", "other"};

std::string csvField(const std::string &s)
{
    /* A leading = + - @ would be a formula to a spreadsheet: quote it as text. */
    bool formula = !s.empty() && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@');
    std::string out = "\"";
    if (formula)
        out += '\'';
    for (char c : s)
        out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

struct OverdueLine
{
    CitationRow citation;
    std::string name, address, phone, plate, state, type, site;
    int64_t eventNs = 0, lastContactNs = 0;
    std::string lastOutcome;
};

std::vector<OverdueLine> overdueLines(SqlDb &db, int64_t now, bool citationsOnly)
{
    std::vector<OverdueLine> out;
    for (const Row &r :
         db.query(std::string("SELECT ") + kCitationColumns +
                          ", f.contact_name, f.contact_address, f.contact_phone, f.plate, "
                          "f.state, x.violation_type, x.site, x.event_utc_ns, (SELECT MAX(k.at_ns) "
                          "FROM contacts k WHERE k.case_id = c.case_id), (SELECT k.outcome FROM "
                          "contacts k WHERE k.case_id = c.case_id ORDER BY k.at_ns DESC, k.id DESC "
                          "LIMIT 1) FROM citations c JOIN cases x ON x.id = c.case_id LEFT JOIN "
                          "case_files f ON f.case_id = c.case_id WHERE c.status = 'issued' AND "
                          "c.kind IN " +
                          /* Filtered here, not after the LIMIT: reimbursements must not
                           * take the places of citations in the summons report. */
                          (citationsOnly ? "('citation')" : "('citation', 'reimbursement')") +
                          " AND c.due_ns < ? AND c.amount_cents > (SELECT "
                          "COALESCE(SUM(p.amount_cents), 0) FROM payments p WHERE p.citation_id = "
                          "c.id) ORDER BY c.due_ns, c.id LIMIT 5000",
                  {now})) {
        OverdueLine l;
        l.citation = citationFromRow(r);
        l.name = r.text(20).empty() ? l.citation.recipientName : r.text(20);
        l.address = r.text(21).empty() ? l.citation.recipientAddress : r.text(21);
        l.phone = r.text(22);
        l.plate = r.text(23);
        l.state = r.text(24);
        l.type = r.text(25);
        l.site = r.text(26);
        l.eventNs = r.integer(27);
        l.lastContactNs = r.isNull(28) ? 0 : r.integer(28);
        l.lastOutcome = r.text(29);
        out.push_back(std::move(l));
    }
    return out;
}

int64_t daysOverdue(int64_t dueNs, int64_t now)
{
    return std::max<int64_t>(1, (now - dueNs + kDay - 1) / kDay);
}

} /* namespace */

json CaseWork::recordPayment(int64_t caseId, const json &body, const Actor &who)
{
    json b = object(body);
    int64_t cents = 0;
    if (!b.contains("amount") || !parseMoney(b["amount"], &cents) || cents <= 0)
        throw WorkError(422, "'amount' must be a positive amount of dollars, e.g. 136.00");
    std::string method = field(b, "method", 20, true);
    if (!kMethods.count(method))
        throw WorkError(422, "'method' must be one of cash, check, card, online, money_order, "
                             "other");
    std::string reference = field(b, "reference", 100, false);
    int64_t now = store_->now();
    int64_t paidAt = parseDay(b, "paid_date", now);
    if (!store_->caseInfo(caseId))
        throw WorkError(404, "no case " + std::to_string(caseId));
    json out;
    store_->transact(true, [&](SqlDb &db) {
        std::optional<CitationRow> target;
        for (const CitationRow &c : citationsOf(db, caseId))
            if (payable(c.kind) && (c.status == "issued" || c.status == "paid"))
                target = c;
        if (!target)
            throw WorkError(409, "case " + std::to_string(caseId) +
                                         " has no mailed citation or reimbursement to pay");
        if (target->status == "paid")
            throw WorkError(409, target->number + " is already paid in full");
        int64_t balance = target->amountCents - target->paidCents;
        if (cents > balance)
            throw WorkError(422, money(cents) + " is more than the balance " + money(balance) +
                                         " of " + target->number + ": nothing was recorded");
        int64_t id = db.query("INSERT INTO payments (case_id, citation_id, amount_cents, paid_ns, "
                              "method, reference, recorded_by, recorded_ns) VALUES (?, ?, ?, ?, "
                              "?, ?, ?, ?) RETURNING id",
                              {caseId, target->id, cents, paidAt, method, reference, who.name, now})
                             .at(0)
                             .integer(0);
        balance -= cents;
        if (balance == 0) {
            db.query("UPDATE citations SET status = 'paid' WHERE id = ?", {target->id});
            db.query("UPDATE case_files SET outcome = 'paid', updated_ns = ? WHERE case_id = ?",
                     {now, caseId});
            db.query("UPDATE tasks SET status = 'done', closed_ns = ?, closed_by = ?, outcome = "
                     "? WHERE case_id = ? AND rule = 'ops.reimbursement' AND status = 'open'",
                     {now, who.name, "paid " + target->number, caseId});
        }
        audit(store_, db, who, "payment", caseId,
              money(cents) + " " + method + (reference.empty() ? "" : " ref " + reference) +
                      " paid " + rules::localDate(paidAt) + " on " + target->number + ", balance " +
                      money(balance));
        out = {{"payment_id", id},
               {"citation", target->number},
               {"balance", money(balance)},
               {"paid_in_full", balance == 0}};
    });
    return out;
}

json CaseWork::logContact(int64_t caseId, const json &body, const Actor &who)
{
    json b = object(body);
    std::string channel = field(b, "channel", 20, true);
    if (!kChannels.count(channel))
        throw WorkError(422, "'channel' must be one of phone, mail, email, in_person, other");
    std::string person = field(b, "person", 200, false);
    std::string outcome = field(b, "outcome", 200, true);
    std::string notes = field(b, "notes", 4000, false);
    int64_t now = store_->now();
    int64_t at = parseDay(b, "date", now);
    if (!store_->caseInfo(caseId))
        throw WorkError(404, "no case " + std::to_string(caseId));
    int64_t id = 0;
    store_->transact(true, [&](SqlDb &db) {
        id = db.query("INSERT INTO contacts (case_id, at_ns, channel, person, outcome, notes, "
                      "recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                      {caseId, at, channel, person, outcome, notes, who.name})
                     .at(0)
                     .integer(0);
        audit(store_, db, who, "contact", caseId,
              channel + (person.empty() ? "" : " with " + person) + ": " + outcome);
    });
    return json{{"contact_id", id}};
}

json CaseWork::updateContact(int64_t caseId, const json &body, const Actor &who)
{
    json b = object(body);
    bool any = false;
    for (const char *k : {"name", "address", "phone"})
        any = any || (b.contains(k) && !b[k].is_null());
    if (!any)
        throw WorkError(422, "give at least one of 'name', 'address', 'phone'");
    json out;
    store_->transact(true, [&](SqlDb &db) {
        auto f = loadFile(db, caseId);
        if (!f || f->stage == "review")
            throw WorkError(409, "case " + std::to_string(caseId) + " has not been routed yet");
        std::string changes;
        auto set = [&](const char *key, std::string *value, size_t max) {
            if (!b.contains(key) || b[key].is_null())
                return;
            std::string v = field(b, key, max, false);
            if (v != *value)
                changes += std::string(changes.empty() ? "" : "; ") + key + " '" + *value +
                           "' -> '" + v + "'";
            *value = v;
        };
        set("name", &f->contactName, 200);
        set("address", &f->contactAddress, 400);
        set("phone", &f->contactPhone, 40);
        f->updatedNs = store_->now();
        saveFile(db, *f);
        audit(store_, db, who, "contact-info", caseId, changes.empty() ? "unchanged" : changes);
        out = {{"name", f->contactName},
               {"address", f->contactAddress},
               {"phone", f->contactPhone}};
    });
    return out;
}

json CaseWork::overdue()
{
    int64_t now = store_->now();
    json list = json::array();
    int64_t total = 0;
    store_->transact(false, [&](SqlDb &db) {
        for (const OverdueLine &l : overdueLines(db, now, false)) {
            int64_t balance = l.citation.amountCents - l.citation.paidCents;
            total += balance;
            list.push_back(
                    {{"case_id", l.citation.caseId},
                     {"citation_id", l.citation.id},
                     {"number", l.citation.number},
                     {"kind", l.citation.kind},
                     {"name", l.name},
                     {"address", l.address},
                     {"phone", l.phone},
                     {"plate", l.plate + " " + l.state},
                     {"type", l.type},
                     {"site", l.site},
                     {"violation_date", rules::localDate(l.eventNs)},
                     {"amount", money(l.citation.amountCents)},
                     {"balance", money(balance)},
                     {"due_date", rules::localDate(l.citation.dueNs)},
                     {"days_overdue", daysOverdue(l.citation.dueNs, now)},
                     {"last_contact", l.lastContactNs ? rules::localDate(l.lastContactNs) : ""},
                     {"last_outcome", l.lastOutcome}});
        }
    });
    return json{{"overdue", list},
                {"count", list.size()},
                {"total_balance", money(total)},
                {"as_of", localDateTime(now)}};
}

std::string CaseWork::summonsCsv()
{
    int64_t now = store_->now();
    std::string csv = "case_id,citation,name,current_address,phone,plate,state,violation_date,"
                      "violation,location,due_date,days_overdue,balance,last_contact,"
                      "last_outcome\r\n";
    store_->transact(false, [&](SqlDb &db) {
        for (const OverdueLine &l : overdueLines(db, now, true)) {
            std::vector<std::string> cells = {std::to_string(l.citation.caseId),
                                              l.citation.number,
                                              l.name,
                                              l.address,
                                              l.phone,
                                              l.plate,
                                              l.state,
                                              rules::localDate(l.eventNs),
                                              l.type,
                                              l.site,
                                              rules::localDate(l.citation.dueNs),
                                              std::to_string(daysOverdue(l.citation.dueNs, now)),
                                              money(l.citation.amountCents - l.citation.paidCents),
                                              l.lastContactNs ? rules::localDate(l.lastContactNs)
                                                              : "",
                                              l.lastOutcome};
            for (size_t i = 0; i < cells.size(); ++i)
                csv += (i ? "," : "") + csvField(cells[i]);
            csv += "\r\n";
        }
    });
    return csv;
}

std::string CaseWork::summonsPdf()
{
    int64_t now = store_->now();
    std::vector<SummonsLine> lines;
    store_->transact(false, [&](SqlDb &db) {
        for (const OverdueLine &l : overdueLines(db, now, true))
            lines.push_back({std::to_string(l.citation.caseId), l.citation.number, l.name,
                             l.address, l.phone, l.plate + " " + l.state,
                             rules::localDate(l.eventNs) + " " +
                                     (l.type == "red_light" ? "red light" : "school zone"),
                             rules::localDate(l.citation.dueNs),
                             std::to_string(daysOverdue(l.citation.dueNs, now)) + " d",
                             money(l.citation.amountCents - l.citation.paidCents),
                             l.lastContactNs
                                     ? rules::localDate(l.lastContactNs) + " " + l.lastOutcome
                                     : ""});
    });
    return renderSummonsPdf(config_.agencyName, localDateTime(now), lines);
}

} /* namespace stopline::backoffice */

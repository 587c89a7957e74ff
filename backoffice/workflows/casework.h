#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backoffice/registry/registry.h"
#include "backoffice/rules/rules.h"
#include "backoffice/store/store.h"
#include "evidence/keys.h"

namespace stopline::backoffice {

struct CitationDoc;

/* Settings of the business workflows (serve options). */
struct WorkConfig
{
    rules::RuleConfig rules;
    std::string plateState = "WA"; /* state assumed for a plate read until someone says */
    /* Example amounts: set them to the court's schedule (--fine-red-light, ...). */
    int64_t redLightFineCents = 13'600;
    int64_t schoolZoneFineCents = 23'400;
    std::string citationPrefix = "SL";
    /* Where a recipient views the clip, pays or requests a hearing (printed on notices). */
    std::string portalUrl = "https://pay.example.gov/photo";
    std::string agencyName = "Police Department · Photo Enforcement Program";
    /* Decisions faster than this are flagged ("rubber stamp") and queued for a second
     * review; a random share of the others is queued too. */
    int64_t minReviewMs = 15'000;
    double secondReviewPercent = 5.0;
};

/* A request the workflows refuse, with the HTTP status that says why (404 no such
 * thing, 409 not in this state, 422 invalid input) and a message naming what was wrong. */
class WorkError : public std::runtime_error
{
public:
    WorkError(int status, const std::string &what) : std::runtime_error(what), status(status) {}
    int status;
};

/* Who did it, for the audit log. */
struct Actor
{
    std::string name;
    std::string ip;
};

/* The back-office after the review: what the rule table makes of an approved case
 * (tasks, referrals, citations, notices), the technician's workflows (search, mailing,
 * payments, contacts, summons-service report, court packet), second reviews and
 * statistics. JSON in, JSON out, so the HTTP layer stays a thin table of routes; every
 * change is one transaction with its audit entry. Thread-safe (state is in the store). */
class CaseWork
{
public:
    /* Both borrowed; they outlive this object. */
    CaseWork(Store *store, Registry *registry, WorkConfig config);

    const WorkConfig &config() const { return config_; }

    /* The plate and state the case is looked up by (the device's read and the default
     * state until someone corrects them) and what the registry says. */
    nlohmann::json vehicle(const CaseInfo &c);
    nlohmann::json setVehicle(int64_t caseId, const nlohmann::json &body, const Actor &who);
    /* Empty when an approval with these facts can be routed; else what is missing
     * (a police vehicle needs the emergency-lights answer). */
    std::string missingFacts(const CaseInfo &c, const nlohmann::json &facts);

    /* After a decision: the rubber-stamp flag or a random second review, and for an
     * approval the routing. Never throws: the decision is already committed, a routing
     * problem is audited and shows in the technician's worklist. */
    void afterDecision(int64_t caseId, const nlohmann::json &facts, const Actor &who);
    /* Routes an approved case through the rule table (again after owner research). */
    nlohmann::json route(int64_t caseId, const nlohmann::json &facts, const Actor &who);

    /* The rule table's follow-up steps. */
    nlohmann::json ownerDeclaration(int64_t caseId, const nlohmann::json &body, const Actor &who);
    nlohmann::json rentalAnswer(int64_t caseId, const nlohmann::json &body, const Actor &who);
    nlohmann::json rentalLapse(int64_t caseId, const Actor &who);
    nlohmann::json departmentIdentified(int64_t caseId, const nlohmann::json &body,
                                        const Actor &who);
    nlohmann::json recordReferral(int64_t caseId, const nlohmann::json &body, const Actor &who);
    nlohmann::json opsFinding(int64_t caseId, const nlohmann::json &body, const Actor &who);
    /* An unmarked-vehicle supervisor report or an off-duty compelling-reason report;
     * it may arrive before the case exists here and is matched by plate and date. */
    nlohmann::json employeeReport(const nlohmann::json &body, const Actor &who);
    nlohmann::json taskDone(int64_t taskId, const nlohmann::json &body, const Actor &who);
    /* Open tasks (role "" = all), approved cases not yet routed. */
    nlohmann::json tasks(const std::string &role, bool includeClosed);

    /* Everything about one case after review, and what can be done next. */
    nlohmann::json caseFile(int64_t caseId);
    /* Case id, citation number, plate or owner/recipient name. */
    nlohmann::json search(const std::string &query);

    /* Mailing: documents waiting, one PDF for the printer, and marking them mailed
     * (which starts payment deadlines and the rental window). */
    nlohmann::json mailQueue();
    std::string mailBatchPdf(const std::vector<int64_t> &ids);
    nlohmann::json markMailed(const nlohmann::json &body, const Actor &who);
    /* The mailed PDF as stored, or a preview of a document not mailed yet. */
    std::string citationPdf(int64_t citationId, std::string *filename);

    nlohmann::json recordPayment(int64_t caseId, const nlohmann::json &body, const Actor &who);
    nlohmann::json logContact(int64_t caseId, const nlohmann::json &body, const Actor &who);
    nlohmann::json updateContact(int64_t caseId, const nlohmann::json &body, const Actor &who);
    /* Payable citations and reimbursements past their due date with a balance. */
    nlohmann::json overdue();
    /* The officers' summons-service report: unpaid citations past the deadline with
     * current contact information. */
    std::string summonsCsv();
    std::string summonsPdf();

    /* ZIP for court: the exact sealed record, its verification report, its chain
     * context, the receipt, the signed approval, documents, photos, the audit trail. */
    std::string courtPacket(int64_t caseId, const evidence::SigningKey &serverKey,
                            const Actor &who);

    nlohmann::json quality();
    nlohmann::json secondReview(int64_t caseId, const nlohmann::json &body, const Actor &who);

    /* Violations by site, type, lane and hour; decisions by reason and reviewer;
     * measured yellow per site; device uptime and self-checks, over the last `days`. */
    nlohmann::json statistics(int days);

    /* Row helpers shared by the implementation files. */
    struct FileRow;
    struct CitationRow;
    struct StepExtras;

private:
    nlohmann::json applyStep(int64_t caseId, const rules::StepInput &input, const StepExtras &x,
                             const Actor &who);
    void applyRow(SqlDb &db, FileRow &file, const CaseInfo &c, const rules::Outcome &o,
                  const StepExtras &x, const Actor &who, int64_t atNs);
    int64_t newCitation(SqlDb &db, const CaseInfo &c, const std::string &kind,
                        const std::string &recipientRole, const std::string &name,
                        const std::string &address, const std::string &status,
                        const std::string &rule, int64_t supersedes, const std::string &employee,
                        int64_t amountCents, const Actor &who);
    std::string defaultPlate(const CaseInfo &c);
    int64_t fineFor(const CaseInfo &c) const;
    CitationDoc citationDoc(const CitationRow &row);
    void materializeStats(int64_t sinceNs);

    Store *store_;
    Registry *registry_;
    WorkConfig config_;
};

namespace work {
/* A registry entry as JSON: the owner lookup, the case file and the snapshot kept with a
 * case all show it the same way. */
nlohmann::json vehicleJson(const VehicleEntry &e);
} /* namespace work */

} /* namespace stopline::backoffice */

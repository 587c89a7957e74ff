#pragma once

/* Shared by the workflow implementation files only. */

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backoffice/workflows/casework.h"
#include "evidence.pb.h"

namespace stopline::backoffice {

/* A case after review (table case_files). */
struct CaseWork::FileRow
{
    bool exists = false;
    int64_t caseId = 0;
    std::string plate, state, plateSource;
    std::string ownership; /* ownershipKey, "" when the registry had no entry */
    std::string vehicle;   /* registry entry used for routing (JSON) */
    std::string facts = "{}";
    std::string stage = "review";
    std::string outcome = "open";
    std::string contactName, contactAddress, contactPhone; /* current contact information */
    int64_t routedNs = 0;
    int64_t updatedNs = 0;
};

struct CaseWork::CitationRow
{
    int64_t id = 0, caseId = 0;
    std::string number, kind, recipientRole, recipientName, recipientAddress, employee;
    int64_t amountCents = 0;
    std::string accessCode, status;
    int64_t createdNs = 0;
    std::string createdBy;
    int64_t mailedNs = 0, receivedNs = 0, dueNs = 0, supersedes = 0;
    std::string rule, pdfSha256;
    int64_t paidCents = 0;
};

/* Particulars a step brings along (who was named, which department, ...). */
struct CaseWork::StepExtras
{
    std::string name, address, phone;
    std::string department, contact;
    std::string employee;
    std::string note;
};

namespace work {

using nlohmann::json;
using FileRow = CaseWork::FileRow;
using CitationRow = CaseWork::CitationRow;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kDay = 86'400 * kSecond;

std::optional<FileRow> loadFile(SqlDb &db, int64_t caseId);
void saveFile(SqlDb &db, const FileRow &f);

extern const char *const kCitationColumns;
CitationRow citationFromRow(const Row &r);
std::vector<CitationRow> citationsOf(SqlDb &db, int64_t caseId);
std::optional<CitationRow> citationById(SqlDb &db, int64_t id);
json citationJson(const CitationRow &c);
/* Kinds someone pays: citations and reimbursements (notices and copies are not). */
bool payable(const std::string &kind);

/* "$136.00" */
std::string money(int64_t cents);
/* 136, 136.5, "136.50", "$136.00" → cents; false on anything else. */
bool parseMoney(const json &v, int64_t *cents);
/* `field` as "YYYY-MM-DD" (local noon that day; today → now), absent → now. Refuses
 * a date in the future or malformed with WorkError 422 naming the field. */
int64_t parseDay(const json &body, const char *field, int64_t now);
/* A string field: trimmed, at most `max` bytes; required ones refuse empty. */
std::string field(const json &body, const char *key, size_t max, bool required);
/* The body must be a JSON object. */
json object(const json &body);

/* Local "2026-03-19 14:05" for documents and reports. */
std::string localDateTime(int64_t ns);

/* The sealed record behind a case, parsed. */
bool loadRecord(Store *store, const CaseInfo &c, StoredRecord *stored, evidence::Record *record);

/* An entry back from its JSON (vehicleJson, casework.h), for the snapshot kept with the
 * case. */
std::optional<VehicleEntry> vehicleFromJson(const std::string &text);

/* Audit entry inside the transaction: target "case:ID". */
void audit(Store *store, SqlDb &db, const Actor &who, const std::string &action, int64_t caseId,
           const std::string &detail);

} /* namespace work */
} /* namespace stopline::backoffice */

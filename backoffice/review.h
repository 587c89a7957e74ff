#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backoffice/store/store.h"
#include "evidence.pb.h"
#include "evidence/keys.h"

namespace stopline::backoffice {

/* One line of the reviewer's checklist (policy "Citation review"). `proven` is what the
 * record itself establishes: true (pre-checked, with the evidence), false (the record
 * contradicts it: approval is impossible) or empty (only the officer's eyes can tell). */
struct ChecklistItem
{
    std::string key;
    std::string label;
    std::optional<bool> proven;
    std::string evidence;
};

/* Red light: light red, behind the line in the first photo, continues through, yellow
 * not short, plate legible, plate matches make/model/year, location and code. School
 * zone: beacons, limit marked, school in session, radar working, speed over, plate,
 * location and code. */
std::vector<ChecklistItem> checklistFor(const evidence::Record &record);

struct RejectReason
{
    const char *code;
    const char *label;
};
/* The rejection reason codes from practice (docs/evidence-integrity.md). */
const std::vector<RejectReason> &rejectReasons();
bool validReason(const std::string &code);

/* Domain prefix of the server's approval signature. */
inline constexpr std::string_view kApprovalDomain{"stopline-approval-v1\0", 21};

/* The statement an approval signs: the reviewer's identity and signature image hash,
 * the case, the record hash, the decision time. Serialized once (JSON) and signed as
 * those exact bytes, like a record. */
std::string approvalStatement(const CaseInfo &c, const StoredRecord &record,
                              const UserInfo &reviewer, int64_t decidedNs,
                              const nlohmann::json &checklist);

/* Checks an approval against the server key; false with a reason on any mismatch. */
bool checkApproval(const std::string &statement, const std::string &signature,
                   const evidence::PublicKey &serverKey, std::string *reason);

/* What the case page shows: the record's data bar, timeline, speed samples, frames
 * (by media hash), verification codes, checklist and decision. */
nlohmann::json caseJson(const CaseInfo &c, const StoredRecord &record,
                        const std::vector<std::string> &verification);

/* ISO-8601 UTC with milliseconds. */
std::string isoUtc(int64_t ns);

} /* namespace stopline::backoffice */

/* The business-rule table, one test per row (policy "Vehicle types"): the row chosen,
 * the task's owning role and due date, what is issued, and the refusals around each
 * row: the 18-day rental window on both sides of its last day, the fourth
 * reimbursement inside three years, the on-duty presumption. Dates are local to the
 * agency (America/Los_Angeles here, so a daylight-saving change falls inside a window). */

#include <cstdlib>
#include <ctime>
#include <set>
#include <string>

#include "backoffice/rules/rules.h"

#include <CppUTest/TestHarness.h>

using namespace stopline::backoffice;
using namespace stopline::backoffice::rules;

namespace {

constexpr int64_t kSec = 1'000'000'000;

/* Local wall-clock time in the agency's zone, written independently of rules.cpp. */
int64_t local(int y, int mo, int d, int h = 0, int mi = 0, int s = 0)
{
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    tm.tm_isdst = -1;
    return static_cast<int64_t>(std::mktime(&tm)) * kSec;
}

/* The last nanosecond of a local day. */
int64_t endOf(int y, int mo, int d)
{
    return local(y, mo, d + 1) - 1;
}

const RuleConfig kConfig; /* the policy's periods */

CaseFacts facts(std::optional<Ownership> o, const std::string &stage = "review")
{
    CaseFacts f;
    f.ownership = o;
    f.stage = stage;
    f.violationNs = local(2026, 3, 2, 8, 15); /* Monday 2 March 2026, 08:15 */
    return f;
}

StepInput step(Step s, int64_t at = local(2026, 3, 4, 10))
{
    StepInput in;
    in.step = s;
    in.atNs = at;
    return in;
}

Outcome must(const CaseFacts &f, const StepInput &in)
{
    Outcome o = decide(f, in, kConfig);
    if (!o.row)
        FAIL(("refused: " + o.refused).c_str());
    return o;
}

void expectRow(const Outcome &o, const char *id, Role role, Issue issue, int64_t due)
{
    STRCMP_EQUAL(id, o.row->id);
    STRCMP_EQUAL(roleKey(role), roleKey(o.row->role));
    STRCMP_EQUAL(issueKey(issue), issueKey(o.row->issue));
    CHECK_TEXT(o.dueNs == due, ("due " + localDate(o.dueNs) + " expected " + localDate(due) + " (" +
                                std::to_string(o.dueNs) + " vs " + std::to_string(due) + ")")
                                       .c_str());
}

void expectRefused(const CaseFacts &f, const StepInput &in, const char *words)
{
    Outcome o = decide(f, in, kConfig);
    CHECK_TEXT(o.row == nullptr,
               (std::string("should be refused, got ") + (o.row ? o.row->id : "?")).c_str());
    CHECK_TEXT(o.refused.find(words) != std::string::npos, o.refused.c_str());
}

/* Every row id tested below; a new row without a test fails EveryRowHasATest. */
const std::set<std::string> kTested = {
        "private",
        "private.driver_named",
        "private.not_driver",
        "commercial",
        "rental",
        "rental.notice_mailed",
        "rental.renter_named",
        "rental.window_lapsed",
        "government",
        "public_safety_other_agency",
        "city_owned",
        "city_owned.department",
        "police.lights",
        "police.no_lights",
        "unmarked.report_justified",
        "unmarked.report_not_justified",
        "off_duty.report",
        "ops.justified",
        "off_duty.justified",
        "ops.reimbursement",
        "ops.reimbursement_refused",
        "ops.discipline",
        "owner_unknown",
};

/* The rental notice of every rental test: mailed Tuesday 3 March, presumed received on
 * the third day (6 March), so the 18 days end with 24 March (daylight saving began on
 * 8 March: the window is counted in local days, not in 24-hour blocks). */
const int64_t kMailed = local(2026, 3, 3, 16, 30);

} /* namespace */

TEST_GROUP(RuleTable){void setup() override{setenv("TZ", "America/Los_Angeles", 1);
tzset();
}
}
;

TEST(RuleTable, EveryRowHasATest)
{
    std::set<std::string> ids;
    for (const RuleRow &r : ruleTable()) {
        CHECK_TEXT(ids.insert(r.id).second, (std::string("duplicate row ") + r.id).c_str());
        CHECK_TEXT(kTested.count(r.id), (std::string("row without a test: ") + r.id).c_str());
        CHECK(findRow(r.id) == &r);
        CHECK(*r.task && *r.then && *r.stage && *r.outcome);
    }
    LONGS_EQUAL(kTested.size(), ids.size());
}

TEST(RuleTable, PrivateCitationToTheRegisteredOwnerMailedWithin14Days)
{
    Outcome o = must(facts(Ownership::Private), step(Step::Approved));
    expectRow(o, "private", Role::Technician, Issue::CitationToOwner, endOf(2026, 3, 16));
    STRCMP_EQUAL("citation_owner", o.row->stage);
    CHECK(!o.row->needsReferral);
}

TEST(RuleTable, PrivateOwnerNamesTheDriverCitationAmended)
{
    Outcome o = must(facts(Ownership::Private, "citation_owner"),
                     step(Step::OwnerNamedDriver, local(2026, 3, 20, 11)));
    expectRow(o, "private.driver_named", Role::Technician, Issue::CitationToDriver,
              endOf(2026, 4, 3));
    /* Only a private owner may, and only while the owner's citation is outstanding. */
    expectRefused(facts(Ownership::Commercial, "citation_owner"), step(Step::OwnerNamedDriver),
                  "privately owned");
    expectRefused(facts(Ownership::Private, "citation_driver"), step(Step::OwnerNamedDriver),
                  "no citation to the registered owner");
}

TEST(RuleTable, PrivateOwnerSwearsNotTheDriverAdvisoryToDismiss)
{
    Outcome o = must(facts(Ownership::Private, "citation_owner"),
                     step(Step::OwnerNotDriver, local(2026, 3, 20, 11)));
    expectRow(o, "private.not_driver", Role::TrafficLieutenant, Issue::AdvisoryToDismiss,
              endOf(2026, 3, 27));
    STRCMP_EQUAL("dismissal", o.row->outcome);
}

TEST(RuleTable, CommercialCitationToTheRegisteredOwner)
{
    Outcome o = must(facts(Ownership::Commercial), step(Step::Approved));
    expectRow(o, "commercial", Role::Technician, Issue::CitationToOwner, endOf(2026, 3, 16));
}

TEST(RuleTable, RentalWrittenNoticeFirst)
{
    Outcome o = must(facts(Ownership::RentalLease), step(Step::Approved));
    expectRow(o, "rental", Role::Technician, Issue::RentalNotice, endOf(2026, 3, 16));
    STRCMP_EQUAL("notice", o.row->outcome);
}

TEST(RuleTable, RentalNoticeMailedStartsEighteenDaysFromReceipt)
{
    StepInput in = step(Step::NoticeMailed, kMailed);
    in.noticeMailedNs = kMailed;
    Outcome o = must(facts(Ownership::RentalLease, "rental_notice"), in);
    expectRow(o, "rental.notice_mailed", Role::Technician, Issue::None, endOf(2026, 3, 24));
    CHECK(o.windowEndsNs == endOf(2026, 3, 24));
    CHECK_TEXT(o.detail.find("2026-03-24") != std::string::npos, o.detail.c_str());
    CHECK_TEXT(o.detail.find("presumed") != std::string::npos, o.detail.c_str());
    /* With a known receipt date (certified mail) the window runs from it. */
    in.noticeReceivedNs = local(2026, 3, 10, 9);
    CHECK(must(facts(Ownership::RentalLease, "rental_notice"), in).dueNs == endOf(2026, 3, 28));
    expectRefused(facts(Ownership::RentalLease, "review"), in, "no written notice");
}

TEST(RuleTable, RentalRenterNamedOnTheEighteenthDayButNotAfter)
{
    CaseFacts f = facts(Ownership::RentalLease, "rental_window");
    StepInput in = step(Step::RenterNamed, local(2026, 3, 24, 23, 59, 59));
    in.noticeMailedNs = kMailed;
    Outcome o = must(f, in);
    expectRow(o, "rental.renter_named", Role::Technician, Issue::CitationToRenter,
              endOf(2026, 4, 7));
    /* One second into the 19th day: too late, the citation goes to the business. */
    in.atNs = local(2026, 3, 25, 0, 0, 0);
    expectRefused(f, in, "issue the citation to the rental business");
    expectRefused(f, in, "ended on 2026-03-24");
}

TEST(RuleTable, RentalWindowLapsedCitationToTheBusinessOnlyAfterTheEighteenthDay)
{
    CaseFacts f = facts(Ownership::RentalLease, "rental_window");
    StepInput in = step(Step::RentalWindowLapsed, endOf(2026, 3, 24));
    in.noticeMailedNs = kMailed;
    expectRefused(f, in, "has until the end of 2026-03-24");
    in.atNs = endOf(2026, 3, 24) + 1;
    Outcome o = must(f, in);
    expectRow(o, "rental.window_lapsed", Role::Technician, Issue::CitationToRentalBusiness,
              endOf(2026, 4, 8));
}

TEST(RuleTable, GovernmentNotPublicSafetyCitationToTheOwner)
{
    Outcome o = must(facts(Ownership::Government), step(Step::Approved));
    expectRow(o, "government", Role::Technician, Issue::CitationToOwner, endOf(2026, 3, 16));
}

TEST(RuleTable, OutsideAgencyPublicSafetyToTheTrafficLieutenantWithReferralRecord)
{
    Outcome o = must(facts(Ownership::PublicSafetyOtherAgency), step(Step::Approved));
    expectRow(o, "public_safety_other_agency", Role::TrafficLieutenant, Issue::CopyToAgency,
              endOf(2026, 3, 9));
    CHECK(o.row->needsReferral);
    STRCMP_EQUAL("referred", o.row->outcome);
}

TEST(RuleTable, CityOwnedFleetManagerIdentifiesTheDepartment)
{
    Outcome o = must(facts(Ownership::CityOwned), step(Step::Approved));
    expectRow(o, "city_owned", Role::ReviewingOfficer, Issue::HoldIssuance, endOf(2026, 3, 9));
    CHECK(std::string(o.row->task).find("Fleet Manager") != std::string::npos);
    STRCMP_EQUAL("fleet_manager", o.row->stage);
}

TEST(RuleTable, CityOwnedDepartmentContactAndLieutenantsRecord)
{
    Outcome o = must(facts(Ownership::CityOwned, "fleet_manager"),
                     step(Step::DepartmentIdentified, local(2026, 3, 5, 14)));
    expectRow(o, "city_owned.department", Role::TrafficLieutenant, Issue::CopyToDepartment,
              endOf(2026, 3, 12));
    CHECK(o.row->needsReferral);
    expectRefused(facts(Ownership::CityOwned, "review"), step(Step::DepartmentIdentified),
                  "not waiting for the Fleet Manager");
}

TEST(RuleTable, PoliceWithEmergencyLightsNoFurtherInquiry)
{
    CaseFacts f = facts(Ownership::PoliceMarked);
    f.emergencyLights = true;
    Outcome o = must(f, step(Step::Approved, local(2026, 3, 4, 10)));
    expectRow(o, "police.lights", Role::ReviewingOfficer, Issue::None, local(2026, 3, 4, 10));
    CHECK(o.row->closesAtOnce);
    STRCMP_EQUAL("closed", o.row->outcome);
    /* The reviewer must say: lights are what decides. */
    expectRefused(facts(Ownership::PoliceMarked), step(Step::Approved), "emergency lights");
}

TEST(RuleTable, PoliceWithoutEmergencyLightsOfficeOfProfessionalStandards)
{
    for (Ownership o : {Ownership::PoliceMarked, Ownership::PoliceUnmarked}) {
        CaseFacts f = facts(o);
        f.emergencyLights = false;
        Outcome out = must(f, step(Step::Approved));
        expectRow(out, "police.no_lights", Role::ProfessionalStandards, Issue::HoldIssuance,
                  endOf(2026, 4, 3));
        CHECK(out.detail.empty());
        f.onDuty = true; /* the presumption is put in front of OPS */
        CHECK_TEXT(must(f, step(Step::Approved)).detail.find("presumption") != std::string::npos,
                   "on-duty presumption noted");
    }
}

TEST(RuleTable, UnmarkedSupervisorReportJustifiedPreemptsIssuance)
{
    /* The report came first: it decides the row at approval, lights or not. */
    CaseFacts f = facts(Ownership::PoliceUnmarked);
    f.report = Report{Report::Kind::Supervisor, true};
    Outcome o = must(f, step(Step::Approved));
    expectRow(o, "unmarked.report_justified", Role::TrafficSectionCommander, Issue::CancelCitations,
              endOf(2026, 3, 6));
    STRCMP_EQUAL("preempted", o.row->outcome);
    /* The report comes while OPS already inquires: it still pre-empts. */
    StepInput in = step(Step::SupervisorReport);
    in.justified = true;
    STRCMP_EQUAL("unmarked.report_justified",
                 must(facts(Ownership::PoliceUnmarked, "ops_inquiry"), in).row->id);
    expectRefused(facts(Ownership::PoliceMarked, "ops_inquiry"), in, "unmarked");
    expectRefused(facts(Ownership::PoliceUnmarked, "cancelled"), in, "already settled");
}

TEST(RuleTable, UnmarkedSupervisorReportNotJustifiedGoesToOps)
{
    StepInput in = step(Step::SupervisorReport);
    in.justified = false;
    Outcome o = must(facts(Ownership::PoliceUnmarked, "ops_inquiry"), in);
    expectRow(o, "unmarked.report_not_justified", Role::ProfessionalStandards, Issue::HoldIssuance,
              endOf(2026, 4, 3));
    CaseFacts f = facts(Ownership::PoliceUnmarked);
    f.report = Report{Report::Kind::Supervisor, false};
    STRCMP_EQUAL("unmarked.report_not_justified", must(f, step(Step::Approved)).row->id);
}

TEST(RuleTable, OffDutyCompellingReasonReportHoldsIssuanceForOps)
{
    Outcome o = must(facts(Ownership::Private, "citation_owner"), step(Step::OffDutyReport));
    expectRow(o, "off_duty.report", Role::ProfessionalStandards, Issue::HoldIssuance,
              endOf(2026, 4, 3));
    STRCMP_EQUAL("off_duty_inquiry", o.row->stage);
    expectRefused(facts(Ownership::Private, "cancelled"), step(Step::OffDutyReport),
                  "already settled");
}

TEST(RuleTable, OpsJustifiedTicketCancelled)
{
    StepInput in = step(Step::OpsFinding, local(2026, 3, 30, 9));
    in.justified = true;
    Outcome o = must(facts(Ownership::PoliceMarked, "ops_inquiry"), in);
    expectRow(o, "ops.justified", Role::TrafficLieutenant, Issue::CancelCitations,
              endOf(2026, 4, 1));
    STRCMP_EQUAL("cancelled", o.row->outcome);
    expectRefused(facts(Ownership::PoliceMarked, "citation_owner"), in, "no inquiry");
}

TEST(RuleTable, OffDutyJustifiedTrafficSectionCommanderPreempts)
{
    StepInput in = step(Step::OpsFinding, local(2026, 3, 30, 9));
    in.justified = true;
    Outcome o = must(facts(Ownership::Private, "off_duty_inquiry"), in);
    expectRow(o, "off_duty.justified", Role::TrafficSectionCommander, Issue::CancelCitations,
              endOf(2026, 4, 1));
    STRCMP_EQUAL("preempted", o.row->outcome);
}

TEST(RuleTable, OpsNotJustifiedReimbursementUpToThreeTimes)
{
    StepInput in = step(Step::OpsFinding, local(2026, 3, 30, 9));
    in.reimburse = true;
    in.priorReimbursementsNs = {local(2024, 1, 10), local(2025, 6, 1)};
    Outcome o = must(facts(Ownership::PoliceMarked, "ops_inquiry"), in);
    expectRow(o, "ops.reimbursement", Role::Technician, Issue::Reimbursement, endOf(2026, 4, 29));
    CHECK_TEXT(o.detail.find("3 of 3") != std::string::npos, o.detail.c_str());
}

TEST(RuleTable, OpsNotJustifiedFourthReimbursementInsideThreeYearsRefused)
{
    StepInput in = step(Step::OpsFinding, local(2026, 3, 30, 9));
    in.reimburse = true;
    in.priorReimbursementsNs = {local(2023, 4, 2, 12), local(2024, 11, 5), local(2025, 6, 1)};
    Outcome o = must(facts(Ownership::PoliceUnmarked, "ops_inquiry"), in);
    expectRow(o, "ops.reimbursement_refused", Role::ProfessionalStandards, Issue::None,
              endOf(2026, 4, 29));
    CHECK_TEXT(o.detail.find("3 reimbursements within 3 years") != std::string::npos,
               o.detail.c_str());
    CHECK_TEXT(o.detail.find("after 2026-04-02") != std::string::npos, o.detail.c_str());
    /* The window revolves: once the oldest is more than three years old, it is allowed. */
    in.atNs = local(2026, 4, 2, 12, 0, 1);
    STRCMP_EQUAL("ops.reimbursement",
                 must(facts(Ownership::PoliceUnmarked, "ops_inquiry"), in).row->id);
    /* Off duty too: the same option, the same limit. */
    in.atNs = local(2026, 3, 30, 9);
    STRCMP_EQUAL("ops.reimbursement_refused",
                 must(facts(Ownership::Private, "off_duty_inquiry"), in).row->id);
}

TEST(RuleTable, OpsNotJustifiedDisciplineAndTheOnDutyPresumption)
{
    StepInput in = step(Step::OpsFinding, local(2026, 3, 30, 9));
    Outcome o = must(facts(Ownership::PoliceMarked, "ops_inquiry"), in);
    expectRow(o, "ops.discipline", Role::ProfessionalStandards, Issue::None, endOf(2026, 4, 29));
    CaseFacts onDuty = facts(Ownership::PoliceMarked, "ops_inquiry");
    onDuty.onDuty = true;
    expectRefused(onDuty, in, "presumed justified");
    in.rebuttal = "no call for service; video shows no urgency";
    STRCMP_EQUAL("ops.discipline", must(onDuty, in).row->id);
}

TEST(RuleTable, OwnerUnknownTechnicianResearchesBeforeTheMailingDeadline)
{
    Outcome o = must(facts(std::nullopt), step(Step::Approved));
    expectRow(o, "owner_unknown", Role::Technician, Issue::None, endOf(2026, 3, 16));
    /* After research the case is routed again from owner_unknown, once. */
    STRCMP_EQUAL("private",
                 must(facts(Ownership::Private, "owner_unknown"), step(Step::Approved)).row->id);
    expectRefused(facts(Ownership::Private, "citation_owner"), step(Step::Approved),
                  "already routed");
}

#include "backoffice/rules/rules.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace stopline::backoffice::rules {

namespace {

constexpr int64_t kSecond = 1'000'000'000;

/* The table. Quoted words are the policy's. */
const std::vector<RuleRow> kTable = {
        {"private", "Privately owned vehicle", "approved",
         "A citation is mailed to the registered owner", Step::Approved, Issue::CitationToOwner,
         Role::Technician, "Mail the citation to the registered owner", DueFrom::Violation,
         Deadline::Mail, false, false, "citation_owner", "citation"},
        {"private.driver_named", "Privately owned vehicle",
         "the registered owner names the driver (and/or swears they were not the driver)",
         "The original citation is amended in the name of the actual driver",
         Step::OwnerNamedDriver, Issue::CitationToDriver, Role::Technician,
         "Mail the amended citation to the named driver", DueFrom::Event, Deadline::Mail, false,
         false, "citation_driver", "citation"},
        {"private.not_driver", "Privately owned vehicle",
         "the registered owner swears under oath they were not the driver and names nobody",
         "The owner requests that the ticket be dismissed: Advisory to Dismiss to the court",
         Step::OwnerNotDriver, Issue::AdvisoryToDismiss, Role::TrafficLieutenant,
         "Submit the Advisory to Dismiss to the court", DueFrom::Event, Deadline::Referral, false,
         false, "dismissal", "dismissal"},
        {"commercial", "Commercial vehicle", "approved",
         "A citation is issued to the registered owner", Step::Approved, Issue::CitationToOwner,
         Role::Technician, "Mail the citation to the registered owner", DueFrom::Violation,
         Deadline::Mail, false, false, "citation_owner", "citation"},
        {"rental", "Rental / leased vehicle", "approved",
         "Written notice to the rental car business that a citation may be issued to it unless "
         "it names the driver or renter within eighteen days",
         Step::Approved, Issue::RentalNotice, Role::Technician,
         "Mail the written notice to the rental business", DueFrom::Violation, Deadline::Mail,
         false, false, "rental_notice", "notice"},
        {"rental.notice_mailed", "Rental / leased vehicle", "the written notice was mailed",
         "The rental business has eighteen days from receiving the notice to provide the name "
         "and known mailing address of the driver or renter",
         Step::NoticeMailed, Issue::None, Role::Technician,
         "Wait for the rental business to name the driver", DueFrom::Receipt,
         Deadline::RentalWindow, false, false, "rental_window", "notice"},
        {"rental.renter_named", "Rental / leased vehicle",
         "the business names the renter within eighteen days of receiving the notice",
         "The citation is issued to the renter (mailed within 14 days of establishing the name)",
         Step::RenterNamed, Issue::CitationToRenter, Role::Technician,
         "Mail the citation to the renter", DueFrom::Event, Deadline::Mail, false, false,
         "citation_renter", "citation"},
        {"rental.window_lapsed", "Rental / leased vehicle",
         "eighteen days passed after receipt without a name",
         "A citation is issued to the rental car business", Step::RentalWindowLapsed,
         Issue::CitationToRentalBusiness, Role::Technician,
         "Mail the citation to the rental business", DueFrom::Event, Deadline::Mail, false, false,
         "citation_rental_business", "citation"},
        {"government", "Government vehicle, not public safety", "approved",
         "A citation is issued to the registered owner", Step::Approved, Issue::CitationToOwner,
         Role::Technician, "Mail the citation to the registered owner", DueFrom::Violation,
         Deadline::Mail, false, false, "citation_owner", "citation"},
        {"public_safety_other_agency", "Public safety vehicle of an outside agency", "approved",
         "Directed to the Traffic Lieutenant; the agency contact is notified with a copy of the "
         "citation; the Lieutenant records the date of referral, the person contacted and the "
         "disposition",
         Step::Approved, Issue::CopyToAgency, Role::TrafficLieutenant,
         "Notify the agency contact with a copy of the citation and record the referral",
         DueFrom::Violation, Deadline::Referral, true, false, "agency_referral", "referred"},
        {"city_owned", "Vehicle owned by the City", "approved",
         "The reviewing officer identifies the department by contacting the Fleet Manager",
         Step::Approved, Issue::HoldIssuance, Role::ReviewingOfficer,
         "Identify the department through the Fleet Manager", DueFrom::Violation,
         Deadline::Referral, false, false, "fleet_manager", "open"},
        {"city_owned.department", "Vehicle owned by the City", "the department is identified",
         "The citation is forwarded to the pre-arranged department contact; the Traffic "
         "Lieutenant records the date of referral, the person contacted and the disposition",
         Step::DepartmentIdentified, Issue::CopyToDepartment, Role::TrafficLieutenant,
         "Forward the citation to the department contact and record the referral", DueFrom::Event,
         Deadline::Referral, true, false, "department_referral", "referred"},
        {"police.lights", "Police department vehicle",
         "emergency lights activated, with safe speed and caution evident",
         "Not cause for further inquiry or documentation", Step::Approved, Issue::None,
         Role::ReviewingOfficer, "No further inquiry: emergency lights activated", DueFrom::Event,
         Deadline::Now, false, true, "closed_lights", "closed"},
        {"police.no_lights", "Police department vehicle (marked or unmarked)",
         "emergency equipment not activated (or none), on or off duty",
         "Directed to the Office of Professional Standards for inquiry into the circumstances",
         Step::Approved, Issue::HoldIssuance, Role::ProfessionalStandards,
         "Inquire into the circumstances", DueFrom::Event, Deadline::Inquiry, false, false,
         "ops_inquiry", "inquiry"},
        {"unmarked.report_justified", "Unmarked or undercover police vehicle",
         "the employee's supervisor reports it justified in the course of duties, with safety "
         "and caution",
         "Reported to the Traffic Section Commander, who pre-empts the ticket issuance",
         Step::SupervisorReport, Issue::CancelCitations, Role::TrafficSectionCommander,
         "Pre-empt the ticket issuance (supervisor's report)", DueFrom::Event, Deadline::Preempt,
         false, false, "preempted", "preempted"},
        {"unmarked.report_not_justified", "Unmarked or undercover police vehicle",
         "the supervisor reports it not justified, or without safety and caution",
         "Reported to the Office of Professional Standards", Step::SupervisorReport,
         Issue::HoldIssuance, Role::ProfessionalStandards,
         "Inquire into the circumstances (supervisor's report)", DueFrom::Event, Deadline::Inquiry,
         false, false, "ops_inquiry", "inquiry"},
        {"off_duty.report", "Off-duty department member (private or department vehicle)",
         "the member reports a compelling reason through the chain of command",
         "Directed to the Office of Professional Standards for inquiry", Step::OffDutyReport,
         Issue::HoldIssuance, Role::ProfessionalStandards,
         "Inquire into the compelling reason (off-duty report)", DueFrom::Event, Deadline::Inquiry,
         false, false, "off_duty_inquiry", "inquiry"},
        {"ops.justified", "Police department vehicle", "OPS deems the violation justified",
         "The ticket is cancelled or rescinded", Step::OpsFinding, Issue::CancelCitations,
         Role::TrafficLieutenant, "Cancel or rescind the ticket", DueFrom::Event, Deadline::Preempt,
         false, false, "cancelled", "cancelled"},
        {"off_duty.justified", "Off-duty department member", "OPS deems the violation justified",
         "OPS notifies the Traffic Section Commander, who pre-empts issuance of the ticket",
         Step::OpsFinding, Issue::CancelCitations, Role::TrafficSectionCommander,
         "Pre-empt issuance of the ticket (OPS: justified)", DueFrom::Event, Deadline::Preempt,
         false, false, "preempted", "preempted"},
        {"ops.reimbursement", "Department member",
         "not justified; the employee elects to reimburse, fewer than three times in the last "
         "three years",
         "The employee reimburses the City for the cost of the ticket, in lieu of discipline",
         Step::OpsFinding, Issue::Reimbursement, Role::Technician,
         "Track the employee's reimbursement to the City", DueFrom::Event, Deadline::Payment, false,
         false, "reimbursement", "reimbursement"},
        {"ops.reimbursement_refused", "Department member",
         "not justified; the employee elects to reimburse but already did three times in the "
         "revolving three-year window",
         "Reimbursement is not available: appropriate discipline may be imposed", Step::OpsFinding,
         Issue::None, Role::ProfessionalStandards,
         "Discipline or training: reimbursement limit reached", DueFrom::Event, Deadline::Inquiry,
         false, false, "discipline", "discipline"},
        {"ops.discipline", "Department member",
         "not justified; the employee does not elect to reimburse",
         "Appropriate discipline may be imposed; training may be required", Step::OpsFinding,
         Issue::None, Role::ProfessionalStandards, "Discipline or training", DueFrom::Event,
         Deadline::Inquiry, false, false, "discipline", "discipline"},
        {"owner_unknown", "Any", "no registry entry for the plate and state",
         "The technician researches the owner before the mailing deadline", Step::Approved,
         Issue::None, Role::Technician, "Research the owner (no registry entry)",
         DueFrom::Violation, Deadline::Mail, false, false, "owner_unknown", "open"},
};

int deadlineDays(Deadline d, const RuleConfig &c)
{
    switch (d) {
    case Deadline::Now:
        return 0;
    case Deadline::Mail:
        return c.mailDays;
    case Deadline::RentalWindow:
        return c.rentalWindowDays;
    case Deadline::Referral:
        return c.referralDays;
    case Deadline::Inquiry:
        return c.inquiryDays;
    case Deadline::Preempt:
        return c.preemptDays;
    case Deadline::Payment:
        return c.paymentDays;
    }
    return 0;
}

bool in(const std::string &stage, std::initializer_list<const char *> stages)
{
    for (const char *s : stages)
        if (stage == s)
            return true;
    return false;
}

Outcome refuse(const std::string &why)
{
    Outcome o;
    o.refused = why;
    return o;
}

/* Stages in which no citation has been settled yet, so a report can still pre-empt. */
const std::initializer_list<const char *> kOpenStages = {
        "review",          "owner_unknown",   "citation_owner",
        "citation_driver", "citation_renter", "citation_rental_business",
        "rental_notice",   "rental_window",   "ops_inquiry"};

const char *approvedRow(const CaseFacts &f)
{
    if (!f.ownership)
        return "owner_unknown";
    switch (*f.ownership) {
    case Ownership::Private:
        return "private";
    case Ownership::Commercial:
        return "commercial";
    case Ownership::RentalLease:
        return "rental";
    case Ownership::Government:
        return "government";
    case Ownership::PublicSafetyOtherAgency:
        return "public_safety_other_agency";
    case Ownership::CityOwned:
        return "city_owned";
    case Ownership::PoliceMarked:
    case Ownership::PoliceUnmarked:
        if (f.report && f.report->kind == Report::Kind::Supervisor &&
            *f.ownership == Ownership::PoliceUnmarked)
            return f.report->justified ? "unmarked.report_justified"
                                       : "unmarked.report_not_justified";
        return f.emergencyLights.value_or(false) ? "police.lights" : "police.no_lights";
    }
    return "owner_unknown";
}

} /* namespace */

const char *roleKey(Role r)
{
    switch (r) {
    case Role::Technician:
        return "technician";
    case Role::ReviewingOfficer:
        return "reviewing_officer";
    case Role::TrafficLieutenant:
        return "traffic_lieutenant";
    case Role::ProfessionalStandards:
        return "professional_standards";
    case Role::TrafficSectionCommander:
        return "traffic_section_commander";
    }
    return "";
}

const char *roleLabel(Role r)
{
    switch (r) {
    case Role::Technician:
        return "Photo enforcement technician";
    case Role::ReviewingOfficer:
        return "Reviewing officer";
    case Role::TrafficLieutenant:
        return "Traffic Lieutenant";
    case Role::ProfessionalStandards:
        return "Office of Professional Standards";
    case Role::TrafficSectionCommander:
        return "Traffic Section Commander";
    }
    return "";
}

const char *stepKey(Step s)
{
    switch (s) {
    case Step::Approved:
        return "approved";
    case Step::OwnerNamedDriver:
        return "owner_named_driver";
    case Step::OwnerNotDriver:
        return "owner_not_driver";
    case Step::NoticeMailed:
        return "notice_mailed";
    case Step::RenterNamed:
        return "renter_named";
    case Step::RentalWindowLapsed:
        return "rental_window_lapsed";
    case Step::DepartmentIdentified:
        return "department_identified";
    case Step::SupervisorReport:
        return "supervisor_report";
    case Step::OffDutyReport:
        return "off_duty_report";
    case Step::OpsFinding:
        return "ops_finding";
    }
    return "";
}

const char *issueKey(Issue i)
{
    switch (i) {
    case Issue::None:
        return "none";
    case Issue::CitationToOwner:
        return "citation_to_owner";
    case Issue::CitationToDriver:
        return "citation_to_driver";
    case Issue::RentalNotice:
        return "rental_notice";
    case Issue::CitationToRenter:
        return "citation_to_renter";
    case Issue::CitationToRentalBusiness:
        return "citation_to_rental_business";
    case Issue::CopyToAgency:
        return "copy_to_agency";
    case Issue::CopyToDepartment:
        return "copy_to_department";
    case Issue::AdvisoryToDismiss:
        return "advisory_to_dismiss";
    case Issue::HoldIssuance:
        return "hold_issuance";
    case Issue::CancelCitations:
        return "cancel_citations";
    case Issue::Reimbursement:
        return "reimbursement";
    }
    return "";
}

const std::vector<RuleRow> &ruleTable()
{
    return kTable;
}

const RuleRow *findRow(const std::string &id)
{
    for (const RuleRow &r : kTable)
        if (id == r.id)
            return &r;
    return nullptr;
}

int64_t endOfLocalDay(int64_t ns, int days)
{
    std::time_t t = static_cast<std::time_t>(ns / kSecond);
    std::tm tm{};
    localtime_r(&t, &tm);
    tm.tm_mday += days + 1; /* the start of the following day... */
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return static_cast<int64_t>(std::mktime(&tm)) * kSecond - 1; /* ...less one nanosecond */
}

int64_t yearsBefore(int64_t ns, int years)
{
    std::time_t t = static_cast<std::time_t>(ns / kSecond);
    std::tm tm{};
    localtime_r(&t, &tm);
    tm.tm_year -= years;
    tm.tm_isdst = -1;
    return static_cast<int64_t>(std::mktime(&tm)) * kSecond + ns % kSecond;
}

std::string localDate(int64_t ns)
{
    std::time_t t = static_cast<std::time_t>(ns / kSecond);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    return buf;
}

int64_t rentalWindowEnd(int64_t mailedNs, int64_t receivedNs, const RuleConfig &config)
{
    int64_t received = receivedNs
                               ? receivedNs
                               : mailedNs + int64_t{config.presumedDeliveryDays} * 86'400 * kSecond;
    return endOfLocalDay(received, config.rentalWindowDays);
}

Outcome decide(const CaseFacts &f, const StepInput &in, const RuleConfig &config)
{
    const char *id = nullptr;
    Outcome out;
    switch (in.step) {
    case Step::Approved:
        if (!rules::in(f.stage, {"review", "owner_unknown"}))
            return refuse("the case was already routed (stage " + f.stage + ")");
        if (f.ownership && isPolice(*f.ownership) && !f.emergencyLights &&
            !(f.report && f.report->kind == Report::Kind::Supervisor &&
              *f.ownership == Ownership::PoliceUnmarked))
            return refuse("a police department vehicle: say whether its emergency lights "
                          "were activated");
        id = approvedRow(f);
        if (std::string(id) == "police.no_lights" && f.onDuty.value_or(false))
            out.detail = "on duty: rebuttable presumption that the violation is justified";
        break;
    case Step::OwnerNamedDriver:
    case Step::OwnerNotDriver:
        if (f.ownership != Ownership::Private)
            return refuse("only the registered owner of a privately owned vehicle may name the "
                          "driver or declare they were not driving (policy: Privately Owned "
                          "Vehicles)");
        if (f.stage != "citation_owner")
            return refuse("no citation to the registered owner is outstanding (stage " + f.stage +
                          ")");
        id = in.step == Step::OwnerNamedDriver ? "private.driver_named" : "private.not_driver";
        break;
    case Step::NoticeMailed: {
        if (f.stage != "rental_notice")
            return refuse("no written notice to a rental business is waiting to be mailed");
        id = "rental.notice_mailed";
        out.windowEndsNs = rentalWindowEnd(in.noticeMailedNs, in.noticeReceivedNs, config);
        out.detail = "the rental business has until the end of " + localDate(out.windowEndsNs) +
                     " to name the driver (received " +
                     localDate(in.noticeReceivedNs
                                       ? in.noticeReceivedNs
                                       : in.noticeMailedNs + int64_t{config.presumedDeliveryDays} *
                                                                     86'400 * kSecond) +
                     (in.noticeReceivedNs ? "" : ", presumed") + ")";
        break;
    }
    case Step::RenterNamed:
    case Step::RentalWindowLapsed: {
        if (f.stage != "rental_window")
            return refuse("no rental notice is waiting for an answer (stage " + f.stage + ")");
        int64_t end = rentalWindowEnd(in.noticeMailedNs, in.noticeReceivedNs, config);
        out.windowEndsNs = end;
        if (in.step == Step::RenterNamed && in.atNs > end)
            return refuse("the rental business named the renter on " + localDate(in.atNs) +
                          ", after its " + std::to_string(config.rentalWindowDays) +
                          " days ended on " + localDate(end) +
                          ": issue the citation to the rental business");
        if (in.step == Step::RentalWindowLapsed && in.atNs <= end)
            return refuse("the rental business has until the end of " + localDate(end) +
                          " to name the renter");
        id = in.step == Step::RenterNamed ? "rental.renter_named" : "rental.window_lapsed";
        break;
    }
    case Step::DepartmentIdentified:
        if (f.stage != "fleet_manager")
            return refuse("the case is not waiting for the Fleet Manager (stage " + f.stage + ")");
        id = "city_owned.department";
        break;
    case Step::SupervisorReport:
        if (f.ownership != Ownership::PoliceUnmarked)
            return refuse("a supervisor's report applies to unmarked or undercover department "
                          "vehicles");
        if (!rules::in(f.stage, kOpenStages))
            return refuse("the case is already settled (stage " + f.stage + ")");
        id = in.justified ? "unmarked.report_justified" : "unmarked.report_not_justified";
        break;
    case Step::OffDutyReport:
        if (!rules::in(f.stage, kOpenStages))
            return refuse("the case is already settled (stage " + f.stage + ")");
        id = "off_duty.report";
        break;
    case Step::OpsFinding: {
        if (!rules::in(f.stage, {"ops_inquiry", "off_duty_inquiry"}))
            return refuse("no inquiry by the Office of Professional Standards is open (stage " +
                          f.stage + ")");
        bool offDuty = f.stage == "off_duty_inquiry";
        if (in.justified) {
            id = offDuty ? "off_duty.justified" : "ops.justified";
            break;
        }
        /* "There will be a rebuttable presumption that apparent violations are justified
         * when on-duty vehicles are involved." */
        if (!offDuty && f.onDuty.value_or(false) && in.rebuttal.empty())
            return refuse("an on-duty vehicle is presumed justified: a finding of not justified "
                          "needs the rebuttal");
        if (!in.reimburse) {
            id = "ops.discipline";
            break;
        }
        int64_t since = yearsBefore(in.atNs, config.reimbursementWindowYears);
        std::vector<int64_t> inWindow;
        for (int64_t t : in.priorReimbursementsNs)
            if (t > since && t <= in.atNs)
                inWindow.push_back(t);
        std::sort(inWindow.begin(), inWindow.end());
        if (static_cast<int>(inWindow.size()) >= config.reimbursementLimit) {
            id = "ops.reimbursement_refused";
            std::string dates;
            for (int64_t t : inWindow)
                dates += (dates.empty() ? "" : ", ") + localDate(t);
            /* The oldest that counts leaves the window that many years after it. */
            int64_t next = inWindow[inWindow.size() - config.reimbursementLimit];
            std::time_t tt = static_cast<std::time_t>(next / kSecond);
            std::tm tm{};
            localtime_r(&tt, &tm);
            tm.tm_year += config.reimbursementWindowYears;
            tm.tm_isdst = -1;
            out.detail = "reimbursement refused: " + std::to_string(inWindow.size()) +
                         " reimbursements within " +
                         std::to_string(config.reimbursementWindowYears) + " years (" + dates +
                         "); the next is possible after " +
                         localDate(static_cast<int64_t>(std::mktime(&tm)) * kSecond);
        } else {
            id = "ops.reimbursement";
            out.detail = "reimbursement " + std::to_string(inWindow.size() + 1) + " of " +
                         std::to_string(config.reimbursementLimit) + " within " +
                         std::to_string(config.reimbursementWindowYears) + " years";
        }
        break;
    }
    }
    out.row = findRow(id);
    const RuleRow &r = *out.row;
    int days = deadlineDays(r.deadline, config);
    if (r.dueFrom == DueFrom::Receipt)
        out.dueNs = out.windowEndsNs;
    else if (r.deadline == Deadline::Now)
        out.dueNs = in.atNs;
    else
        out.dueNs = endOfLocalDay(r.dueFrom == DueFrom::Violation ? f.violationNs : in.atNs, days);
    return out;
}

} /* namespace stopline::backoffice::rules */

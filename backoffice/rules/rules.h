#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backoffice/registry/registry.h"

/* The agency's business rules ("Photo Enforcement Program Business Rules", section
 * "Vehicle types"; see docs/agency-policy.md) as one explicit table: each
 * row names the vehicle type or situation, what the policy says happens, the task it
 * creates, who owns that task and when it is due. decide() only chooses a row; the
 * workflows module applies it to the store. Pure: no I/O, no clock of its own. */
namespace stopline::backoffice::rules {

/* Owning roles of tasks: the people the policy names, not login roles. */
enum class Role {
    Technician,              /* photo enforcement technician */
    ReviewingOfficer,        /* the officer or supervisor who reviewed the case */
    TrafficLieutenant,       /* Traffic Unit Lieutenant (or designee) */
    ProfessionalStandards,   /* Office of Professional Standards */
    TrafficSectionCommander, /* pre-empts issuance by the contractor */
};
const char *roleKey(Role r);
const char *roleLabel(Role r);

/* What happened to a case, in the order of the policy's paragraphs. */
enum class Step {
    Approved,             /* an authorized reviewer approved the violation */
    OwnerNamedDriver,     /* private: the registered owner names the driver */
    OwnerNotDriver,       /* private: swears they were not the driver, names nobody */
    NoticeMailed,         /* rental: the written notice went out */
    RenterNamed,          /* rental: the business names the renter */
    RentalWindowLapsed,   /* rental: no name within the window */
    DepartmentIdentified, /* city-owned: the Fleet Manager named the department */
    SupervisorReport,     /* unmarked: the employee's supervisor reported it */
    OffDutyReport,        /* off duty: reported through the chain of command */
    OpsFinding,           /* Office of Professional Standards: justified or not */
};
const char *stepKey(Step s);

/* The document or change a row makes. */
enum class Issue {
    None,
    CitationToOwner,          /* notice of infraction to the registered owner */
    CitationToDriver,         /* amended citation to the named driver (private) */
    RentalNotice,             /* written notice to the rental business */
    CitationToRenter,         /* citation to the renter the business named */
    CitationToRentalBusiness, /* the business named nobody in time */
    CopyToAgency,             /* copy of the citation to the outside agency's contact */
    CopyToDepartment,         /* copy to the city department's contact */
    AdvisoryToDismiss,        /* the owner's citation goes back to the court */
    HoldIssuance,             /* nothing is mailed while an inquiry runs */
    CancelCitations,          /* cancelled, rescinded or pre-empted */
    Reimbursement,            /* the employee reimburses the City instead of discipline */
};
const char *issueKey(Issue i);

/* Which configured period a task's due date uses. */
enum class Deadline { Now, Mail, RentalWindow, Referral, Inquiry, Preempt, Payment };
/* What a due date counts from. */
enum class DueFrom { Violation, Event, Receipt };

struct RuleRow
{
    const char *id;
    const char *vehicle; /* vehicle type or situation, as the policy names it */
    const char *when;
    const char *then; /* the policy's outcome */
    Step step;
    Issue issue;
    Role role;        /* owner of the task */
    const char *task; /* task title */
    DueFrom dueFrom;
    Deadline deadline;
    bool needsReferral; /* closed by a referral record (date, person contacted, disposition) */
    bool closesAtOnce;  /* nothing left to do: the task is recorded as done */
    const char *stage;  /* where the case stands afterwards */
    const char *outcome;
};

/* Every row, in policy order. */
const std::vector<RuleRow> &ruleTable();
const RuleRow *findRow(const std::string &id);

/* Periods, in days unless said otherwise. */
struct RuleConfig
{
    /* Notice mailed within 14 days of the violation, or of establishing the renter's
     * name (RCW 46.63.170; e.g. Aberdeen MC 10.04.100 B). */
    int mailDays = 14;
    int rentalWindowDays = 18;    /* policy: eighteen days of receiving the notice */
    int presumedDeliveryDays = 3; /* mail deemed received on the third day (WA CR 5(b)(2)(A)) */
    int referralDays = 7;
    int inquiryDays = 30;
    int preemptDays = 2; /* "as soon as possible" */
    int paymentDays = 30;
    int reimbursementLimit = 3;       /* "only three times ..." */
    int reimbursementWindowYears = 3; /* "... in a revolving three year window" */
};

/* An employee's report that arrived for this case (before or after approval). */
struct Report
{
    enum class Kind { Supervisor, OffDuty } kind = Kind::Supervisor;
    bool justified = false; /* supervisor: justified in the course of duties, with safety */
};

/* What the rules look at. */
struct CaseFacts
{
    std::optional<Ownership> ownership;  /* empty: no registry entry */
    std::optional<bool> emergencyLights; /* police vehicles: the reviewer says */
    std::optional<bool> onDuty;          /* police vehicles: when known */
    std::optional<Report> report;
    std::string stage = "review";
    int64_t violationNs = 0;
};

struct StepInput
{
    Step step = Step::Approved;
    int64_t atNs = 0;             /* when it happened */
    int64_t noticeMailedNs = 0;   /* rental */
    int64_t noticeReceivedNs = 0; /* rental: 0 = presumed from the mailing date */
    bool justified = false;       /* OPS finding, report */
    bool reimburse = false;       /* not justified: the employee elects to reimburse */
    std::string rebuttal;         /* not justified although on duty: why */
    std::vector<int64_t> priorReimbursementsNs; /* the same employee's, any age */
};

struct Outcome
{
    const RuleRow *row = nullptr; /* null: the step cannot apply (see `refused`) */
    std::string refused;
    int64_t dueNs = 0;        /* the task's due date (end of that local day) */
    int64_t windowEndsNs = 0; /* rental: last instant of the naming window */
    std::string detail;       /* particulars for the task: dates, presumptions, counts */
};

/* Chooses the row for `input` in the case's current situation, or says why the step
 * does not apply (wrong stage, rental window still open or already closed, on-duty
 * presumption not rebutted). */
Outcome decide(const CaseFacts &facts, const StepInput &input, const RuleConfig &config);

/* End of the local calendar day `days` after the day of `ns` (the agency's time zone
 * is the server's TZ): a deadline "within N days" includes the whole Nth day. */
int64_t endOfLocalDay(int64_t ns, int days);
/* The same local date and time `years` earlier (29 February becomes 1 March). */
int64_t yearsBefore(int64_t ns, int years);
/* "2026-03-19" in local time. */
std::string localDate(int64_t ns);

/* The end of the rental window for a notice mailed at `mailedNs` and received at
 * `receivedNs` (0: presumed delivery). */
int64_t rentalWindowEnd(int64_t mailedNs, int64_t receivedNs, const RuleConfig &config);

} /* namespace stopline::backoffice::rules */

#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "backoffice/http_server.h"
#include "backoffice/ingest.h"
#include "backoffice/registry/registry.h"
#include "backoffice/request_limits.h"
#include "backoffice/store/store.h"
#include "backoffice/workflows/casework.h"
#include "evidence/keys.h"

namespace stopline::backoffice {

/* Who is asking, as far as authorization is concerned. A reviewer or supervisor is
 * "signed" when authorized and with a digitized signature on file: only they may
 * conduct reviews (policy "Citation review"). */
enum Grant : unsigned {
    kAnonymous = 1u << 0,
    kDevice = 1u << 1,
    kTechnician = 1u << 2,
    kReviewerUnsigned = 1u << 3,
    kReviewer = 1u << 4,
    kSupervisorUnsigned = 1u << 5,
    kSupervisor = 1u << 6,
    kAdmin = 1u << 7,
};
inline constexpr unsigned kAnyUser =
        kTechnician | kReviewerUnsigned | kReviewer | kSupervisorUnsigned | kSupervisor | kAdmin;
inline constexpr unsigned kEveryone = kAnonymous | kDevice | kAnyUser;

enum class BodyFormat { Json, Binary };

/* One line of the route table: the only place that says who may do what, and how
 * large a body it takes. The authorization-matrix test walks this table, so a new
 * route cannot be forgotten. */
struct RouteSpec
{
    const char *method;
    const char *pattern; /* "/api/v1/cases/{id}" */
    unsigned allow;      /* Grant bits */
    const char *summary;
    size_t maxBody = kMaxJsonBody; /* 0: only the server's --max-body-mib */
    BodyFormat body = BodyFormat::Json;
};

const std::vector<RouteSpec> &routeTable();

/* Matches `path` against a pattern; fills {name} parameters. */
bool matchRoute(const std::string &pattern, const std::string &path,
                std::map<std::string, std::string> *params);

struct AppConfig
{
    std::string serverId = "stopline-backoffice";
    int64_t leaseNs = 15LL * 60 * 1'000'000'000;     /* a case stays reserved this long */
    int64_t sessionNs = 12LL * 3600 * 1'000'000'000; /* one shift */
    WorkConfig work;                                 /* business rules and workflows */
};

/* The back-office's HTTP application: authentication (session cookie, device token,
 * client certificate), authorization from the route table, CSRF, and the handlers of
 * ingest, queue, cases, audit and administration. Thread-safe: state lives in the
 * store. */
class BackofficeApp
{
public:
    /* Both borrowed; they outlive the app. */
    BackofficeApp(Store *store, const evidence::SigningKey *serverKey, AppConfig config);

    HttpResponse handle(const HttpRequest &request);

    struct Principal
    {
        Grant grant = kAnonymous;
        std::string name; /* user name or device id */
        UserInfo user;
        SessionInfo session;
        bool viaSession = false;
    };

private:
    struct Context
    {
        const HttpRequest &req;
        Principal who;
        std::map<std::string, std::string> params;
    };
    using Handler = HttpResponse (BackofficeApp::*)(Context &);
    /* One step of the case work on `/…/{id}` with a JSON body: the shape of most
     * issue-7 routes. */
    using WorkStep = nlohmann::json (CaseWork::*)(int64_t, const nlohmann::json &, const Actor &);
    HttpResponse workStep(Context &ctx, WorkStep step, int status, const char *idName = "case id");

    HttpResponse refuseHostileInput(const HttpRequest &req);
    HttpResponse refuseHostileBody(const HttpRequest &req, const RouteSpec &route);
    HttpResponse authenticate(const HttpRequest &req, Principal *who);
    void audit(Context &ctx, const std::string &action, const std::string &target,
               const std::string &detail = {});

    HttpResponse index(Context &);
    HttpResponse asset(Context &);
    HttpResponse health(Context &);
    HttpResponse serverKey(Context &);
    HttpResponse login(Context &);
    HttpResponse logout(Context &);
    HttpResponse sessionInfo(Context &);
    HttpResponse postRecord(Context &);
    HttpResponse postCheckpoint(Context &);
    HttpResponse postHeartbeat(Context &);
    HttpResponse queue(Context &);
    HttpResponse claimNext(Context &);
    HttpResponse listCases(Context &);
    HttpResponse getCase(Context &);
    HttpResponse claimCase(Context &);
    HttpResponse releaseCase(Context &);
    HttpResponse clipViewed(Context &);
    HttpResponse decide(Context &);
    HttpResponse approval(Context &);
    HttpResponse media(Context &);
    HttpResponse recordBytes(Context &);
    HttpResponse devices(Context &);
    HttpResponse alarms(Context &);
    HttpResponse resolveAlarm(Context &);
    HttpResponse auditLog(Context &);
    HttpResponse auditVerify(Context &);
    HttpResponse users(Context &);
    HttpResponse authorizeUser(Context &);

    /* Issue 7 (server_work.cpp): registry, rule steps, documents, payments, contacts,
     * reports, quality and statistics. */
    HttpResponse registryLookup(Context &);
    HttpResponse setVehicle(Context &);
    HttpResponse routeCase(Context &);
    HttpResponse caseFile(Context &);
    HttpResponse ownerDeclaration(Context &);
    HttpResponse rentalAnswer(Context &);
    HttpResponse rentalLapse(Context &);
    HttpResponse department(Context &);
    HttpResponse referral(Context &);
    HttpResponse opsFinding(Context &);
    HttpResponse employeeReport(Context &);
    HttpResponse taskList(Context &);
    HttpResponse taskDone(Context &);
    HttpResponse mailQueue(Context &);
    HttpResponse mailBatch(Context &);
    HttpResponse markMailed(Context &);
    HttpResponse citationPdf(Context &);
    HttpResponse payment(Context &);
    HttpResponse contact(Context &);
    HttpResponse contactInfo(Context &);
    HttpResponse overdue(Context &);
    HttpResponse summonsCsv(Context &);
    HttpResponse summonsPdf(Context &);
    HttpResponse search(Context &);
    HttpResponse courtPacket(Context &);
    HttpResponse quality(Context &);
    HttpResponse secondReview(Context &);
    HttpResponse statistics(Context &);

    struct Entry
    {
        RouteSpec spec;
        Handler handler;
    };
    /* The route table with its handlers; routeTable() exposes the specs. */
    static const std::vector<Entry> &entries();
    friend const std::vector<RouteSpec> &routeTable();

    Store *store_;
    const evidence::SigningKey *serverKey_;
    AppConfig config_;
    Ingest ingest_;
    StoreRegistry registry_;
    CaseWork work_;
};

} /* namespace stopline::backoffice */

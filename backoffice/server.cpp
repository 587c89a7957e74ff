#include "backoffice/server.h"

#include <cstring>

#include <nlohmann/json.hpp>

#include "backoffice/auth.h"
#include "backoffice/review.h"
#include "backoffice/server_internal.h"
#include "backoffice/web_assets.h"
#include "evidence/crypto.h"
#include "evidence/verify.h"

namespace stopline::backoffice {

using namespace evidence;
using nlohmann::json;

namespace {

constexpr const char *kSessionCookie = "stopline_session";

const char *grantName(Grant g)
{
    switch (g) {
    case kAnonymous:
        return "anonymous";
    case kDevice:
        return "device";
    case kTechnician:
        return "technician";
    case kReviewerUnsigned:
        return "reviewer (not authorized or no signature on file)";
    case kReviewer:
        return "reviewer";
    case kSupervisorUnsigned:
        return "supervisor (not authorized or no signature on file)";
    case kSupervisor:
        return "supervisor";
    case kAdmin:
        return "admin";
    }
    return "unknown";
}

Grant grantFor(const UserInfo &u)
{
    Role role;
    if (!parseRole(u.role, &role))
        return kAnonymous;
    bool mayReview = u.authorized && !u.signatureSha256.empty();
    switch (role) {
    case Role::Reviewer:
        return mayReview ? kReviewer : kReviewerUnsigned;
    case Role::Supervisor:
        return mayReview ? kSupervisor : kSupervisorUnsigned;
    case Role::Technician:
        return kTechnician;
    case Role::Admin:
        return kAdmin;
    }
    return kAnonymous;
}

const char *contentTypeFor(const std::string &name)
{
    auto ends = [&](const char *ext) {
        size_t n = std::strlen(ext);
        return name.size() >= n && name.compare(name.size() - n, n, ext) == 0;
    };
    if (ends(".html"))
        return "text/html; charset=utf-8";
    if (ends(".js"))
        return "text/javascript; charset=utf-8";
    if (ends(".css"))
        return "text/css; charset=utf-8";
    if (ends(".svg"))
        return "image/svg+xml";
    if (ends(".png"))
        return "image/png";
    return "application/octet-stream";
}

const WebAsset *findAsset(const std::string &name)
{
    for (size_t i = 0; i < kWebAssetCount; ++i)
        if (name == kWebAssets[i].name)
            return &kWebAssets[i];
    return nullptr;
}

json userJson(const UserInfo &u)
{
    return json{{"username", u.username},
                {"display_name", u.displayName},
                {"role", u.role},
                {"authorized", u.authorized},
                {"has_signature", !u.signatureSha256.empty()},
                {"signature_sha256", toHex(u.signatureSha256)},
                {"may_review", u.authorized && !u.signatureSha256.empty() &&
                                       (u.role == "reviewer" || u.role == "supervisor")}};
}

json alarmJson(const Alarm &a)
{
    return json{{"id", a.id},
                {"device_id", a.deviceId},
                {"kind", a.kind},
                {"detail", a.detail},
                {"seq_from", a.seqFrom},
                {"seq_to", a.seqTo},
                {"raised_utc", isoUtc(a.raisedNs)},
                {"resolved_utc", a.resolvedNs ? isoUtc(a.resolvedNs) : ""},
                {"resolved_by", a.resolvedBy}};
}

} /* namespace */

const std::vector<BackofficeApp::Entry> &BackofficeApp::entries()
{
    constexpr unsigned kReviewers = kReviewer | kSupervisor;
    constexpr unsigned kSupervisors = kSupervisor | kSupervisorUnsigned;
    constexpr unsigned kOverview = kReviewerUnsigned | kReviewer | kSupervisors;
    constexpr unsigned kOps = kTechnician | kSupervisors | kAdmin;
    /* Issue 7: the technician's and the Lieutenant's work after the review. */
    constexpr unsigned kWork = kTechnician | kSupervisors;
    constexpr unsigned kWorkView = kWork | kReviewer;
    constexpr unsigned kOfficers = kWork | kReviewer | kReviewerUnsigned;
    static const std::vector<Entry> table = {
            {{"GET", "/", kEveryone, "reviewer web UI (HTML)"}, &BackofficeApp::index},
            {{"GET", "/assets/{name}", kEveryone, "web UI assets"}, &BackofficeApp::asset},
            {{"GET", "/api/v1/health", kEveryone, "liveness and schema version"},
             &BackofficeApp::health},
            {{"GET", "/api/v1/server-key", kEveryone, "server public key (PEM) to check receipts"},
             &BackofficeApp::serverKey},
            {{"POST", "/api/v1/login", kEveryone, "log in with user name and password",
              kMaxLoginBody},
             &BackofficeApp::login},
            {{"POST", "/api/v1/logout", kAnyUser, "end the session"}, &BackofficeApp::logout},
            {{"GET", "/api/v1/session", kAnyUser, "who am I, CSRF token"},
             &BackofficeApp::sessionInfo},
            {{"POST", "/api/v1/records", kDevice, "upload a SealedRecord", 0, BodyFormat::Binary},
             &BackofficeApp::postRecord},
            {{"POST", "/api/v1/checkpoints", kDevice, "upload a SealedCheckpoint", 0,
              BodyFormat::Binary},
             &BackofficeApp::postCheckpoint},
            {{"POST", "/api/v1/heartbeats", kDevice, "device health (JSON)", kMaxHeartbeatBody},
             &BackofficeApp::postHeartbeat},
            {{"GET", "/api/v1/queue", kOverview, "queue overview, alarms, device health"},
             &BackofficeApp::queue},
            {{"POST", "/api/v1/queue/next", kReviewers, "claim the next case (lease)"},
             &BackofficeApp::claimNext},
            {{"GET", "/api/v1/cases", kSupervisors, "list cases"}, &BackofficeApp::listCases},
            {{"GET", "/api/v1/cases/{id}", kReviewers | kSupervisors, "one case with its record"},
             &BackofficeApp::getCase},
            {{"POST", "/api/v1/cases/{id}/claim", kReviewers, "claim this case"},
             &BackofficeApp::claimCase},
            {{"POST", "/api/v1/cases/{id}/release", kReviewers, "give the lease back"},
             &BackofficeApp::releaseCase},
            {{"POST", "/api/v1/cases/{id}/clip-viewed", kReviewers, "the clip was played"},
             &BackofficeApp::clipViewed},
            {{"POST", "/api/v1/cases/{id}/decision", kReviewers, "approve or reject"},
             &BackofficeApp::decide},
            {{"GET", "/api/v1/cases/{id}/approval", kReviewers | kSupervisors,
              "server-signed approval"},
             &BackofficeApp::approval},
            {{"GET", "/api/v1/media/{sha256}", kReviewers | kSupervisors | kTechnician,
              "image by SHA-256"},
             &BackofficeApp::media},
            {{"GET", "/api/v1/records/{device}/{seq}", kSupervisors | kTechnician | kAdmin,
              "exact stored SealedRecord bytes"},
             &BackofficeApp::recordBytes},
            {{"GET", "/api/v1/devices", kOps, "devices, chain heads, last heartbeat"},
             &BackofficeApp::devices},
            {{"GET", "/api/v1/alarms", kOps, "chain and device alarms"}, &BackofficeApp::alarms},
            {{"POST", "/api/v1/alarms/{id}/resolve", kTechnician | kSupervisors,
              "acknowledge an alarm"},
             &BackofficeApp::resolveAlarm},
            {{"GET", "/api/v1/audit", kSupervisors | kAdmin, "audit log"},
             &BackofficeApp::auditLog},
            {{"GET", "/api/v1/audit/verify", kSupervisors | kAdmin, "check the audit hash chain"},
             &BackofficeApp::auditVerify},
            {{"GET", "/api/v1/users", kAdmin, "user list"}, &BackofficeApp::users},
            {{"POST", "/api/v1/users/{username}/authorize", kAdmin, "authorize a reviewer"},
             &BackofficeApp::authorizeUser},
            {{"GET", "/api/v1/registry", kWorkView, "owner lookup (?plate=&state= or ?q=)"},
             &BackofficeApp::registryLookup},
            {{"POST", "/api/v1/cases/{id}/vehicle", kWork | kReviewer,
              "correct the plate and state of a case"},
             &BackofficeApp::setVehicle},
            {{"POST", "/api/v1/cases/{id}/route", kWork,
              "route an approved case through the rule table (after owner research)"},
             &BackofficeApp::routeCase},
            {{"GET", "/api/v1/files/{id}", kWorkView,
              "case file: tasks, documents, money, contacts"},
             &BackofficeApp::caseFile},
            {{"POST", "/api/v1/cases/{id}/declaration", kWork,
              "registered owner names the driver or swears they were not driving"},
             &BackofficeApp::ownerDeclaration},
            {{"POST", "/api/v1/cases/{id}/rental-answer", kWork,
              "rental business names the renter"},
             &BackofficeApp::rentalAnswer},
            {{"POST", "/api/v1/cases/{id}/rental-lapse", kWork,
              "rental window over: citation to the business"},
             &BackofficeApp::rentalLapse},
            {{"POST", "/api/v1/cases/{id}/department", kReviewer | kSupervisors,
              "Fleet Manager identified the City department"},
             &BackofficeApp::department},
            {{"POST", "/api/v1/cases/{id}/referral", kWork,
              "record of referral (date, person contacted, disposition)"},
             &BackofficeApp::referral},
            {{"POST", "/api/v1/cases/{id}/ops-finding", kSupervisors,
              "Office of Professional Standards finding"},
             &BackofficeApp::opsFinding},
            {{"POST", "/api/v1/reports", kSupervisors,
              "supervisor's report (unmarked vehicle) or off-duty compelling-reason report"},
             &BackofficeApp::employeeReport},
            {{"GET", "/api/v1/tasks", kWorkView, "tasks by owning role"}, &BackofficeApp::taskList},
            {{"POST", "/api/v1/tasks/{id}/done", kWork, "close a task with a note"},
             &BackofficeApp::taskDone},
            {{"GET", "/api/v1/mailing", kWork, "documents waiting to be mailed"},
             &BackofficeApp::mailQueue},
            {{"GET", "/api/v1/mailing/batch.pdf", kWork, "one PDF of the documents to mail"},
             &BackofficeApp::mailBatch},
            {{"POST", "/api/v1/mailing/mailed", kWork, "mark documents mailed"},
             &BackofficeApp::markMailed},
            {{"GET", "/api/v1/citations/{id}/pdf", kWorkView, "a citation or notice as PDF"},
             &BackofficeApp::citationPdf},
            {{"POST", "/api/v1/cases/{id}/payments", kWork, "record a payment"},
             &BackofficeApp::payment},
            {{"POST", "/api/v1/cases/{id}/contacts", kWork, "log a call, letter or visit"},
             &BackofficeApp::contact},
            {{"POST", "/api/v1/cases/{id}/contact-info", kWork,
              "current contact information of the responsible party"},
             &BackofficeApp::contactInfo},
            {{"GET", "/api/v1/overdue", kWork, "unpaid past the due date"},
             &BackofficeApp::overdue},
            {{"GET", "/api/v1/summons.csv", kOfficers, "summons-service report (CSV)"},
             &BackofficeApp::summonsCsv},
            {{"GET", "/api/v1/summons.pdf", kOfficers, "summons-service report (PDF)"},
             &BackofficeApp::summonsPdf},
            {{"GET", "/api/v1/search", kWorkView, "search by case, citation, plate or name"},
             &BackofficeApp::search},
            {{"GET", "/api/v1/cases/{id}/court-packet", kWork, "court packet (ZIP)"},
             &BackofficeApp::courtPacket},
            {{"GET", "/api/v1/quality", kSupervisors, "second reviews and rubber-stamp flags"},
             &BackofficeApp::quality},
            {{"POST", "/api/v1/cases/{id}/second-review", kSupervisor,
              "a supervisor's second review of a decision"},
             &BackofficeApp::secondReview},
            {{"GET", "/api/v1/stats", kWork | kAdmin, "statistics for the charts"},
             &BackofficeApp::statistics},
    };
    return table;
}

const std::vector<RouteSpec> &routeTable()
{
    static const std::vector<RouteSpec> specs = [] {
        std::vector<RouteSpec> out;
        for (const BackofficeApp::Entry &e : BackofficeApp::entries())
            out.push_back(e.spec);
        return out;
    }();
    return specs;
}

bool matchRoute(const std::string &pattern, const std::string &path,
                std::map<std::string, std::string> *params)
{
    size_t p = 0, q = 0;
    while (p < pattern.size() && q <= path.size()) {
        if (pattern[p] == '{') {
            size_t close = pattern.find('}', p);
            std::string name = pattern.substr(p + 1, close - p - 1);
            size_t end = path.find('/', q);
            if (end == std::string::npos)
                end = path.size();
            if (end == q)
                return false;
            (*params)[name] = path.substr(q, end - q);
            p = close + 1;
            q = end;
            continue;
        }
        if (q >= path.size() || pattern[p] != path[q])
            return false;
        ++p;
        ++q;
    }
    return p == pattern.size() && q == path.size();
}

BackofficeApp::BackofficeApp(Store *store, const SigningKey *serverKey, AppConfig config)
    : store_(store), serverKey_(serverKey), config_(std::move(config)),
      ingest_(store, serverKey, config_.serverId), registry_(store),
      work_(store, &registry_, config_.work)
{}

namespace {
/* authenticate()'s "no refusal": status 0 tells the caller to go on. */
HttpResponse proceed()
{
    HttpResponse r;
    r.status = 0;
    return r;
}
} /* namespace */

HttpResponse BackofficeApp::authenticate(const HttpRequest &req, Principal *who)
{
    std::string auth = req.header("authorization");
    if (auth.rfind("Bearer ", 0) == 0) {
        auto device = store_->deviceByToken(hexSha256(auth.substr(7)));
        if (!device)
            return error(401, "unknown device token");
        who->grant = kDevice;
        who->name = *device;
        return proceed();
    }
    if (!req.clientCertName.empty()) {
        if (!store_->device(req.clientCertName))
            return error(403, "client certificate names device " + req.clientCertName +
                                      ", which is not enrolled");
        who->grant = kDevice;
        who->name = req.clientCertName;
        return proceed();
    }
    std::string token = req.cookie(kSessionCookie);
    if (token.empty())
        return proceed();
    auto session = store_->session(hexSha256(token));
    if (!session || session->expiresNs <= store_->now())
        return proceed(); /* treated as anonymous: the UI shows the login */
    auto user = store_->userById(session->userId);
    if (!user || user->disabled)
        return proceed();
    who->grant = grantFor(*user);
    who->name = user->username;
    who->user = *user;
    who->session = *session;
    who->viaSession = true;
    return proceed();
}

/* Limits that hold for every route, before anyone is authenticated or any handler
 * runs: what is refused here never reaches the store, the audit log or the JSON
 * library's recursive code. */
HttpResponse BackofficeApp::refuseHostileInput(const HttpRequest &req)
{
    if (!isValidUtf8(req.path))
        return error(400, "the path is not valid UTF-8");
    if (std::string problem = queryProblem(req.query); !problem.empty())
        return error(400, problem);
    return proceed();
}

HttpResponse BackofficeApp::refuseHostileBody(const HttpRequest &req, const RouteSpec &route)
{
    if (route.maxBody && req.body.size() > route.maxBody)
        return error(413, std::string("a body for ") + route.pattern + " may have at most " +
                                  std::to_string(route.maxBody) + " bytes");
    if (route.body != BodyFormat::Json || req.body.empty())
        return proceed();
    if (std::string problem = jsonBodyProblem(req.body); !problem.empty())
        return error(400, problem);
    return proceed();
}

HttpResponse BackofficeApp::handle(const HttpRequest &req)
{
    if (HttpResponse refused = refuseHostileInput(req); refused.status)
        return refused;
    const Entry *entry = nullptr;
    bool pathKnown = false;
    std::map<std::string, std::string> params;
    for (const Entry &e : entries()) {
        std::map<std::string, std::string> p;
        if (!matchRoute(e.spec.pattern, req.path, &p))
            continue;
        pathKnown = true;
        if (req.method == e.spec.method ||
            (req.method == "HEAD" && std::strcmp(e.spec.method, "GET") == 0)) {
            entry = &e;
            params = std::move(p);
            break;
        }
    }
    if (!entry)
        return pathKnown ? error(405, "method " + req.method + " not allowed on " + req.path)
                         : error(404, "no route " + req.path);

    if (HttpResponse refused = refuseHostileBody(req, entry->spec); refused.status)
        return refused;
    Context ctx{req, {}, std::move(params)};
    HttpResponse refused = authenticate(req, &ctx.who);
    if (refused.status)
        return refused;
    if (!(entry->spec.allow & ctx.who.grant)) {
        if (ctx.who.grant == kAnonymous)
            return error(401, "log in first");
        return error(403, std::string("not allowed for ") + grantName(ctx.who.grant) + ": " +
                                  entry->spec.method + " " + entry->spec.pattern);
    }
    /* CSRF: a state change made with the session cookie must carry the token that only
     * our own pages can read (SameSite=Strict is the second line). */
    if (ctx.who.viaSession && req.method != "GET" && req.method != "HEAD") {
        std::string token = req.header("x-csrf-token");
        if (token.empty() || !constantTimeEqual(token, ctx.who.session.csrf))
            return error(403, "missing or wrong X-CSRF-Token");
    }
    return (this->*(entry->handler))(ctx);
}

void BackofficeApp::audit(Context &ctx, const std::string &action, const std::string &target,
                          const std::string &detail)
{
    store_->appendAudit({ctx.who.name.empty() ? "anonymous" : ctx.who.name, action, target, detail,
                         ctx.req.remoteIp});
}

HttpResponse BackofficeApp::index(Context &ctx)
{
    const WebAsset *a = findAsset("index.html");
    if (!a)
        return error(500, "web UI missing from this build");
    HttpResponse r{200,
                   "text/html; charset=utf-8",
                   std::string(reinterpret_cast<const char *>(a->data), a->size),
                   {}};
    r.headers.push_back({"Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                         "script-src 'self'; object-src 'none'; base-uri 'none'; "
                         "frame-ancestors 'none'; form-action 'self'"});
    return r;
}

HttpResponse BackofficeApp::asset(Context &ctx)
{
    const WebAsset *a = findAsset(ctx.params["name"]);
    if (!a || ctx.params["name"] == "index.html")
        return error(404, "no asset " + ctx.params["name"]);
    return HttpResponse{200,
                        contentTypeFor(a->name),
                        std::string(reinterpret_cast<const char *>(a->data), a->size),
                        {{"Cache-Control", "no-cache"}}};
}

HttpResponse BackofficeApp::health(Context &)
{
    return jsonResponse(
            200, json{{"ok", true},
                      {"server_id", config_.serverId},
                      {"schema_version", store_->schemaVersion()},
                      {"backend", store_->dialect() == Dialect::Sqlite ? "sqlite" : "postgresql"}});
}

HttpResponse BackofficeApp::serverKey(Context &)
{
    return HttpResponse{200,
                        "application/x-pem-file",
                        serverKey_->publicKey().pem(),
                        {{"X-Stopline-Key-Id", serverKey_->keyId()}}};
}

HttpResponse BackofficeApp::login(Context &ctx)
{
    /* JSON only: a cross-site HTML form cannot send it without a CORS preflight. */
    if (ctx.req.header("content-type").rfind("application/json", 0) != 0)
        return error(415, "send JSON {\"username\", \"password\"}");
    json body = json::parse(ctx.req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("username") ||
        !body.contains("password"))
        return error(400, "send JSON {\"username\", \"password\"}");
    /* Bounded before anything is audited: a stranger's user name is written to the
     * log, so its length is the stranger's lever on our disk. */
    std::string username, password, problem;
    if (!readString(body, "username", kMaxUsername, &username, &problem) ||
        !readString(body, "password", kMaxPassword, &password, &problem))
        return error(400, problem);
    /* Throttle guessing per (account, address) and per address, counted in the audit
     * log (so it holds across servers sharing the store): a stranger's guesses lock
     * out the stranger's address, not the officer logging in from another. The quick
     * check spares a throttled guess the password hash; settleLogin decides again and
     * counts in one transaction, so concurrent guesses cannot overshoot the limit. */
    const LoginLimits limits;
    const std::string &ip = ctx.req.remoteIp;
    const char *throttled = "too many failed logins from this address: try again in 15 minutes";
    if (store_->loginThrottled(username, ip, limits))
        return error(429, throttled);
    auto user = store_->user(username);
    /* Same work and same answer for an unknown user and a wrong password. */
    static const std::string dummy = hashPassword("not a password");
    bool ok =
            verifyPassword(password, user ? user->passwordHash : dummy) && user && !user->disabled;
    switch (store_->settleLogin(username, ip, ok, limits)) {
    case LoginVerdict::Throttled:
        return error(429, throttled);
    case LoginVerdict::Failed:
        return error(401, "wrong user name or password");
    case LoginVerdict::Allowed:
        break;
    }
    std::string token = randomToken();
    SessionInfo s{hexSha256(token),
                  user->id,
                  randomToken(),
                  store_->now(),
                  store_->now() + config_.sessionNs,
                  ctx.req.remoteIp};
    store_->createSession(s);
    store_->appendAudit({username, "login", "user:" + username, "", ctx.req.remoteIp});
    std::string cookie = std::string(kSessionCookie) + "=" + token +
                         "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                         std::to_string(config_.sessionNs / 1'000'000'000);
    if (ctx.req.tls)
        cookie += "; Secure";
    HttpResponse r = jsonResponse(200, json{{"user", userJson(*user)}, {"csrf", s.csrf}});
    r.headers.push_back({"Set-Cookie", cookie});
    return r;
}

HttpResponse BackofficeApp::logout(Context &ctx)
{
    store_->deleteSession(ctx.who.session.tokenHash);
    audit(ctx, "logout", "user:" + ctx.who.name);
    HttpResponse r = jsonResponse(200, json{{"ok", true}});
    r.headers.push_back({"Set-Cookie", std::string(kSessionCookie) +
                                               "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"});
    return r;
}

HttpResponse BackofficeApp::sessionInfo(Context &ctx)
{
    json reasons = json::array();
    for (const RejectReason &r : rejectReasons())
        reasons.push_back({{"code", r.code}, {"label", r.label}});
    return jsonResponse(200, json{{"user", userJson(ctx.who.user)},
                                  {"csrf", ctx.who.session.csrf},
                                  {"reasons", reasons},
                                  {"server_id", config_.serverId}});
}

static HttpResponse fromIngest(const IngestReply &r)
{
    HttpResponse out{r.status, r.contentType, r.body, {}};
    if (r.caseId)
        out.headers.push_back({"X-Stopline-Case", std::to_string(r.caseId)});
    std::string codes;
    for (const std::string &c : r.codes)
        codes += (codes.empty() ? "" : " ") + c;
    if (!codes.empty())
        out.headers.push_back({"X-Stopline-Codes", codes});
    return out;
}

HttpResponse BackofficeApp::postRecord(Context &ctx)
{
    return fromIngest(ingest_.record(ctx.who.name, ctx.req.body));
}

HttpResponse BackofficeApp::postCheckpoint(Context &ctx)
{
    return fromIngest(ingest_.checkpoint(ctx.who.name, ctx.req.body));
}

HttpResponse BackofficeApp::postHeartbeat(Context &ctx)
{
    return fromIngest(ingest_.heartbeat(ctx.who.name, ctx.req.body));
}

HttpResponse BackofficeApp::queue(Context &ctx)
{
    QueueStats s = store_->queueStats();
    int64_t now = store_->now();
    auto age = [&](int64_t ns) { return ns ? (now - ns) / 1'000'000'000 : 0; };
    json by = json::array();
    for (const QueueCount &c : s.byTypeAndSite)
        by.push_back({{"type", c.violationType},
                      {"site", c.site},
                      {"queued", c.queued},
                      {"oldest_age_s", age(c.oldestCreatedNs)}});
    json alarmList = json::array();
    for (const Alarm &a : store_->alarms(true))
        alarmList.push_back(alarmJson(a));
    json health = json::array();
    for (const Heartbeat &h : store_->latestHeartbeats())
        health.push_back({{"device_id", h.deviceId},
                          {"age_s", age(h.receivedNs)},
                          {"received_utc", isoUtc(h.receivedNs)},
                          {"heartbeat", json::parse(h.body, nullptr, false)}});
    return jsonResponse(200, json{{"queued", s.queued},
                                  {"leased", s.leased},
                                  {"approved", s.approved},
                                  {"rejected", s.rejected},
                                  {"oldest_age_s", age(s.oldestCreatedNs)},
                                  {"by_type_and_site", by},
                                  {"alarms", alarmList},
                                  {"devices", health}});
}

HttpResponse BackofficeApp::claimNext(Context &ctx)
{
    auto c = store_->claimNext(ctx.who.name, config_.leaseNs);
    if (!c)
        return jsonResponse(200, json{{"case", nullptr}, {"message", "the queue is empty"}});
    audit(ctx, "claim", "case:" + std::to_string(c->id));
    return jsonResponse(200, json{{"case", {{"id", c->id}, {"version", c->version}}},
                                  {"lease_expires_utc", isoUtc(c->leaseExpiresNs)}});
}

HttpResponse BackofficeApp::listCases(Context &ctx)
{
    int64_t before = 0;
    parseId(ctx.req.queryParam("before"), &before);
    json out = json::array();
    for (const CaseInfo &c : store_->cases(ctx.req.queryParam("status"), 100, before))
        out.push_back({{"id", c.id},
                       {"status", c.status},
                       {"type", c.violationType},
                       {"site", c.site},
                       {"device_id", c.deviceId},
                       {"seq", c.seq},
                       {"event_utc", isoUtc(c.eventUtcNs)},
                       {"decided_by", c.decidedBy},
                       {"decision", c.decision},
                       {"reason", c.reasonCode},
                       {"time_on_case_ms", c.timeOnCaseMs}});
    return jsonResponse(200, json{{"cases", out}});
}

HttpResponse BackofficeApp::getCase(Context &ctx)
{
    int64_t id;
    if (!parseId(ctx.params["id"], &id))
        return error(400, "case id must be a number");
    auto c = store_->caseInfo(id);
    if (!c)
        return error(404, "no case " + ctx.params["id"]);
    auto rec = store_->recordByRow(c->recordRow);
    if (!rec)
        return error(500, "case " + ctx.params["id"] + " has lost its record");
    /* Verify the stored bytes again at every view: what the officer sees is what the
     * record proves today, plus what the chain said when it arrived. */
    SealedRecord env;
    env.ParseFromString(rec->bytes);
    RecordCheck check = checkRecord(rec->bytes, keyRingFor(store_, env.key_id()));
    std::vector<std::string> verification;
    for (const Finding &f : check.findings)
        verification.push_back(f.text());
    size_t pos = 0;
    while (pos < rec->findings.size()) {
        size_t end = rec->findings.find("; ", pos);
        std::string f = rec->findings.substr(pos, end == std::string::npos ? end : end - pos);
        if (f.rfind("chain.", 0) == 0 || f.rfind("time.", 0) == 0)
            verification.push_back(f);
        pos = end == std::string::npos ? rec->findings.size() : end + 2;
    }
    if (check.ok() && verification.empty())
        verification.push_back("ok");
    json j = caseJson(*c, *rec, verification);
    j["verified"] = check.ok();
    j["vehicle"] = work_.vehicle(*c); /* registry data beside the plate crop */
    /* "Plate matches citation information, i.e. make, model and year": say what the
     * registry has, so the officer compares the photo with it. */
    for (json &item : j["checklist"])
        if (item.value("key", "") == "plate_matches") {
            const json &reg = j["vehicle"]["registry"];
            item["evidence"] =
                    reg.is_object() ? "registry for " + j["vehicle"].value("plate", "") + " " +
                                              j["vehicle"].value("state", "") + ": " +
                                              std::to_string(reg.value("year", 0)) + " " +
                                              reg.value("make", "") + " " + reg.value("model", "") +
                                              ", " + reg.value("colour", "")
                                    : "no registry entry for " + j["vehicle"].value("plate", "") +
                                              " " + j["vehicle"].value("state", "") +
                                              ": correct the plate or leave it to owner research";
        }
    j["mine"] = c->leaseOwner == ctx.who.name && c->leaseExpiresNs > store_->now();
    audit(ctx, "view", "case:" + std::to_string(id));
    return jsonResponse(200, j);
}

HttpResponse BackofficeApp::claimCase(Context &ctx)
{
    int64_t id;
    if (!parseId(ctx.params["id"], &id))
        return error(400, "case id must be a number");
    std::string why;
    std::vector<int64_t> released;
    auto c = store_->claimCase(id, ctx.who.name, config_.leaseNs, &why, &released);
    if (!c)
        return error(why == "no such case" ? 404 : 409, why);
    for (int64_t other : released)
        audit(ctx, "release", "case:" + std::to_string(other));
    audit(ctx, "claim", "case:" + std::to_string(id));
    return jsonResponse(200, json{{"case", {{"id", c->id}, {"version", c->version}}},
                                  {"lease_expires_utc", isoUtc(c->leaseExpiresNs)}});
}

HttpResponse BackofficeApp::releaseCase(Context &ctx)
{
    int64_t id;
    if (!parseId(ctx.params["id"], &id))
        return error(400, "case id must be a number");
    if (!store_->release(id, ctx.who.name))
        return error(409, "you hold no lease on case " + ctx.params["id"]);
    audit(ctx, "release", "case:" + std::to_string(id));
    return jsonResponse(200, json{{"ok", true}});
}

HttpResponse BackofficeApp::clipViewed(Context &ctx)
{
    int64_t id;
    if (!parseId(ctx.params["id"], &id))
        return error(400, "case id must be a number");
    if (!store_->caseInfo(id))
        return error(404, "no case " + ctx.params["id"]);
    audit(ctx, "view-clip", "case:" + std::to_string(id));
    return jsonResponse(200, json{{"ok", true}});
}

HttpResponse BackofficeApp::decide(Context &ctx)
{
    int64_t id;
    if (!parseId(ctx.params["id"], &id))
        return error(400, "case id must be a number");
    json body = json::parse(ctx.req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
        return error(400, "send a JSON object {version, decision, reason?, note?, checklist}");
    if (!body.contains("version") || !body["version"].is_number_integer())
        return error(400, "'version' (integer, from the case you opened) is required");
    std::string decision, reason, note, problem;
    if (!readString(body, "decision", 16, &decision, &problem) ||
        !readString(body, "reason", 64, &reason, &problem) ||
        !readString(body, "note", kMaxJsonString, &note, &problem))
        return error(400, problem);
    if (decision != "approve" && decision != "reject")
        return error(400, "'decision' must be \"approve\" or \"reject\"");
    json checklist = json::object();
    if (!readObject(body, "checklist", &checklist, &problem))
        return error(400, "'checklist' must be an object of item: true/false");
    json facts = json::object(); /* police vehicles: emergency lights */
    if (!readObject(body, "facts", &facts, &problem))
        return error(400, "'facts' must be an object {\"emergency_lights\": true|false}");

    auto c = store_->caseInfo(id);
    if (!c)
        return error(404, "no case " + ctx.params["id"]);
    auto rec = store_->recordByRow(c->recordRow);
    SealedRecord env;
    Record record;
    if (!rec || !env.ParseFromString(rec->bytes) || !record.ParseFromString(env.record()))
        return error(500, "case record unreadable");
    const UserInfo &me = ctx.who.user;
    Decision d;
    d.caseId = id;
    d.owner = me.username;
    d.version = body["version"];
    d.note = note;
    d.decidedNs = store_->now();
    if (decision == "approve") {
        if (!me.authorized || me.signatureSha256.empty())
            return error(403, "approval needs an authorized reviewer with a signature on file");
        for (const ChecklistItem &it : checklistFor(record)) {
            if (it.proven && !*it.proven)
                return error(422, "cannot approve: the record contradicts \"" + it.label + "\" (" +
                                          it.evidence + ")");
            auto v = checklist.find(it.key);
            if (v == checklist.end() || !v->is_boolean() || !v->get<bool>())
                return error(422,
                             "cannot approve: checklist item \"" + it.label + "\" not confirmed");
        }
        std::string missing = work_.missingFacts(*c, facts);
        if (!missing.empty())
            return error(422, "cannot approve: " + missing);
        d.decision = "approved";
        d.approval = approvalStatement(*c, *rec, me, d.decidedNs, checklist);
        d.approvalSignature = serverKey_->sign(kApprovalDomain, d.approval);
    } else {
        if (!validReason(reason))
            return error(400, "'reason' must be one of the reason codes (see GET /api/v1/session)");
        if (reason == "other" && note.empty())
            return error(400, "reason 'other' needs a note");
        d.decision = "rejected";
        d.reasonCode = reason;
    }
    d.checklist = checklist.dump();
    /* Time on case from the server's own clock (lease start), not the browser's. */
    if (c->leaseExpiresNs)
        d.timeOnCaseMs = std::max<int64_t>(
                0, (d.decidedNs - (c->leaseExpiresNs - config_.leaseNs)) / 1'000'000);
    for (const AuditEntry &a : store_->audit(200, 0, "case:" + std::to_string(id)))
        d.clipViewed = d.clipViewed || (a.action == "view-clip" && a.actor == me.username);
    std::string detail = d.decision + (d.reasonCode.empty() ? "" : " " + d.reasonCode) +
                         " time_on_case_ms=" + std::to_string(d.timeOnCaseMs) +
                         " clip_viewed=" + (d.clipViewed ? "yes" : "no") +
                         " record=" + toHex(rec->hash);
    DecideStatus st = store_->decide(
            d, {me.username, "decide", "case:" + std::to_string(id), detail, ctx.req.remoteIp});
    if (st != DecideStatus::Ok)
        return error(st == DecideStatus::NotFound ? 404 : 409, decideStatusText(st));
    /* Second-review sampling and, for an approval, the business rules (issue 7). */
    work_.afterDecision(id, facts, {me.username, ctx.req.remoteIp});
    json out{{"status", d.decision}, {"case_id", id}, {"time_on_case_ms", d.timeOnCaseMs}};
    if (!d.approval.empty())
        out["approval"] = {{"statement", d.approval},
                           {"signature", toHex(d.approvalSignature)},
                           {"key_id", serverKey_->keyId()}};
    return jsonResponse(200, out);
}

HttpResponse BackofficeApp::approval(Context &ctx)
{
    int64_t id;
    if (!parseId(ctx.params["id"], &id))
        return error(400, "case id must be a number");
    auto c = store_->caseInfo(id);
    if (!c)
        return error(404, "no case " + ctx.params["id"]);
    if (c->approval.empty())
        return error(404, "case " + ctx.params["id"] + " is not approved");
    return jsonResponse(200, json{{"statement", c->approval},
                                  {"signature", toHex(c->approvalSignature)},
                                  {"key_id", serverKey_->keyId()}});
}

HttpResponse BackofficeApp::media(Context &ctx)
{
    std::string raw;
    if (!fromHex(ctx.params["sha256"], &raw) || raw.size() != 32)
        return error(400, "media is addressed by a 64-digit hex SHA-256");
    auto m = store_->media(raw);
    if (!m)
        return error(404, "no media " + ctx.params["sha256"]);
    /* Content-addressed: the bytes behind a hash never change. The CSP neuters an SVG
     * signature image opened on its own (no script, no plugins). */
    return HttpResponse{200,
                        m->contentType,
                        m->bytes,
                        {{"Cache-Control", "private, max-age=86400, immutable"},
                         {"Content-Security-Policy",
                          "default-src 'none'; style-src 'unsafe-inline'; sandbox"}}};
}

HttpResponse BackofficeApp::recordBytes(Context &ctx)
{
    int64_t seq;
    if (!parseId(ctx.params["seq"], &seq))
        return error(400, "seq must be a number");
    auto r = store_->record(ctx.params["device"], static_cast<uint64_t>(seq));
    if (!r)
        return error(404, "no record " + ctx.params["device"] + " seq " + ctx.params["seq"]);
    audit(ctx, "download-record", "record:" + r->deviceId + "/" + std::to_string(r->seq));
    return HttpResponse{200,
                        "application/x-protobuf",
                        r->bytes,
                        {{"X-Stopline-Record-Hash", toHex(r->hash)},
                         {"Content-Disposition", "attachment; filename=\"" + r->deviceId + "-" +
                                                         std::to_string(r->seq) + ".slr\""}}};
}

HttpResponse BackofficeApp::devices(Context &ctx)
{
    std::map<std::string, Heartbeat> beats;
    for (const Heartbeat &h : store_->latestHeartbeats())
        beats[h.deviceId] = h;
    json out = json::array();
    for (const DeviceInfo &d : store_->devices()) {
        json j{{"device_id", d.id},
               {"site", d.site},
               {"description", d.description},
               {"records", d.records},
               {"highest_seq", d.highestSeq},
               {"last_received_utc", d.lastReceivedNs ? isoUtc(d.lastReceivedNs) : ""},
               {"heartbeat", nullptr}};
        if (auto it = beats.find(d.id); it != beats.end())
            j["heartbeat"] = {{"received_utc", isoUtc(it->second.receivedNs)},
                              {"body", json::parse(it->second.body, nullptr, false)}};
        out.push_back(j);
    }
    return jsonResponse(200, json{{"devices", out}});
}

HttpResponse BackofficeApp::alarms(Context &ctx)
{
    json out = json::array();
    for (const Alarm &a : store_->alarms(ctx.req.queryParam("all") != "1"))
        out.push_back(alarmJson(a));
    return jsonResponse(200, json{{"alarms", out}});
}

HttpResponse BackofficeApp::resolveAlarm(Context &ctx)
{
    int64_t id;
    if (!parseId(ctx.params["id"], &id))
        return error(400, "alarm id must be a number");
    if (!store_->resolveAlarm(id, ctx.who.name))
        return error(404, "no open alarm " + ctx.params["id"]);
    audit(ctx, "resolve-alarm", "alarm:" + ctx.params["id"]);
    return jsonResponse(200, json{{"ok", true}});
}

HttpResponse BackofficeApp::auditLog(Context &ctx)
{
    int64_t before = 0;
    parseId(ctx.req.queryParam("before"), &before);
    json out = json::array();
    for (const AuditEntry &a : store_->audit(200, before, ctx.req.queryParam("target")))
        out.push_back({{"seq", a.seq},
                       {"at_utc", isoUtc(a.atNs)},
                       {"actor", a.actor},
                       {"action", a.action},
                       {"target", a.target},
                       {"detail", a.detail},
                       {"ip", a.ip},
                       {"hash", a.hash}});
    audit(ctx, "view-audit", "audit", ctx.req.queryParam("target"));
    return jsonResponse(200, json{{"entries", out}});
}

HttpResponse BackofficeApp::auditVerify(Context &ctx)
{
    AuditVerification v = store_->verifyAudit();
    return jsonResponse(200, json{{"ok", v.ok},
                                  {"entries", v.entries},
                                  {"first_bad_seq", v.firstBadSeq},
                                  {"problem", v.problem}});
}

HttpResponse BackofficeApp::users(Context &ctx)
{
    json out = json::array();
    for (const UserInfo &u : store_->users())
        out.push_back(userJson(u));
    return jsonResponse(200, json{{"users", out}});
}

HttpResponse BackofficeApp::authorizeUser(Context &ctx)
{
    json body = json::parse(ctx.req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("authorized") ||
        !body["authorized"].is_boolean())
        return error(400, "send JSON {\"authorized\": true|false} ('authorized' a boolean)");
    auto u = store_->user(ctx.params["username"]);
    if (!u)
        return error(404, "no user " + ctx.params["username"]);
    store_->setAuthorized(u->username, body["authorized"].get<bool>());
    audit(ctx, body["authorized"].get<bool>() ? "authorize" : "deauthorize", "user:" + u->username);
    return jsonResponse(200, json{{"ok", true}});
}

} /* namespace stopline::backoffice */

/* Authorization matrix: every route of the route table, for every kind of caller,
 * over real HTTP against the in-process server. The expectations below are written
 * independently of the table; a route without an expectation fails the test, so a new
 * route cannot be forgotten. */

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "backoffice/auth.h"
#include "backoffice/client.h"
#include "backoffice/http_server.h"
#include "backoffice/server.h"
#include "backoffice_fixture.h"

#include <CppUTest/TestHarness.h>

using namespace stopline::backoffice;
using namespace stopline::backoffice::testing;
using namespace stopline::evidence;
using nlohmann::json;

namespace {

const std::vector<std::string> kPrincipals = {
        "anonymous", "device", "technician", "reviewer-nosig", "reviewer", "supervisor", "admin"};

/* Who may call what, as the policy reads (not copied from the route table). */
const std::map<std::string, std::set<std::string>> kExpected = {
        {"GET /", {"*"}},
        {"GET /assets/{name}", {"*"}},
        {"GET /api/v1/health", {"*"}},
        {"GET /api/v1/server-key", {"*"}},
        {"POST /api/v1/login", {"*"}},
        {"POST /api/v1/logout",
         {"technician", "reviewer-nosig", "reviewer", "supervisor", "admin"}},
        {"GET /api/v1/session",
         {"technician", "reviewer-nosig", "reviewer", "supervisor", "admin"}},
        {"POST /api/v1/records", {"device"}},
        {"POST /api/v1/checkpoints", {"device"}},
        {"POST /api/v1/heartbeats", {"device"}},
        {"GET /api/v1/queue", {"reviewer-nosig", "reviewer", "supervisor"}},
        {"POST /api/v1/queue/next", {"reviewer", "supervisor"}},
        {"GET /api/v1/cases", {"supervisor"}},
        {"GET /api/v1/cases/{id}", {"reviewer", "supervisor"}},
        {"POST /api/v1/cases/{id}/claim", {"reviewer", "supervisor"}},
        {"POST /api/v1/cases/{id}/release", {"reviewer", "supervisor"}},
        {"POST /api/v1/cases/{id}/clip-viewed", {"reviewer", "supervisor"}},
        {"POST /api/v1/cases/{id}/decision", {"reviewer", "supervisor"}},
        {"GET /api/v1/cases/{id}/approval", {"reviewer", "supervisor"}},
        /* The technician researches vehicles from the photos (issue 7). */
        {"GET /api/v1/media/{sha256}", {"technician", "reviewer", "supervisor"}},
        {"GET /api/v1/records/{device}/{seq}", {"technician", "supervisor", "admin"}},
        {"GET /api/v1/devices", {"technician", "supervisor", "admin"}},
        {"GET /api/v1/alarms", {"technician", "supervisor", "admin"}},
        {"POST /api/v1/alarms/{id}/resolve", {"technician", "supervisor"}},
        {"GET /api/v1/audit", {"supervisor", "admin"}},
        {"GET /api/v1/audit/verify", {"supervisor", "admin"}},
        {"GET /api/v1/users", {"admin"}},
        {"POST /api/v1/users/{username}/authorize", {"admin"}},
        /* Issue 7. Owner data: the people who research and review vehicles. */
        {"GET /api/v1/registry", {"technician", "reviewer", "supervisor"}},
        {"POST /api/v1/cases/{id}/vehicle", {"technician", "reviewer", "supervisor"}},
        {"GET /api/v1/search", {"technician", "reviewer", "supervisor"}},
        {"GET /api/v1/files/{id}", {"technician", "reviewer", "supervisor"}},
        {"GET /api/v1/tasks", {"technician", "reviewer", "supervisor"}},
        {"GET /api/v1/citations/{id}/pdf", {"technician", "reviewer", "supervisor"}},
        /* The technician's daily work (the Lieutenant may do it too). */
        {"POST /api/v1/cases/{id}/route", {"technician", "supervisor"}},
        {"POST /api/v1/cases/{id}/declaration", {"technician", "supervisor"}},
        {"POST /api/v1/cases/{id}/rental-answer", {"technician", "supervisor"}},
        {"POST /api/v1/cases/{id}/rental-lapse", {"technician", "supervisor"}},
        {"POST /api/v1/cases/{id}/referral", {"technician", "supervisor"}},
        {"POST /api/v1/tasks/{id}/done", {"technician", "supervisor"}},
        {"GET /api/v1/mailing", {"technician", "supervisor"}},
        {"GET /api/v1/mailing/batch.pdf", {"technician", "supervisor"}},
        {"POST /api/v1/mailing/mailed", {"technician", "supervisor"}},
        {"POST /api/v1/cases/{id}/payments", {"technician", "supervisor"}},
        {"POST /api/v1/cases/{id}/contacts", {"technician", "supervisor"}},
        {"POST /api/v1/cases/{id}/contact-info", {"technician", "supervisor"}},
        {"GET /api/v1/overdue", {"technician", "supervisor"}},
        {"GET /api/v1/cases/{id}/court-packet", {"technician", "supervisor"}},
        /* Officers who serve summons need the report, review clearance or not. */
        {"GET /api/v1/summons.csv", {"technician", "reviewer-nosig", "reviewer", "supervisor"}},
        {"GET /api/v1/summons.pdf", {"technician", "reviewer-nosig", "reviewer", "supervisor"}},
        /* The reviewing officer identifies a City department (Fleet Manager). */
        {"POST /api/v1/cases/{id}/department", {"reviewer", "supervisor"}},
        /* Professional Standards, supervisors' reports, second reviews: supervisors. */
        {"POST /api/v1/cases/{id}/ops-finding", {"supervisor"}},
        {"POST /api/v1/reports", {"supervisor"}},
        {"GET /api/v1/quality", {"supervisor"}},
        {"POST /api/v1/cases/{id}/second-review", {"supervisor"}},
        {"GET /api/v1/stats", {"technician", "supervisor", "admin"}},
};

struct Server
{
    TempStore store{false};
    std::unique_ptr<SigningKey> key = SigningKey::generate();
    BackofficeApp app{store.get(), key.get(), AppConfig{}};
    HttpServer http;
    Server() : http(options(), [this](const HttpRequest &r) { return app.handle(r); })
    {
        http.start();
    }
    static HttpServerOptions options()
    {
        HttpServerOptions o;
        o.listen = "127.0.0.1:0";
        o.threads = 2;
        return o;
    }
};

struct Caller
{
    std::string cookie, csrf, token;
    std::vector<std::pair<std::string, std::string>> headers(bool write) const
    {
        std::vector<std::pair<std::string, std::string>> h;
        if (!cookie.empty())
            h.push_back({"Cookie", cookie});
        if (write && !csrf.empty())
            h.push_back({"X-CSRF-Token", csrf});
        if (!token.empty())
            h.push_back({"Authorization", "Bearer " + token});
        return h;
    }
};

Caller login(HttpClient &client, const std::string &user)
{
    ClientResponse r = client.request("POST", "/api/v1/login",
                                      json{{"username", user}, {"password", "pw-" + user}}.dump(),
                                      {{"Content-Type", "application/json"}});
    if (r.status != 200)
        FAIL(("login of " + user + " failed: " + r.body).c_str());
    std::string setCookie = r.header("set-cookie");
    Caller c;
    c.cookie = setCookie.substr(0, setCookie.find(';'));
    c.csrf = json::parse(r.body)["csrf"];
    return c;
}

void addUser(Store *s, const std::string &name, const std::string &role, bool signedOn)
{
    s->addUser(name, name, role, hashPassword("pw-" + name));
    if (signedOn) {
        s->setAuthorized(name, true);
        std::string img = "\x89PNG signature of " + name;
        s->setSignature(name, {sha256(img), "image/png", img});
    }
}

} /* namespace */

TEST_GROUP(Authorization){};

TEST(Authorization, EveryRouteForEveryCaller)
{
    Server server;
    Store *store = server.store.get();
    TestDevice dev(store, "dev-authz");
    Ingest ingest(store, server.key.get(), "t");
    auto chain = dev.chain(4);
    for (auto &s : chain.records)
        LONGS_EQUAL(201, ingest.record(dev.id, s.bytes).status);
    ingest.checkpoint(dev.id, dev.chain(6).checkpoint); /* an alarm to resolve */
    addUser(store, "technician", "technician", false);
    addUser(store, "reviewer-nosig", "reviewer", false);
    addUser(store, "reviewer", "reviewer", true);
    addUser(store, "supervisor", "supervisor", true);
    addUser(store, "admin", "admin", false);

    stopline::evidence::SealedRecord env;
    stopline::evidence::Record rec;
    CHECK(env.ParseFromString(chain.records[1].bytes) && rec.ParseFromString(env.record()));
    std::map<std::string, std::string> params = {
            {"{id}", "1"},
            {"{name}", "app.js"},
            {"{sha256}", toHex(rec.violation().frames(0).sha256())},
            {"{device}", dev.id},
            {"{seq}", "1"},
            {"{username}", "reviewer-nosig"},
    };

    HttpClient client("127.0.0.1", server.http.port());
    std::map<std::string, Caller> callers;
    callers["anonymous"] = {};
    callers["device"].token = dev.token;
    for (const std::string &p : kPrincipals)
        if (p != "anonymous" && p != "device")
            callers[p] = login(client, p);

    int checked = 0;
    for (const RouteSpec &route : routeTable()) {
        std::string key = std::string(route.method) + " " + route.pattern;
        auto expected = kExpected.find(key);
        CHECK_TEXT(expected != kExpected.end(), ("route without an expectation: " + key).c_str());
        std::string path = route.pattern;
        for (auto &[from, to] : params)
            for (size_t pos; (pos = path.find(from)) != std::string::npos;)
                path.replace(pos, from.size(), to);
        bool write = std::string(route.method) != "GET";
        std::string body =
                key == "POST /api/v1/cases/{id}/decision"
                        ? R"({"version": 0, "decision": "reject", "reason": "duplicate"})"
                : key == "POST /api/v1/users/{username}/authorize" ? R"({"authorized": false})"
                                                                   : "{}";
        for (const std::string &who : kPrincipals) {
            Caller caller = callers[who];
            /* Logging out ends the session: use a fresh one for that request. */
            if (key == "POST /api/v1/logout" && !caller.cookie.empty())
                caller = login(client, who);
            auto headers = caller.headers(write);
            headers.push_back({"Content-Type", "application/json"});
            ClientResponse r = client.request(route.method, path, body, headers);
            bool allowed = expected->second.count("*") || expected->second.count(who);
            bool refused = r.status == 401 || r.status == 403;
            std::string what =
                    key + " as " + who + " -> " + std::to_string(r.status) + " " + r.body;
            if (allowed)
                CHECK_TEXT(!refused, ("should pass: " + what).c_str());
            else
                CHECK_TEXT(refused, ("should be refused: " + what).c_str());
            if (!allowed && who == "anonymous")
                LONGS_EQUAL_TEXT(401, r.status, what.c_str());
            ++checked;
        }
    }
    LONGS_EQUAL(routeTable().size() * kPrincipals.size(), checked);
    LONGS_EQUAL(kExpected.size(), routeTable().size());
}

TEST(Authorization, StateChangesNeedTheCsrfTokenAndCookiesAreStrict)
{
    Server server;
    addUser(server.store.get(), "reviewer", "reviewer", true);
    HttpClient client("127.0.0.1", server.http.port());
    ClientResponse r = client.request("POST", "/api/v1/login",
                                      R"({"username": "reviewer", "password": "pw-reviewer"})",
                                      {{"Content-Type", "application/json"}});
    LONGS_EQUAL(200, r.status);
    std::string cookie = r.header("set-cookie");
    CHECK(cookie.find("HttpOnly") != std::string::npos);
    CHECK(cookie.find("SameSite=Strict") != std::string::npos);
    Caller c = login(client, "reviewer");
    ClientResponse noToken =
            client.request("POST", "/api/v1/queue/next", "", {{"Cookie", c.cookie}});
    LONGS_EQUAL(403, noToken.status);
    CHECK(noToken.body.find("CSRF") != std::string::npos);
    ClientResponse wrong = client.request("POST", "/api/v1/queue/next", "",
                                          {{"Cookie", c.cookie}, {"X-CSRF-Token", "0000"}});
    LONGS_EQUAL(403, wrong.status);
    ClientResponse ok = client.request("POST", "/api/v1/queue/next", "",
                                       {{"Cookie", c.cookie}, {"X-CSRF-Token", c.csrf}});
    LONGS_EQUAL(200, ok.status);
    /* A form post (not JSON) cannot log in: no cross-site login. */
    LONGS_EQUAL(415,
                client.request("POST", "/api/v1/login", "username=reviewer&password=pw-reviewer",
                               {{"Content-Type", "application/x-www-form-urlencoded"}})
                        .status);
    for (int i = 0; i < 5; ++i)
        LONGS_EQUAL(401, client.request("POST", "/api/v1/login",
                                        R"({"username": "reviewer", "password": "nope"})",
                                        {{"Content-Type", "application/json"}})
                                 .status);
    /* Guessing is throttled: even the right password waits now. */
    LONGS_EQUAL(429, client.request("POST", "/api/v1/login",
                                    R"({"username": "reviewer", "password": "pw-reviewer"})",
                                    {{"Content-Type", "application/json"}})
                             .status);
}

TEST_GROUP(Routes){};

TEST(Routes, PatternsMatchWholeSegments)
{
    std::map<std::string, std::string> p;
    CHECK(matchRoute("/api/v1/cases/{id}", "/api/v1/cases/12", &p));
    STRCMP_EQUAL("12", p["id"].c_str());
    p.clear();
    CHECK(!matchRoute("/api/v1/cases/{id}", "/api/v1/cases/12/claim", &p));
    CHECK(!matchRoute("/api/v1/cases/{id}", "/api/v1/cases/", &p));
    CHECK(matchRoute("/api/v1/records/{device}/{seq}", "/api/v1/records/d1/7", &p));
    STRCMP_EQUAL("d1", p["device"].c_str());
    STRCMP_EQUAL("7", p["seq"].c_str());
    CHECK(matchRoute("/", "/", &p));
    CHECK(!matchRoute("/", "/x", &p));
}

TEST(Routes, PasswordHashIsSaltedScrypt)
{
    std::string a = hashPassword("secret"), b = hashPassword("secret");
    CHECK(a != b);
    CHECK(a.rfind("scrypt$15$8$1$", 0) == 0);
    CHECK(verifyPassword("secret", a));
    CHECK(!verifyPassword("Secret", a));
    CHECK(!verifyPassword("secret", "plain"));
    CHECK(!verifyPassword("secret", "scrypt$40$8$1$00$00"));
}

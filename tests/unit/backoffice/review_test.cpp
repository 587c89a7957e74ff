/* The review flow over real HTTP against the in-process server: checklists pre-filled
 * from the record, approval refused while items are unconfirmed or contradicted by the
 * record, the server-signed approval carrying the reviewer's signature, a decision
 * after lease expiry refused loudly, the case's vehicle identity (or null), and the pure
 * chain verdicts. */

#include <nlohmann/json.hpp>

#include "backoffice/auth.h"
#include "backoffice/chain.h"
#include "backoffice/client.h"
#include "backoffice/http_server.h"
#include "backoffice/review.h"
#include "backoffice/server.h"
#include "backoffice_fixture.h"

#include <CppUTest/TestHarness.h>

using namespace stopline::backoffice;
using namespace stopline::backoffice::testing;
using namespace stopline::evidence;
using nlohmann::json;

namespace {

struct Site
{
    TempStore store{false};
    std::unique_ptr<SigningKey> key = SigningKey::generate();
    int64_t fakeNow = 0; /* 0: the real clock */
    BackofficeApp app;
    HttpServer http;
    std::unique_ptr<HttpClient> client;
    std::string cookie, csrf;

    explicit Site(AppConfig config = {})
        : app(store.get(), key.get(), config),
          http(options(), [this](const HttpRequest &r) { return app.handle(r); })
    {
        store->setClock([this] { return fakeNow ? fakeNow : nowNs(); });
        http.start();
        client = std::make_unique<HttpClient>("127.0.0.1", http.port());
    }
    static HttpServerOptions options()
    {
        HttpServerOptions o;
        o.listen = "127.0.0.1:0";
        o.threads = 2;
        return o;
    }
    void reviewer(const std::string &name)
    {
        store->addUser(name, "Officer " + name, "reviewer", hashPassword("pw"));
        store->setAuthorized(name, true);
        std::string img = "\x89PNG signature " + name;
        store->setSignature(name, {sha256(img), "image/png", img});
        ClientResponse r = client->request("POST", "/api/v1/login",
                                           json{{"username", name}, {"password", "pw"}}.dump(),
                                           {{"Content-Type", "application/json"}});
        LONGS_EQUAL(200, r.status);
        cookie = r.header("set-cookie").substr(0, r.header("set-cookie").find(';'));
        csrf = json::parse(r.body)["csrf"];
    }
    ClientResponse call(const std::string &method, const std::string &path,
                        const json &body = json::object())
    {
        return client->request(
                method, path, method == "GET" ? "" : body.dump(),
                {{"Cookie", cookie}, {"X-CSRF-Token", csrf}, {"Content-Type", "application/json"}});
    }
};

/* Seals genesis plus the given violations for `dev`, ingests them. */
void ingestViolations(Site &site, TestDevice &dev, std::vector<Record> violations)
{
    Ingest ingest(site.store.get(), site.key.get(), "t");
    ChainWriter writer(dev.id, dev.key.get(), 0, {});
    int64_t t = 1'700'000'000'000'000'000;
    Record g = makeGenesis(*dev.key, "SN");
    g.mutable_created()->set_utc_ns(t);
    LONGS_EQUAL(201, ingest.record(dev.id, writer.seal(g).bytes).status);
    for (Record &r : violations)
        LONGS_EQUAL(201, ingest.record(dev.id, writer.seal(r).bytes).status);
}

json allChecked(const json &kase)
{
    json c = json::object();
    for (const json &it : kase["checklist"])
        c[it["key"].get<std::string>()] = true;
    return c;
}

} /* namespace */

TEST_GROUP(Review){};

TEST(Review, ApprovalNeedsTheChecklistAndCarriesTheReviewersSignature)
{
    Site site;
    TestDevice dev(site.store.get(), "dev-r");
    ingestViolations(site, dev, {stopline::testkit::sampleViolation(1, 1'700'000'001'000'000'000)});
    site.reviewer("alice");
    json next = json::parse(site.call("POST", "/api/v1/queue/next").body);
    int64_t id = next["case"]["id"];
    json kase = json::parse(site.call("GET", "/api/v1/cases/" + std::to_string(id)).body);
    CHECK(kase["mine"].get<bool>());
    STRCMP_EQUAL("ok", kase["verification"][0].get<std::string>().c_str());
    /* Red light: the record proves red at the A-shot and the yellow; the eyes the rest. */
    std::map<std::string, json> proven;
    for (const json &it : kase["checklist"])
        proven[it["key"]] = it["proven"];
    CHECK(proven.at("light_red") == true);
    CHECK(proven.at("yellow_minimum") == true);
    CHECK(proven.at("behind_line_first_photo").is_null());
    CHECK(proven.at("plate_legible").is_null());
    CHECK(proven.count("plate_matches") && proven.count("location_code") &&
          proven.count("continues_through"));

    json partial = allChecked(kase);
    partial["plate_legible"] = false;
    ClientResponse refused = site.call(
            "POST", "/api/v1/cases/" + std::to_string(id) + "/decision",
            {{"version", kase["version"]}, {"decision", "approve"}, {"checklist", partial}});
    LONGS_EQUAL(422, refused.status);
    CHECK(refused.body.find("Plate legible") != std::string::npos);

    ClientResponse ok = site.call("POST", "/api/v1/cases/" + std::to_string(id) + "/decision",
                                  {{"version", kase["version"]},
                                   {"decision", "approve"},
                                   {"checklist", allChecked(kase)}});
    LONGS_EQUAL_TEXT(200, ok.status, ok.body.c_str());
    json approval =
            json::parse(site.call("GET", "/api/v1/cases/" + std::to_string(id) + "/approval").body);
    std::string statement = approval["statement"], sig, why;
    CHECK(fromHex(approval["signature"].get<std::string>(), &sig));
    CHECK_TEXT(checkApproval(statement, sig, site.key->publicKey(), &why), why.c_str());
    std::string forged = statement;
    forged[forged.find("alice")] = 'm';
    CHECK(!checkApproval(forged, sig, site.key->publicKey(), &why));
    json st = json::parse(statement);
    STRCMP_EQUAL("alice", st["reviewer"]["username"].get<std::string>().c_str());
    STRCMP_EQUAL(toHex(sha256("\x89PNG signature alice")).c_str(),
                 st["reviewer"]["signature_sha256"].get<std::string>().c_str());
    STRCMP_EQUAL(kase["record_hash"].get<std::string>().c_str(),
                 st["record_hash"].get<std::string>().c_str());
    LONGS_EQUAL(id, st["case_id"].get<int64_t>());
    CHECK(st["decided_utc_ns"].get<int64_t>() > 0);
    /* The decision is in the audit log with time on case, and the queue is empty. */
    bool audited = false;
    for (const AuditEntry &a : site.store->audit(50, 0, "case:" + std::to_string(id)))
        audited = audited || (a.action == "decide" && a.actor == "alice" &&
                              a.detail.find("approved time_on_case_ms=") == 0);
    CHECK(audited);
    LONGS_EQUAL(0, site.store->queueStats().queued);
}

TEST(Review, RecordThatContradictsTheChecklistCannotBeApproved)
{
    Site site;
    TestDevice dev(site.store.get(), "dev-y");
    Record shortYellow = stopline::testkit::sampleViolation(1, 1'700'000'001'000'000'000);
    shortYellow.mutable_violation()->mutable_signal()->set_measured_yellow_us(
            2'900'000); /* min 3.5 s */
    Record school = stopline::testkit::sampleViolation(2, 1'700'000'002'000'000'000);
    Violation *v = school.mutable_violation();
    v->set_type(SCHOOL_ZONE_SPEED);
    v->mutable_school_zone()->set_beacon_flashing(true);
    v->mutable_school_zone()->set_school_in_session(true);
    v->mutable_speed()->set_posted_limit(20);
    v->mutable_speed()->set_threshold_over(4);
    v->mutable_speed()->set_corrected_speed(31);
    v->mutable_latest_self_check()->set_kind(SELF_CHECK_PERIODIC);
    v->mutable_latest_self_check()->set_passed(false); /* radar not working properly */
    ingestViolations(site, dev, {shortYellow, school});
    site.reviewer("bob");
    for (const char *expect : {"Yellow not shorter", "Radar working properly"}) {
        json next = json::parse(site.call("POST", "/api/v1/queue/next").body);
        int64_t id = next["case"]["id"];
        json kase = json::parse(site.call("GET", "/api/v1/cases/" + std::to_string(id)).body);
        ClientResponse r = site.call("POST", "/api/v1/cases/" + std::to_string(id) + "/decision",
                                     {{"version", kase["version"]},
                                      {"decision", "approve"},
                                      {"checklist", allChecked(kase)}});
        LONGS_EQUAL_TEXT(422, r.status, r.body.c_str());
        CHECK_TEXT(r.body.find(expect) != std::string::npos, r.body.c_str());
        ClientResponse bad = site.call(
                "POST", "/api/v1/cases/" + std::to_string(id) + "/decision",
                {{"version", kase["version"]}, {"decision", "reject"}, {"reason", "made-up"}});
        LONGS_EQUAL(400, bad.status);
        ClientResponse other = site.call(
                "POST", "/api/v1/cases/" + std::to_string(id) + "/decision",
                {{"version", kase["version"]}, {"decision", "reject"}, {"reason", "other"}});
        LONGS_EQUAL(400, other.status); /* 'other' needs a note */
        ClientResponse rej = site.call(
                "POST", "/api/v1/cases/" + std::to_string(id) + "/decision",
                {{"version", kase["version"]},
                 {"decision", "reject"},
                 {"reason", std::string(expect).find("Yellow") == 0 ? "yellow_too_short"
                                                                    : "radar_self_check_invalid"}});
        LONGS_EQUAL_TEXT(200, rej.status, rej.body.c_str());
    }
    auto school_case = site.store->caseInfo(2);
    STRCMP_EQUAL("school_zone_speed", school_case->violationType.c_str());
    STRCMP_EQUAL("radar_self_check_invalid", school_case->reasonCode.c_str());
}

TEST(Review, DecisionAfterLeaseExpiryIsRefusedOverHttp)
{
    AppConfig config;
    config.leaseNs = 60'000'000'000;
    Site site(config);
    site.fakeNow = 1'800'000'000'000'000'000;
    TestDevice dev(site.store.get(), "dev-l");
    ingestViolations(site, dev, {stopline::testkit::sampleViolation(1, 1'700'000'001'000'000'000)});
    site.reviewer("carol");
    json next = json::parse(site.call("POST", "/api/v1/queue/next").body);
    int64_t id = next["case"]["id"];
    json kase = json::parse(site.call("GET", "/api/v1/cases/" + std::to_string(id)).body);
    site.fakeNow += config.leaseNs + 1'000'000'000;
    ClientResponse late = site.call("POST", "/api/v1/cases/" + std::to_string(id) + "/decision",
                                    {{"version", kase["version"]},
                                     {"decision", "approve"},
                                     {"checklist", allChecked(kase)}});
    LONGS_EQUAL(409, late.status);
    CHECK_TEXT(late.body.find("lease on the case expired") != std::string::npos, late.body.c_str());
    STRCMP_EQUAL("queued", site.store->caseInfo(id)->status.c_str()); /* nothing saved */
}

/* The case carries Violation.identity as written: every field, the plate regions as
 * boxes, the two-image speed figures only where the record has that check, and null for
 * a record made before camera calibration. */
TEST(Review, CaseCarriesHowThePhotosWereBoundToTheVehicle)
{
    Site site;
    TestDevice dev(site.store.get(), "dev-i");
    Record old = stopline::testkit::sampleViolation(1, 1'700'000'001'000'000'000);
    Record red = stopline::testkit::sampleViolation(2, 1'700'000'002'000'000'000);
    VehicleIdentity *ri = red.mutable_violation()->mutable_identity();
    ri->set_method("loops+image");
    ri->set_lane(2);
    ri->set_a_rear_along_m(-4.5);
    ri->set_b_rear_along_m(1.6);
    ri->mutable_a_plate_region()->set_x(210);
    ri->mutable_a_plate_region()->set_y(300);
    ri->mutable_a_plate_region()->set_width(140);
    ri->mutable_a_plate_region()->set_height(60);
    /* b_plate_region left empty: out of view */
    ri->set_zone_from_m(-6);
    ri->set_zone_to_m(11.5);
    ri->mutable_searched_from()->set_utc_ns(1'700'000'002'000'000'000);
    ri->mutable_searched_from()->set_monotonic_ns(5'000'000'000);
    ri->mutable_searched_to()->set_utc_ns(1'700'000'003'200'000'000);
    ri->mutable_searched_to()->set_monotonic_ns(6'200'000'000);
    ri->set_vehicles_in_zone(1);
    ri->set_explanation("lane 2: rear at -4.5 m at the crossing, 1.6 m in the B-shot");
    ri->set_calibration("cam-a: 6 points, worst 0.4 px");
    Record speed = stopline::testkit::sampleViolation(3, 1'700'000'003'000'000'000);
    speed.mutable_violation()->set_type(SCHOOL_ZONE_SPEED);
    VehicleIdentity *si = speed.mutable_violation()->mutable_identity();
    si->set_method("radar+image");
    si->set_lane(1);
    si->set_photo_speed_mph(40.9);
    si->set_radar_speed_mph(41.2);
    si->set_photo_speed_tolerance_mph(3);
    si->mutable_b_plate_region()->set_x(5);
    si->mutable_b_plate_region()->set_y(6);
    si->mutable_b_plate_region()->set_width(7);
    si->mutable_b_plate_region()->set_height(8);
    ingestViolations(site, dev, {old, red, speed});
    site.reviewer("dora");
    auto get = [&](int id) {
        ClientResponse r = site.call("GET", "/api/v1/cases/" + std::to_string(id));
        LONGS_EQUAL_TEXT(200, r.status, r.body.c_str());
        return json::parse(r.body);
    };

    json none = get(1);
    CHECK_TEXT(none.contains("identity") && none["identity"].is_null(), none.dump().c_str());

    json id = get(2)["identity"];
    STRCMP_EQUAL("loops+image", id["method"].get<std::string>().c_str());
    LONGS_EQUAL(2, id["lane"].get<int>());
    DOUBLES_EQUAL(-4.5, id["a_rear_along_m"].get<double>(), 1e-9);
    DOUBLES_EQUAL(1.6, id["b_rear_along_m"].get<double>(), 1e-9);
    CHECK(id["a_plate_region"] == json({{"x", 210}, {"y", 300}, {"width", 140}, {"height", 60}}));
    CHECK(id["b_plate_region"].is_null());
    DOUBLES_EQUAL(-6, id["zone_from_m"].get<double>(), 1e-9);
    DOUBLES_EQUAL(11.5, id["zone_to_m"].get<double>(), 1e-9);
    CHECK(id["photo_speed_mph"].is_null());
    CHECK(id["radar_speed_mph"].is_null());
    CHECK(id["photo_speed_tolerance_mph"].is_null());
    CHECK(id["searched_from"] ==
          json({{"utc_ns", 1'700'000'002'000'000'000}, {"monotonic_ns", 5'000'000'000}}));
    CHECK(id["searched_to"] ==
          json({{"utc_ns", 1'700'000'003'200'000'000}, {"monotonic_ns", 6'200'000'000}}));
    LONGS_EQUAL(1, id["vehicles_in_zone"].get<int>());
    STRCMP_EQUAL("lane 2: rear at -4.5 m at the crossing, 1.6 m in the B-shot",
                 id["explanation"].get<std::string>().c_str());
    STRCMP_EQUAL("cam-a: 6 points, worst 0.4 px", id["calibration"].get<std::string>().c_str());

    json sp = get(3)["identity"];
    STRCMP_EQUAL("radar+image", sp["method"].get<std::string>().c_str());
    DOUBLES_EQUAL(40.9, sp["photo_speed_mph"].get<double>(), 1e-9);
    DOUBLES_EQUAL(41.2, sp["radar_speed_mph"].get<double>(), 1e-9);
    DOUBLES_EQUAL(3.0, sp["photo_speed_tolerance_mph"].get<double>(), 1e-9);
    CHECK(sp["a_plate_region"].is_null());
    CHECK(sp["b_plate_region"] == json({{"x", 5}, {"y", 6}, {"width", 7}, {"height", 8}}));
}

TEST_GROUP(Chain){};

TEST(Chain, VerdictsWithoutStorage)
{
    Record r = stopline::testkit::sampleViolation(5, 1'700'000'005'000'000'000);
    r.set_seq(5);
    r.set_prev_hash(std::string(32, 'p'));
    ChainNeighbours n;
    n.highestSeq = 4;
    n.previous =
            ChainLink{4, std::string(32, 'p'), "", 1'700'000'004'000'000'000, 0, "sample-boot"};
    ChainDecision ok = decideChain(r, std::string(32, 'h'), n);
    CHECK(ok.accept);
    CHECK(ok.findings.empty());

    ChainNeighbours late = n;
    late.previous->utcNs = 1'700'000'010'000'000'000; /* 5 s after this one */
    ChainDecision back = decideChain(r, std::string(32, 'h'), late);
    CHECK(back.accept);
    CHECK(back.findings.size() == 1 && back.findings[0].rfind("time.backwards", 0) == 0);

    ChainNeighbours gap;
    gap.highestSeq = 1;
    ChainDecision g = decideChain(r, std::string(32, 'h'), gap);
    CHECK(g.accept);
    STRCMP_EQUAL("chain.gap 2..4", g.findings.at(0).c_str());
    LONGS_EQUAL(2, g.alarms.at(0).seqFrom);
    LONGS_EQUAL(4, g.alarms.at(0).seqTo);

    ChainNeighbours broken = n;
    broken.previous->hash = std::string(32, 'x');
    CHECK(!decideChain(r, std::string(32, 'h'), broken).accept);
    ChainNeighbours nextMismatch = n;
    nextMismatch.next = ChainLink{6, std::string(32, 'n'), std::string(32, 'z'), 0, 0, ""};
    CHECK(!decideChain(r, std::string(32, 'h'), nextMismatch).accept);
    ChainNeighbours fork = n;
    fork.sameSeq.push_back(ChainLink{5, std::string(32, 'o'), "", 0, 0, ""});
    ChainDecision f = decideChain(r, std::string(32, 'h'), fork);
    CHECK(!f.accept);
    CHECK(f.failures.at(0).rfind("chain.fork", 0) == 0);
}

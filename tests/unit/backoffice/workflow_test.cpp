/* Issue 7 workflows against the store, on SQLite and on PostgreSQL: the registry
 * import, what the rule table makes of approved cases (tasks, documents, referrals),
 * mailing, payments and the overdue list, the summons-service report, reports that
 * pre-empt issuance, the reimbursement limit, second reviews and the court packet. */

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include <archive.h>
#include <archive_entry.h>
#include <nlohmann/json.hpp>

#include "backoffice/auth.h"
#include "backoffice/ingest.h"
#include "backoffice/registry/registry.h"
#include "backoffice/review.h"
#include "backoffice/workflows/casework.h"
#include "backoffice_fixture.h"

#include <CppUTest/TestHarness.h>

using namespace stopline::backoffice;
using namespace stopline::backoffice::testing;
using namespace stopline::evidence;
using nlohmann::json;

namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kDay = 86'400 * kSec;
/* 2026-03-02 08:15:00 UTC: the tests run with TZ=UTC, so local days are UTC days. */
constexpr int64_t kT0 = 1'772'439'300 * kSec;

const char *kRegistryCsv =
        "plate,state,owner_name,owner_address,owner_phone,make,model,year,colour,ownership,"
        "agency,agency_contact,department\n"
        "ABC123,WA,Jane Roe,\"12 Main St, Bellevue WA 98004\",425-555-0101,Toyota,Camry,2019,"
        "silver,private,,,\n"
        "XYZ789,WA,John Poe,\"7 Oak Ave, Redmond WA 98052\",425-555-0102,Honda,Civic,2021,blue,"
        "private,,,\n"
        "TRK001,WA,Acme Freight LLC,\"1 Dock Rd, Kent WA 98032\",,Ford,F-150,2020,white,"
        "commercial,,,\n"
        "RNT001,WA,Speedy Rentals Inc,\"400 Airport Way, SeaTac WA 98158\",,Kia,Rio,2023,red,"
        "rental_lease,,,\n"
        "RNT002,WA,Speedy Rentals Inc,\"400 Airport Way, SeaTac WA 98158\",,Kia,Soul,2023,"
        "green,rental_lease,,,\n"
        "KCS001,WA,King County,\"500 4th Ave, Seattle WA 98104\",,Ford,Explorer,2022,black,"
        "public_safety_other_agency,King County Sheriff's Office,Lt. Smith,\n"
        "CTY001,WA,City of Bellevue,\"450 110th Ave NE, Bellevue WA 98004\",,Chevrolet,Bolt,"
        "2022,white,city_owned,,,Parks\n"
        "BPD001,WA,City of Bellevue Police,\"450 110th Ave NE, Bellevue WA 98004\",,Ford,"
        "Interceptor,2021,black,police_marked,,,\n"
        "BPD002,WA,City of Bellevue Police,\"450 110th Ave NE, Bellevue WA 98004\",,Dodge,"
        "Charger,2020,grey,police_marked,,,\n"
        "UC0001,WA,City of Bellevue Police,\"450 110th Ave NE, Bellevue WA 98004\",,Toyota,"
        "Corolla,2018,tan,police_unmarked,,,\n";

struct Env
{
    TempStore store;
    std::unique_ptr<SigningKey> serverKey = SigningKey::generate();
    Ingest ingest{store.get(), serverKey.get(), "test-server"};
    StoreRegistry registry{store.get()};
    std::unique_ptr<CaseWork> work;
    TestDevice dev;
    ChainWriter writer;
    int64_t now = kT0 + 2 * kDay + 12 * 3600 * kSec; /* the store's clock: 4 March */
    int64_t nextEvent = kT0;

    explicit Env(bool pg, WorkConfig config = {})
        : store(pg), dev(store.get(), "dev-work"), writer(dev.id, dev.key.get(), 0, {})
    {
        store->setClock([this] { return now; });
        config.secondReviewPercent = 0;
        work = std::make_unique<CaseWork>(store.get(), &registry, config);
        Record g = makeGenesis(*dev.key, "SN-1");
        g.mutable_created()->set_utc_ns(kT0 - kDay);
        LONGS_EQUAL(201, ingest.record(dev.id, writer.seal(g).bytes).status);
        RegistryImport parsed = parseRegistryCsv(kRegistryCsv, "test.csv");
        CHECK_TEXT(parsed.problems.empty(),
                   parsed.problems.empty() ? "" : parsed.problems[0].message.c_str());
        registry.import(parsed.entries);
        for (const char *u : {"alice", "bob"}) {
            store->addUser(u, std::string("Officer ") + u, "supervisor", hashPassword("pw"));
            store->setAuthorized(u, true);
            std::string img = std::string("\x89PNG signature of ") + u;
            store->setSignature(u, {sha256(img), "image/png", img});
        }
    }

    /* A red-light violation whose plate the device read as `plate`. */
    int64_t addCase(const std::string &plate, uint32_t lane = 1)
    {
        int64_t at = nextEvent;
        nextEvent += 60 * kSec;
        Record r = stopline::testkit::sampleViolation(writer.nextSeq(), at);
        r.mutable_violation()->mutable_location()->set_lane(lane);
        r.mutable_violation()->mutable_plate()->mutable_candidates(0)->set_read(plate);
        IngestReply rep = ingest.record(dev.id, writer.seal(r).bytes);
        LONGS_EQUAL_TEXT(201, rep.status, rep.body.c_str());
        return rep.caseId;
    }

    /* Claims and decides as `who`, `ms` after claiming, then runs the workflows. */
    void decide(int64_t id, bool approve, json facts = json::object(),
                const std::string &who = "alice", int64_t ms = 60'000)
    {
        std::string why;
        auto c = store->claimCase(id, who, 15 * 60 * kSec, &why);
        CHECK_TEXT(c.has_value(), why.c_str());
        now += ms * 1'000'000;
        Decision d;
        d.caseId = id;
        d.owner = who;
        d.version = c->version;
        d.decidedNs = now;
        d.timeOnCaseMs = ms;
        d.checklist = "{}";
        if (approve) {
            CHECK_EQUAL(std::string(), work->missingFacts(*c, facts));
            d.decision = "approved";
            auto rec = store->recordByRow(c->recordRow);
            d.approval = approvalStatement(*c, *rec, *store->user(who), now, json::object());
            d.approvalSignature = serverKey->sign(kApprovalDomain, d.approval);
        } else {
            d.decision = "rejected";
            d.reasonCode = "duplicate";
        }
        LONGS_EQUAL(static_cast<int>(DecideStatus::Ok),
                    static_cast<int>(store->decide(
                            d, {who, "decide", "case:" + std::to_string(id), d.decision, "test"})));
        work->afterDecision(id, facts, {who, "test"});
    }

    json file(int64_t id) { return work->caseFile(id); }
};

const Actor kTech{"tech", "127.0.0.1"};
const Actor kLt{"lt", "127.0.0.1"};

std::string stage(Env &env, int64_t id)
{
    json f = env.file(id);
    return f["file"].is_null() ? "none" : f["file"]["stage"].get<std::string>();
}

std::vector<json> openTasks(const json &file)
{
    std::vector<json> out;
    for (const json &t : file["tasks"])
        if (t["status"] == "open")
            out.push_back(t);
    return out;
}

/* Expects `fn` to throw WorkError with `status` and `words` in the message. */
template <typename F> void refused(int status, const char *words, F &&fn)
{
    try {
        fn();
        FAIL((std::string("not refused; expected ") + words).c_str());
    } catch (const WorkError &e) {
        LONGS_EQUAL_TEXT(status, e.status, e.what());
        CHECK_TEXT(std::string(e.what()).find(words) != std::string::npos, e.what());
    }
}

std::set<int64_t> overdueCases(Env &env)
{
    std::set<int64_t> out;
    json list = env.work->overdue(); /* keep the temporary alive for the loop */
    for (const json &o : list["overdue"])
        out.insert(o["case_id"].get<int64_t>());
    return out;
}

std::set<int64_t> summonsCases(Env &env)
{
    std::set<int64_t> out;
    std::string csv = env.work->summonsCsv();
    size_t pos = csv.find("\r\n") + 2;
    while (pos < csv.size()) {
        out.insert(std::stoll(csv.substr(pos + 1, csv.find('"', pos + 1) - pos - 1)));
        pos = csv.find("\r\n", pos) + 2;
    }
    return out;
}

json citationOf(const json &file, const std::string &kind, const std::string &status = "")
{
    json found = nullptr;
    for (const json &c : file["citations"])
        if (c["kind"] == kind && (status.empty() || c["status"] == status))
            found = c;
    return found;
}

#define BOTH_BACKENDS(group, name)                                                                 \
    static void name##Body(bool pg);                                                               \
    TEST(group##Sqlite, name)                                                                      \
    {                                                                                              \
        name##Body(false);                                                                         \
    }                                                                                              \
    TEST(group##Postgres, name)                                                                    \
    {                                                                                              \
        try {                                                                                      \
            TempStore probe(true);                                                                 \
        } catch (const std::exception &e) {                                                        \
            FAIL((std::string("PostgreSQL unreachable (scripts/services.sh start): ") + e.what())  \
                         .c_str());                                                                \
        }                                                                                          \
        name##Body(true);                                                                          \
    }                                                                                              \
    static void name##Body(bool pg)

void utc()
{
    setenv("TZ", "UTC", 1);
    tzset();
}

} /* namespace */

/* Every group runs with TZ=UTC (local days are UTC days). */
#define UTC_GROUP(name)                                                                            \
    TEST_GROUP(name)                                                                               \
    {                                                                                              \
        void setup() override                                                                      \
        {                                                                                          \
            utc();                                                                                 \
        }                                                                                          \
    }

UTC_GROUP(RegistryCsv);
UTC_GROUP(RegistrySqlite);
UTC_GROUP(RegistryPostgres);
UTC_GROUP(WorkflowSqlite);
UTC_GROUP(WorkflowPostgres);
UTC_GROUP(QualitySqlite);
UTC_GROUP(QualityPostgres);
UTC_GROUP(StatisticsSqlite);
UTC_GROUP(StatisticsPostgres);
UTC_GROUP(CourtPacket);

TEST(RegistryCsv, EveryBadRowIsNamedWithItsLine)
{
    RegistryImport r = parseRegistryCsv(
            "Plate,STATE,owner_name,owner_address,make,model,year,color,ownership\n"
            "abc-123,wa,Jane Roe,\"12 Main St, Bellevue\",Toyota,Camry,2019,silver,private\n"
            "BAD1,WA,X,Y,Ford,F,19x9,red,private\n"
            "BAD2,Washington,X,Y,Ford,F,2019,red,private\n"
            "BAD3,WA,X,Y,Ford,F,2019,red,police\n"
            "BAD4,WA,X,Y,Ford,F,2019,red,public_safety_other_agency\n"
            "ABC 123,WA,Dup,Z,Ford,F,2019,red,private\n"
            "SHORT,WA,X\n"
            "\n"
            "\"Q\"\"1\",WA,\"Multi\nLine\",Addr,Kia,Rio,2020,red,commercial\n",
            "x.csv");
    LONGS_EQUAL(2, r.entries.size());
    STRCMP_EQUAL("ABC123", r.entries[0].plate.c_str());
    STRCMP_EQUAL("WA", r.entries[0].state.c_str());
    STRCMP_EQUAL("12 Main St, Bellevue", r.entries[0].ownerAddress.c_str());
    STRCMP_EQUAL("silver", r.entries[0].colour.c_str());
    STRCMP_EQUAL("Q1", r.entries[1].plate.c_str());
    STRCMP_EQUAL("Multi\nLine", r.entries[1].ownerName.c_str());
    std::map<size_t, std::string> byLine;
    for (const CsvProblem &p : r.problems)
        byLine[p.line] = p.message;
    LONGS_EQUAL(6, byLine.size());
    CHECK(byLine[3].find("year '19x9'") != std::string::npos);
    CHECK(byLine[4].find("state 'Washington'") != std::string::npos);
    CHECK(byLine[5].find("ownership 'police'") != std::string::npos);
    CHECK(byLine[6].find("agency_contact") != std::string::npos);
    CHECK(byLine[7].find("already given on line 2") != std::string::npos);
    CHECK(byLine[8].find("3 fields") != std::string::npos);

    RegistryImport header = parseRegistryCsv("plate,state,owner,year\n", "h.csv");
    CHECK(header.entries.empty());
    bool unknown = false, missing = false;
    for (const CsvProblem &p : header.problems) {
        unknown = unknown || p.message.find("unknown column 'owner'") != std::string::npos;
        missing = missing || p.message.find("missing column 'make'") != std::string::npos;
    }
    CHECK(unknown && missing);
    CHECK(parseRegistryCsv("plate,\"state\n", "q.csv")
                  .problems.at(0)
                  .message.find("never closed") != std::string::npos);
}

BOTH_BACKENDS(Registry, ImportUpsertsLookupNormalizesSearchFindsOwners)
{
    utc();
    Env env(pg);
    LONGS_EQUAL(10, env.registry.count());
    auto e = env.registry.lookup("abc 123", "WA");
    CHECK(e.has_value());
    STRCMP_EQUAL("Jane Roe", e->ownerName.c_str());
    STRCMP_EQUAL("425-555-0101", e->ownerPhone.c_str());
    CHECK(!env.registry.lookup("ABC123", "OR"));
    auto kcs = env.registry.lookup("KCS001", "WA");
    STRCMP_EQUAL("Lt. Smith", kcs->agencyContact.c_str());
    CHECK(kcs->ownership == Ownership::PublicSafetyOtherAgency);
    LONGS_EQUAL(1, env.registry.search("ROE", 10).size());
    LONGS_EQUAL(2, env.registry.search("rnt", 10).size());
    LONGS_EQUAL(4, env.registry.search("city of bellevue", 10).size());
    LONGS_EQUAL(0, env.registry.search("100%", 10).size());
    /* Re-importing updates in place: nothing duplicated, the new owner wins. */
    RegistryImport again = parseRegistryCsv(
            "plate,state,owner_name,owner_address,make,model,year,colour,ownership\n"
            "ABC123,WA,Jane Roe-Smith,New address,Toyota,Camry,2019,silver,private\n",
            "update.csv");
    env.registry.import(again.entries);
    LONGS_EQUAL(10, env.registry.count());
    STRCMP_EQUAL("Jane Roe-Smith", env.registry.lookup("ABC123", "WA")->ownerName.c_str());
}

BOTH_BACKENDS(Workflow, PrivateCitationMailedPaidOverdueAndSummons)
{
    utc();
    Env env(pg);
    int64_t a = env.addCase("ABC123"), b = env.addCase("XYZ789"), r = env.addCase("TRK001");
    json v = env.work->vehicle(*env.store->caseInfo(a));
    STRCMP_EQUAL("Toyota", v["registry"]["make"].get<std::string>().c_str());
    CHECK(!v["needs_lights"].get<bool>());
    env.decide(a, true);
    env.decide(b, true);
    env.decide(r, false); /* rejected: no file, no documents */
    STRCMP_EQUAL("none", stage(env, r).c_str());

    json fa = env.file(a);
    STRCMP_EQUAL("citation_owner", fa["file"]["stage"].get<std::string>().c_str());
    auto tasks = openTasks(fa);
    LONGS_EQUAL(1, tasks.size());
    STRCMP_EQUAL("technician", tasks[0]["role"].get<std::string>().c_str());
    STRCMP_EQUAL("Mail the citation to the registered owner",
                 tasks[0]["title"].get<std::string>().c_str());
    STRCMP_EQUAL("2026-03-16", tasks[0]["due_date"].get<std::string>().c_str());
    json cit = citationOf(fa, "citation");
    STRCMP_EQUAL("pending", cit["status"].get<std::string>().c_str());
    STRCMP_EQUAL("Jane Roe", cit["recipient_name"].get<std::string>().c_str());
    STRCMP_EQUAL("$136.00", cit["amount"].get<std::string>().c_str());
    STRCMP_EQUAL("Jane Roe", fa["file"]["contact"]["name"].get<std::string>().c_str());
    LONGS_EQUAL(2, env.work->mailQueue()["pending"].size());

    /* Mailed on 4 March: due 30 days later; the mailing task is done; the PDF is kept. */
    int64_t citA = cit["id"], citB = citationOf(env.file(b), "citation")["id"];
    json mailed = env.work->markMailed({{"ids", {citA}}, {"mailed_date", "2026-03-04"}}, kTech);
    STRCMP_EQUAL("2026-04-03", mailed["mailed"][0]["due_date"].get<std::string>().c_str());
    fa = env.file(a);
    STRCMP_EQUAL("issued", citationOf(fa, "citation")["status"].get<std::string>().c_str());
    CHECK(citationOf(fa, "citation")["has_pdf"].get<bool>());
    CHECK(openTasks(fa).empty());
    refused(409, "not waiting to be mailed", [&] {
        env.work->markMailed({{"ids", {citA}}}, kTech);
    });
    refused(422, "in the future", [&] {
        env.work->markMailed({{"ids", {citB}}, {"mailed_date", "2026-12-01"}}, kTech);
    });
    refused(422, "before the violation", [&] {
        env.work->markMailed({{"ids", {citB}}, {"mailed_date", "2026-02-20"}}, kTech);
    });
    env.work->markMailed({{"ids", {citB}}, {"mailed_date", "2026-03-04"}}, kTech);
    std::string filename;
    std::string pdf = env.work->citationPdf(citA, &filename);
    CHECK(pdf.rfind("%PDF-", 0) == 0);
    CHECK(filename.find("SL-") == 0);

    /* Not overdue on the due date itself; overdue the day after. */
    env.now = kT0 + 32 * kDay; /* 3 April */
    CHECK(overdueCases(env).empty());
    env.now = kT0 + 34 * kDay; /* 5 April: both past due */
    CHECK(overdueCases(env) == (std::set<int64_t>{a, b}));
    CHECK(summonsCases(env) == (std::set<int64_t>{a, b}));

    /* A partial payment keeps the case overdue; too much is refused and not recorded. */
    json p1 = env.work->recordPayment(
            a, {{"amount", "36.00"}, {"method", "check"}, {"reference", "chk 1001"}}, kTech);
    STRCMP_EQUAL("$100.00", p1["balance"].get<std::string>().c_str());
    CHECK(overdueCases(env).count(a));
    refused(422, "more than the balance $100.00", [&] {
        env.work->recordPayment(a, {{"amount", 200}, {"method", "cash"}}, kTech);
    });
    refused(422, "'method'", [&] {
        env.work->recordPayment(a, {{"amount", 1}, {"method", "barter"}}, kTech);
    });
    refused(422, "'amount'", [&] {
        env.work->recordPayment(a, {{"amount", "1.234"}, {"method", "cash"}}, kTech);
    });
    LONGS_EQUAL(1, env.file(a)["payments"].size());
    json p2 = env.work->recordPayment(a, {{"amount", 100}, {"method", "card"}}, kTech);
    CHECK(p2["paid_in_full"].get<bool>());
    refused(409, "already paid", [&] {
        env.work->recordPayment(a, {{"amount", 1}, {"method", "cash"}}, kTech);
    });
    CHECK(overdueCases(env) == (std::set<int64_t>{b}));
    CHECK(summonsCases(env) == (std::set<int64_t>{b}));

    /* The contact log and current contact information reach the officers' report. */
    env.work->logContact(b,
                         {{"channel", "phone"},
                          {"person", "John Poe"},
                          {"outcome", "promised to pay"},
                          {"notes", "by Friday"}},
                         kTech);
    env.work->updateContact(
            b, {{"address", "99 New Rd, Bellevue WA 98005"}, {"phone", "425-555-0199"}}, kTech);
    json od = env.work->overdue()["overdue"][0];
    STRCMP_EQUAL("promised to pay", od["last_outcome"].get<std::string>().c_str());
    STRCMP_EQUAL("99 New Rd, Bellevue WA 98005", od["address"].get<std::string>().c_str());
    std::string csv = env.work->summonsCsv();
    CHECK_TEXT(csv.find("\"99 New Rd, Bellevue WA 98005\",\"425-555-0199\"") != std::string::npos,
               csv.c_str());
    CHECK(env.work->summonsPdf().rfind("%PDF-", 0) == 0);
    refused(422, "'channel'", [&] {
        env.work->logContact(b, {{"channel", "pigeon"}, {"outcome", "x"}}, kTech);
    });

    /* Search: plate, owner, citation number, case id. */
    auto found = [&](const std::string &q) {
        std::set<int64_t> ids;
        json res = env.work->search(q);
        for (const json &x : res["results"])
            ids.insert(x["case_id"].get<int64_t>());
        return ids;
    };
    CHECK(found("abc-123") == (std::set<int64_t>{a}));
    CHECK(found("roe") == (std::set<int64_t>{a}));
    CHECK(found(citationOf(env.file(b), "citation")["number"]) == (std::set<int64_t>{b}));
    CHECK(found("case " + std::to_string(r)) == (std::set<int64_t>{r}));
    CHECK(found("nobody-by-that-name").empty());
}

BOTH_BACKENDS(Workflow, OwnerNamesTheDriverAndTheCitationIsAmended)
{
    utc();
    Env env(pg);
    int64_t a = env.addCase("ABC123"), t = env.addCase("TRK001");
    env.decide(a, true);
    env.decide(t, true);
    refused(422, "'driver_address'", [&] {
        env.work->ownerDeclaration(a, {{"driver_name", "Sam Roe"}}, kTech);
    });
    json out = env.work->ownerDeclaration(
            a, {{"driver_name", "Sam Roe"}, {"driver_address", "3 Elm St, Bellevue WA 98004"}},
            kTech);
    STRCMP_EQUAL("private.driver_named", out["row"].get<std::string>().c_str());
    json f = env.file(a);
    STRCMP_EQUAL("superseded", f["citations"][0]["status"].get<std::string>().c_str());
    STRCMP_EQUAL("Sam Roe", f["citations"][1]["recipient_name"].get<std::string>().c_str());
    STRCMP_EQUAL("pending", f["citations"][1]["status"].get<std::string>().c_str());
    STRCMP_EQUAL("Sam Roe", f["file"]["contact"]["name"].get<std::string>().c_str());
    LONGS_EQUAL(1, openTasks(f).size());
    refused(409, "no citation to the registered owner",
            [&] { env.work->ownerDeclaration(a, json::object(), kTech); });
    /* A commercial owner cannot pass the ticket on. */
    refused(409, "privately owned", [&] {
        env.work->ownerDeclaration(t, {{"driver_name", "X"}, {"driver_address", "Y"}}, kTech);
    });
}

BOTH_BACKENDS(Workflow, RentalNoticeThenEighteenDaysThenTheBusiness)
{
    utc();
    Env env(pg);
    int64_t late = env.addCase("RNT001"), ontime = env.addCase("RNT002");
    env.decide(late, true);
    env.decide(ontime, true);
    json f = env.file(late);
    STRCMP_EQUAL("rental_notice", f["file"]["stage"].get<std::string>().c_str());
    json notice = citationOf(f, "rental_notice");
    STRCMP_EQUAL("Speedy Rentals Inc", notice["recipient_name"].get<std::string>().c_str());
    refused(409, "no rental notice is waiting", [&] { env.work->rentalLapse(late, kTech); });
    /* Mailed 3 March: presumed received 6 March, the window ends with 24 March. */
    env.work->markMailed(
            {{"ids", {notice["id"], citationOf(env.file(ontime), "rental_notice")["id"]}},
             {"mailed_date", "2026-03-03"}},
            kTech);
    f = env.file(late);
    STRCMP_EQUAL("2026-03-24", f["rental_window_ends"].get<std::string>().c_str());
    auto tasks = openTasks(f);
    LONGS_EQUAL(1, tasks.size());
    STRCMP_EQUAL("rental.notice_mailed", tasks[0]["rule"].get<std::string>().c_str());
    STRCMP_EQUAL("2026-03-24", tasks[0]["due_date"].get<std::string>().c_str());

    env.now = kT0 + 22 * kDay + 15 * 3600 * kSec; /* 24 March, afternoon */
    refused(409, "has until the end of 2026-03-24", [&] { env.work->rentalLapse(late, kTech); });
    json named = env.work->rentalAnswer(
            ontime, {{"renter_name", "Ann Driver"}, {"renter_address", "5 Pine St, Tacoma WA"}},
            kTech);
    STRCMP_EQUAL("rental.renter_named", named["row"].get<std::string>().c_str());
    json fo = env.file(ontime);
    STRCMP_EQUAL("answered", citationOf(fo, "rental_notice")["status"].get<std::string>().c_str());
    STRCMP_EQUAL("renter", citationOf(fo, "citation")["recipient_role"].get<std::string>().c_str());
    STRCMP_EQUAL("Ann Driver", fo["file"]["contact"]["name"].get<std::string>().c_str());

    env.now = kT0 + 23 * kDay; /* 25 March */
    refused(409, "after its 18 days ended on 2026-03-24", [&] {
        env.work->rentalAnswer(late, {{"renter_name", "Late Larry"}, {"renter_address", "X"}},
                               kTech);
    });
    CHECK(citationOf(env.file(late), "citation").is_null()); /* nothing changed */
    json lapsed = env.work->rentalLapse(late, kTech);
    STRCMP_EQUAL("rental.window_lapsed", lapsed["row"].get<std::string>().c_str());
    f = env.file(late);
    STRCMP_EQUAL("lapsed", citationOf(f, "rental_notice")["status"].get<std::string>().c_str());
    json business = citationOf(f, "citation");
    STRCMP_EQUAL("Speedy Rentals Inc", business["recipient_name"].get<std::string>().c_str());
    STRCMP_EQUAL("rental_business", business["recipient_role"].get<std::string>().c_str());
    STRCMP_EQUAL("2026-04-08", openTasks(f)[0]["due_date"].get<std::string>().c_str());
}

BOTH_BACKENDS(Workflow, PoliceVehiclesLightsOpsAndTheReimbursementLimit)
{
    utc();
    Env env(pg);
    int64_t lit = env.addCase("BPD001"), unlit = env.addCase("BPD002"),
            again = env.addCase("BPD001");
    CHECK(env.work->missingFacts(*env.store->caseInfo(lit), json::object())
                  .find("emergency lights") != std::string::npos);
    env.decide(lit, true, {{"emergency_lights", true}});
    json f = env.file(lit);
    STRCMP_EQUAL("closed_lights", f["file"]["stage"].get<std::string>().c_str());
    CHECK(openTasks(f).empty());
    CHECK(f["citations"].empty());
    LONGS_EQUAL(1, f["tasks"].size());

    env.decide(unlit, true, {{"emergency_lights", false}, {"on_duty", true}});
    f = env.file(unlit);
    STRCMP_EQUAL("ops_inquiry", f["file"]["stage"].get<std::string>().c_str());
    STRCMP_EQUAL("professional_standards", openTasks(f)[0]["role"].get<std::string>().c_str());
    CHECK(openTasks(f)[0]["detail"].get<std::string>().find("presumption") != std::string::npos);
    /* Officer E-77 already reimbursed three times in the last three years. */
    for (int64_t ago : {400, 700, 1000})
        env.store->rawQuery("INSERT INTO reimbursements (case_id, employee, elected_ns, "
                            "citation_id) VALUES (0, 'E-77', ?, 0)",
                            {env.now - ago * kDay});
    refused(409, "presumed justified", [&] {
        env.work->opsFinding(
                unlit, {{"justified", false}, {"employee", "E-77"}, {"reimburse", true}}, kLt);
    });
    json out = env.work->opsFinding(unlit,
                                    {{"justified", false},
                                     {"employee", "E-77"},
                                     {"reimburse", true},
                                     {"rebuttal", "no call for service"}},
                                    kLt);
    STRCMP_EQUAL("ops.reimbursement_refused", out["row"].get<std::string>().c_str());
    CHECK(out["task"]["detail"].get<std::string>().find("3 reimbursements within 3 years") !=
          std::string::npos);
    CHECK(citationOf(env.file(unlit), "reimbursement").is_null());

    /* Another officer with two: the reimbursement is due and tracked like a payment. */
    env.decide(again, true, {{"emergency_lights", false}});
    for (int64_t ago : {30, 500})
        env.store->rawQuery("INSERT INTO reimbursements (case_id, employee, elected_ns, "
                            "citation_id) VALUES (0, 'E-12', ?, 0)",
                            {env.now - ago * kDay});
    out = env.work->opsFinding(
            again, {{"justified", false}, {"employee", "E-12"}, {"reimburse", true}}, kLt);
    STRCMP_EQUAL("ops.reimbursement", out["row"].get<std::string>().c_str());
    json r = citationOf(env.file(again), "reimbursement");
    STRCMP_EQUAL("issued", r["status"].get<std::string>().c_str());
    STRCMP_EQUAL("E-12", r["recipient_name"].get<std::string>().c_str());
    env.now += 31 * kDay;
    CHECK(overdueCases(env) == (std::set<int64_t>{again}));
    CHECK(summonsCases(env).empty()); /* employees are not served summons */
    env.work->recordPayment(again, {{"amount", "136"}, {"method", "check"}}, kTech);
    CHECK(openTasks(env.file(again)).empty());
    CHECK(overdueCases(env).empty());
}

BOTH_BACKENDS(Workflow, CityOwnedAndOutsideAgencyReferrals)
{
    utc();
    Env env(pg);
    int64_t city = env.addCase("CTY001"), kcso = env.addCase("KCS001");
    env.decide(city, true);
    env.decide(kcso, true);
    json f = env.file(city);
    STRCMP_EQUAL("fleet_manager", f["file"]["stage"].get<std::string>().c_str());
    json task = openTasks(f)[0];
    STRCMP_EQUAL("reviewing_officer", task["role"].get<std::string>().c_str());
    CHECK(task["detail"].get<std::string>().find("Parks") != std::string::npos);
    refused(409, "closes when you record the department", [&] {
        env.work->taskDone(task["id"], {{"note", "done"}}, kTech);
    });
    env.work->departmentIdentified(city, {{"department", "Parks"}, {"contact", "Pat Lee"}}, kLt);
    f = env.file(city);
    STRCMP_EQUAL("department_referral", f["file"]["stage"].get<std::string>().c_str());
    json copy = citationOf(f, "department_copy");
    STRCMP_EQUAL("Pat Lee, Parks", copy["recipient_name"].get<std::string>().c_str());
    task = openTasks(f)[0];
    STRCMP_EQUAL("traffic_lieutenant", task["role"].get<std::string>().c_str());
    refused(409, "record the referral", [&] {
        env.work->taskDone(task["id"], {{"note", "done"}}, kLt);
    });
    refused(422, "'disposition'", [&] {
        env.work->recordReferral(city, {{"person_contacted", "Pat Lee"}, {"organization", "Parks"}},
                                 kLt);
    });
    env.work->recordReferral(city,
                             {{"referred_date", "2026-03-03"},
                              {"person_contacted", "Pat Lee"},
                              {"organization", "Parks Department"},
                              {"disposition", "forwarded to the department contact"}},
                             kLt);
    f = env.file(city);
    CHECK(openTasks(f).empty());
    STRCMP_EQUAL("2026-03-03", f["referrals"][0]["referred_date"].get<std::string>().c_str());
    STRCMP_EQUAL("Pat Lee", f["referrals"][0]["person_contacted"].get<std::string>().c_str());

    json k = env.file(kcso);
    STRCMP_EQUAL("agency_referral", k["file"]["stage"].get<std::string>().c_str());
    STRCMP_EQUAL("Lt. Smith, King County Sheriff's Office",
                 citationOf(k, "agency_copy")["recipient_name"].get<std::string>().c_str());
    /* Mailing the copy does not close the Lieutenant's task: the referral record does. */
    env.work->markMailed({{"ids", {citationOf(k, "agency_copy")["id"]}}}, kTech);
    k = env.file(kcso);
    STRCMP_EQUAL("referred", citationOf(k, "agency_copy")["status"].get<std::string>().c_str());
    LONGS_EQUAL(1, openTasks(k).size());
    CHECK(overdueCases(env).empty());
    env.work->recordReferral(kcso,
                             {{"person_contacted", "Lt. Smith"},
                              {"organization", "KCSO"},
                              {"disposition", "referred to Lieutenant Smith of the KCSO"}},
                             kLt);
    CHECK(openTasks(env.file(kcso)).empty());
}

BOTH_BACKENDS(Workflow, EmployeeReportsPreemptIssuance)
{
    utc();
    Env env(pg);
    int64_t uc = env.addCase("UC0001"), off = env.addCase("XYZ789");
    /* The supervisor reported before the case reached the back-office. */
    json rep = env.work->employeeReport({{"kind", "supervisor"},
                                         {"plate", "uc0001"},
                                         {"state", "wa"},
                                         {"occurred_date", "2026-03-02"},
                                         {"employee", "E-5"},
                                         {"supervisor", "Sgt. Kim"},
                                         {"justified", true},
                                         {"narrative", "narcotics follow, with caution"}},
                                        kLt);
    CHECK(rep["applied"].is_null());
    env.decide(uc, true, {{"emergency_lights", false}});
    json f = env.file(uc);
    STRCMP_EQUAL("preempted", f["file"]["stage"].get<std::string>().c_str());
    STRCMP_EQUAL("traffic_section_commander", openTasks(f)[0]["role"].get<std::string>().c_str());
    CHECK(f["citations"].empty());
    LONGS_EQUAL(1, f["reports"].size());

    /* Off duty in a private car: the citation waits for OPS, then is pre-empted. */
    env.decide(off, true);
    env.work->employeeReport({{"kind", "off_duty"},
                              {"case_id", off},
                              {"employee", "E-9"},
                              {"narrative", "assisted an officer in need"}},
                             kLt);
    f = env.file(off);
    STRCMP_EQUAL("off_duty_inquiry", f["file"]["stage"].get<std::string>().c_str());
    STRCMP_EQUAL("held", citationOf(f, "citation")["status"].get<std::string>().c_str());
    LONGS_EQUAL(0, env.work->mailQueue()["pending"].size());
    env.work->opsFinding(off, {{"justified", true}}, kLt);
    f = env.file(off);
    STRCMP_EQUAL("preempted", f["file"]["stage"].get<std::string>().c_str());
    STRCMP_EQUAL("cancelled", citationOf(f, "citation")["status"].get<std::string>().c_str());
    refused(422, "'kind'", [&] {
        env.work->employeeReport({{"kind", "rumour"}, {"employee", "x"}, {"narrative", "y"}}, kLt);
    });
}

BOTH_BACKENDS(Workflow, OwnerUnknownIsResearchedThenRouted)
{
    utc();
    Env env(pg);
    int64_t id = env.addCase("NOPE99");
    env.decide(id, true);
    json f = env.file(id);
    STRCMP_EQUAL("owner_unknown", f["file"]["stage"].get<std::string>().c_str());
    STRCMP_EQUAL("Research the owner (no registry entry)",
                 openTasks(f)[0]["title"].get<std::string>().c_str());
    /* The technician finds the car under another reading of the plate. */
    env.work->setVehicle(id, {{"plate", "XYZ 789"}, {"state", "wa"}}, kTech);
    json routed = env.work->route(id, json::object(), kTech);
    STRCMP_EQUAL("private", routed["row"].get<std::string>().c_str());
    f = env.file(id);
    STRCMP_EQUAL("citation_owner", f["file"]["stage"].get<std::string>().c_str());
    STRCMP_EQUAL("John Poe",
                 citationOf(f, "citation")["recipient_name"].get<std::string>().c_str());
    refused(409, "already routed", [&] { env.work->route(id, json::object(), kTech); });
    refused(409, "already routed", [&] {
        env.work->setVehicle(id, {{"plate", "ABC123"}, {"state", "WA"}}, kTech);
    });
    LONGS_EQUAL(0, env.work->tasks("", false)["unrouted"].size());
}

BOTH_BACKENDS(Quality, FastDecisionsAreFlaggedForASecondReviewByAnotherSupervisor)
{
    utc();
    WorkConfig config;
    config.minReviewMs = 10'000;
    Env env(pg, config);
    int64_t fast = env.addCase("ABC123"), slow = env.addCase("XYZ789");
    env.decide(fast, true, json::object(), "alice", 3'000);
    env.decide(slow, false, json::object(), "alice", 30'000);
    json q = env.work->quality();
    LONGS_EQUAL(1, q["pending"].size());
    LONGS_EQUAL(fast, q["pending"][0]["case_id"].get<int64_t>());
    CHECK(q["pending"][0]["rubber_stamp"].get<bool>());
    LONGS_EQUAL(3'000, q["pending"][0]["time_on_case_ms"].get<int64_t>());
    const json &alice = q["reviewers"][0];
    STRCMP_EQUAL("alice", alice["reviewer"].get<std::string>().c_str());
    LONGS_EQUAL(1, alice["approved"].get<int64_t>());
    LONGS_EQUAL(1, alice["rejected"].get<int64_t>());
    LONGS_EQUAL(16'500, alice["median_time_on_case_ms"].get<int64_t>());
    LONGS_EQUAL(1, alice["faster_than_minimum"].get<int64_t>());
    refused(409, "another supervisor", [&] {
        env.work->secondReview(fast, {{"verdict", "agree"}}, {"alice", "x"});
    });
    refused(422, "'note'", [&] {
        env.work->secondReview(fast, {{"verdict", "disagree"}}, {"bob", "x"});
    });
    env.work->secondReview(fast, {{"verdict", "agree"}, {"note", "plate clear"}}, {"bob", "x"});
    refused(409, "already had", [&] {
        env.work->secondReview(fast, {{"verdict", "agree"}}, {"bob", "x"});
    });
    refused(404, "not queued", [&] {
        env.work->secondReview(slow, {{"verdict", "agree"}}, {"bob", "x"});
    });
    q = env.work->quality();
    CHECK(q["pending"].empty());
    STRCMP_EQUAL("bob", q["done"][0]["reviewer"].get<std::string>().c_str());
}

BOTH_BACKENDS(Statistics, ViolationsByLaneAndHourDecisionsByReasonAndReviewer)
{
    utc();
    Env env(pg);
    int64_t a = env.addCase("ABC123", 1), b = env.addCase("XYZ789", 2),
            c = env.addCase("TRK001", 2);
    env.decide(a, true, json::object(), "alice", 40'000);
    env.decide(b, false, json::object(), "bob", 20'000);
    env.store->addHeartbeat(env.dev.id, R"({"uptime_s": 3600, "radar": {"ok": true}})");
    Record sc;
    sc.mutable_created()->set_utc_ns(env.nextEvent);
    sc.mutable_clock()->set_synchronized(true);
    sc.mutable_clock()->set_boot_id("sample-boot");
    SelfCheck *chk = sc.mutable_self_check();
    chk->set_kind(SELF_CHECK_PERIODIC);
    chk->mutable_at()->set_utc_ns(env.nextEvent);
    chk->set_passed(false);
    chk->add_items()->set_name("report_rate");
    LONGS_EQUAL(201, env.ingest.record(env.dev.id, env.writer.seal(sc).bytes).status);
    json s = env.work->statistics(30);

    LONGS_EQUAL(3, s["total"].get<int64_t>());
    LONGS_EQUAL(1, s["approved"].get<int64_t>());
    LONGS_EQUAL(1, s["rejected"].get<int64_t>());
    LONGS_EQUAL(1, s["queued"].get<int64_t>());
    std::map<std::string, int64_t> lanes;
    for (const json &l : s["by_lane"])
        lanes[l["key"]] = l["count"];
    CHECK(lanes == (std::map<std::string, int64_t>{{"lane 1", 1}, {"lane 2", 2}}));
    LONGS_EQUAL(3, s["by_hour"][8]["count"].get<int64_t>()); /* 08:15 to 08:17 */
    STRCMP_EQUAL("duplicate", s["rejections_by_reason"][0]["key"].get<std::string>().c_str());
    LONGS_EQUAL(2, s["by_reviewer"].size());
    /* alice approved in 40 s, bob rejected in 20 s: neither under the 15 s minimum. */
    for (const auto &[i, name, approved, ms] :
         {std::tuple{0, "alice", 1, 40'000}, std::tuple{1, "bob", 0, 20'000}}) {
        const json &r = s["by_reviewer"][i];
        STRCMP_EQUAL(name, r["reviewer"].get<std::string>().c_str());
        LONGS_EQUAL(approved, r["approved"].get<int64_t>());
        LONGS_EQUAL(1 - approved, r["rejected"].get<int64_t>());
        LONGS_EQUAL(ms, r["median_time_on_case_ms"].get<int64_t>());
        LONGS_EQUAL(0, r["faster_than_minimum"].get<int64_t>());
    }
    LONGS_EQUAL(3, s["yellow_by_site"][0]["count"].get<int64_t>());
    json dev = s["devices"][0];
    LONGS_EQUAL(1, dev["heartbeats"].size());
    LONGS_EQUAL(3600, dev["heartbeats"][0]["uptime_s"].get<int64_t>());
    LONGS_EQUAL(1, dev["self_checks"].size());
    CHECK(!dev["self_checks"][0]["passed"].get<bool>());
    STRCMP_EQUAL("report_rate", dev["self_checks"][0]["failed"][0].get<std::string>().c_str());
    (void)c;
}

namespace {

std::map<std::string, std::string> unzip(const std::string &zip)
{
    std::map<std::string, std::string> out;
    std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(),
                                                                    archive_read_free);
    archive_read_support_format_zip(a.get());
    if (archive_read_open_memory(a.get(), zip.data(), zip.size()) != ARCHIVE_OK)
        FAIL(archive_error_string(a.get()));
    struct archive_entry *e;
    while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
        std::string bytes;
        char buf[8192];
        for (la_ssize_t n; (n = archive_read_data(a.get(), buf, sizeof(buf))) > 0;)
            bytes.append(buf, static_cast<size_t>(n));
        out[archive_entry_pathname(e)] = bytes;
    }
    return out;
}

} /* namespace */

TEST(CourtPacket, HoldsTheExactRecordItsChainTheApprovalAndTheAuditTrail)
{
    Env env(false);
    int64_t before = env.addCase("XYZ789");
    int64_t id = env.addCase("ABC123");
    env.addCase("TRK001"); /* the next record, so the chain context has both sides */
    env.decide(id, true);
    json cit = citationOf(env.file(id), "citation");
    env.work->markMailed({{"ids", {cit["id"]}}, {"mailed_date", "2026-03-02"}}, kTech);
    env.work->recordPayment(id, {{"amount", 136}, {"method", "online"}}, kTech);
    std::map<std::string, std::string> files =
            unzip(env.work->courtPacket(id, *env.serverKey, kTech));
    std::string p = "case-" + std::to_string(id) + "/";
    auto stored = env.store->recordByRow(env.store->caseInfo(id)->recordRow);
    CHECK(files.at(p + "record.slr") == stored->bytes);
    CHECK(!files.at(p + "receipt.bin").empty());
    std::string report = files.at(p + "verification.txt");
    CHECK_TEXT(report.find("(this case): ok") != std::string::npos, report.c_str());
    CHECK_TEXT(report.find("previous record links: yes") != std::string::npos, report.c_str());
    CHECK_TEXT(report.find("next record links back: yes") != std::string::npos, report.c_str());
    CHECK_TEXT(report.find("Approval statement signature") != std::string::npos, report.c_str());
    json chain = json::parse(files.at(p + "chain.json"));
    CHECK(chain["previous"]["links"].get<bool>());
    CHECK(chain["next"]["links"].get<bool>());
    CHECK(json::parse(files.at(p + "approval.json"))["verifies"].get<bool>());
    std::string auditCsv = files.at(p + "audit.csv");
    for (const char *action : {"\"decide\"", "\"rule\"", "\"mail\"", "\"payment\""})
        CHECK_TEXT(auditCsv.find(action) != std::string::npos, action);
    CHECK(files.at(p + "documents/" + cit["number"].get<std::string>() + ".pdf")
                  .rfind("%PDF-", 0) == 0);
    Record rec;
    SealedRecord env2;
    CHECK(env2.ParseFromString(stored->bytes) && rec.ParseFromString(env2.record()));
    CHECK(files.at(p + "photos/photo-a.jpg") == rec.violation().frames(0).data());
    CHECK(files.count(p + "keys/" + env.dev.key->keyId() + ".pub"));
    CHECK(json::parse(files.at(p + "case-file.json"))["case"]["id"] == id);
    /* Exporting is itself audited. */
    bool audited = false;
    for (const AuditEntry &a : env.store->audit(50, 0, "case:" + std::to_string(id)))
        audited = audited || a.action == "court-packet";
    CHECK(audited);
    (void)before;
}

/* The storage and queue suite: every test runs on SQLite and on a real PostgreSQL
 * server (issue 5: "one test suite runs against both"). */

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "backoffice/auth.h"
#include "backoffice/ingest.h"
#include "backoffice_fixture.h"
#include "evidence/verify.h"

#include <CppUTest/TestHarness.h>

using namespace stopline::backoffice;
using namespace stopline::backoffice::testing;
using namespace stopline::evidence;
namespace testkit = stopline::testkit;

namespace {

struct Env
{
    TempStore store;
    std::unique_ptr<SigningKey> serverKey = SigningKey::generate();
    Ingest ingest{store.get(), serverKey.get(), "test-server"};
    explicit Env(bool pg) : store(pg) {}
};

std::string flipByteInBlob(const std::string &sealed)
{
    /* Change one pixel byte inside the A-shot: the signature no longer matches. */
    std::string out = sealed;
    out[out.size() / 2] ^= 0x01;
    return out;
}

bool hasCode(const IngestReply &r, const std::string &code)
{
    return std::find(r.codes.begin(), r.codes.end(), code) != r.codes.end() ||
           r.body.find(code) != std::string::npos;
}

/* Loads `count` records into the store through ingest; returns the chain. */
testkit::SampleChain loadChain(Env &env, TestDevice &dev, unsigned count)
{
    testkit::SampleChain chain = dev.chain(count);
    for (const Sealed &s : chain.records) {
        IngestReply r = env.ingest.record(dev.id, s.bytes);
        if (r.status != 201)
            FAIL(("ingest of seq " + std::to_string(s.seq) + " answered " +
                  std::to_string(r.status) + ": " + r.body)
                         .c_str());
    }
    return chain;
}

/* The test body, once; registered for both backends. */
#define BOTH_BACKENDS(name)                                                                        \
    static void name##Body(Env &env);                                                              \
    TEST(StoreSqlite, name)                                                                        \
    {                                                                                              \
        Env env(false);                                                                            \
        name##Body(env);                                                                           \
    }                                                                                              \
    TEST(StorePostgres, name)                                                                      \
    {                                                                                              \
        std::unique_ptr<Env> env;                                                                  \
        try {                                                                                      \
            env = std::make_unique<Env>(true);                                                     \
        } catch (const std::exception &e) {                                                        \
            FAIL((std::string("PostgreSQL unreachable (scripts/services.sh start): ") + e.what())  \
                         .c_str());                                                                \
        }                                                                                          \
        name##Body(*env);                                                                          \
    }                                                                                              \
    static void name##Body(Env &env)

} /* namespace */

TEST_GROUP(StoreSqlite){};
TEST_GROUP(StorePostgres){};

BOTH_BACKENDS(MigrationsAreVersionedAndIdempotent)
{
    LONGS_EQUAL(kSchemaVersion, env.store->schemaVersion());
    LONGS_EQUAL(kSchemaVersion, env.store->migrate());
    auto rows = env.store->rawQuery("SELECT COUNT(*) FROM schema_version");
    LONGS_EQUAL(kSchemaVersion, rows[0].integer(0));
}

BOTH_BACKENDS(FirstUploadStoresExactBytesAndReceiptRepeatsIdentically)
{
    TestDevice dev(env.store.get(), "dev-a");
    testkit::SampleChain chain = dev.chain(3);
    for (const Sealed &s : chain.records) {
        IngestReply first = env.ingest.record(dev.id, s.bytes);
        LONGS_EQUAL(201, first.status);
        std::string reason;
        CHECK_TEXT(checkReceipt(first.body, env.serverKey->publicKey(), dev.id, s.seq, s.recordHash,
                                &reason),
                   reason.c_str());
        IngestReply again = env.ingest.record(dev.id, s.bytes);
        LONGS_EQUAL(200, again.status);
        CHECK(first.body == again.body); /* byte-identical receipt */
        auto stored = env.store->record(dev.id, s.seq);
        CHECK(stored.has_value());
        CHECK(stored->bytes == s.bytes);
        CHECK(stored->hash == s.recordHash);
    }
    LONGS_EQUAL(3, env.store->countRecords());
    /* Genesis opens no case; each violation opens one, named in its receipt. */
    LONGS_EQUAL(2, env.store->queueStats().queued);
}

BOTH_BACKENDS(RefusesTamperedUnknownForeignAndGarbage)
{
    TestDevice dev(env.store.get(), "dev-b");
    testkit::SampleChain chain = loadChain(env, dev, 2);
    testkit::SampleChain more = dev.chain(3);

    IngestReply tampered = env.ingest.record(dev.id, flipByteInBlob(more.records[2].bytes));
    CHECK(tampered.status >= 400 && tampered.status < 500);
    CHECK_TEXT(hasCode(tampered, "signature.invalid") || hasCode(tampered, "blob.hash_mismatch") ||
                       hasCode(tampered, "format.invalid"),
               tampered.body.c_str());

    auto stranger = SigningKey::generate();
    testkit::SampleChain foreign =
            testkit::makeSampleChain(*stranger, dev.id, 1, 1'700'000'000'000'000'000);
    IngestReply unknown = env.ingest.record(dev.id, foreign.records[0].bytes);
    LONGS_EQUAL(422, unknown.status);
    CHECK_TEXT(hasCode(unknown, "key.unknown"), unknown.body.c_str());

    TestDevice other(env.store.get(), "dev-other");
    IngestReply wrongDevice = env.ingest.record(other.id, more.records[2].bytes);
    LONGS_EQUAL(403, wrongDevice.status);

    IngestReply garbage = env.ingest.record(dev.id, "this is not a protobuf \xff\xfe");
    LONGS_EQUAL(400, garbage.status);
    CHECK(hasCode(garbage, "format.invalid"));
    /* Nothing accepted before was lost or changed. */
    LONGS_EQUAL(2, env.store->countRecords());
    CHECK(env.store->record(dev.id, 1)->bytes == chain.records[1].bytes);
}

BOTH_BACKENDS(GapRaisesAlarmResolvedWhenFilled)
{
    TestDevice dev(env.store.get(), "dev-gap");
    testkit::SampleChain chain = dev.chain(6);
    for (int seq : {0, 1, 4}) {
        IngestReply r = env.ingest.record(dev.id, chain.records[seq].bytes);
        LONGS_EQUAL(201, r.status);
        if (seq == 4)
            CHECK_TEXT(hasCode(r, "chain.gap"), r.body.c_str());
    }
    auto open = env.store->alarms(true);
    LONGS_EQUAL(1, open.size());
    STRCMP_EQUAL("chain.gap", open[0].kind.c_str());
    LONGS_EQUAL(2, open[0].seqFrom);
    LONGS_EQUAL(3, open[0].seqTo);
    LONGS_EQUAL(201, env.ingest.record(dev.id, chain.records[2].bytes).status);
    LONGS_EQUAL(1, env.store->alarms(true).size());
    LONGS_EQUAL(201, env.ingest.record(dev.id, chain.records[3].bytes).status);
    LONGS_EQUAL(0, env.store->alarms(true).size());
}

BOTH_BACKENDS(ForkIsRefusedQuarantinedAndAlarmed)
{
    TestDevice dev(env.store.get(), "dev-fork");
    loadChain(env, dev, 3);
    /* Same key, same seq, different content: equivocation. */
    testkit::SampleChain twin = dev.chain(3, 1'700'000'100'000'000'000);
    IngestReply r = env.ingest.record(dev.id, twin.records[2].bytes);
    LONGS_EQUAL(409, r.status);
    CHECK_TEXT(hasCode(r, "chain.fork"), r.body.c_str());
    LONGS_EQUAL(1, env.store->rawQuery("SELECT COUNT(*) FROM quarantine")[0].integer(0));
    bool alarmed = false;
    for (const Alarm &a : env.store->alarms(true))
        alarmed = alarmed || a.kind == "chain.fork";
    CHECK(alarmed);
    /* A record whose prev_hash does not link to the stored seq-1. */
    IngestReply broken = env.ingest.record(dev.id, [&] {
        testkit::SampleChain t = dev.chain(4, 1'700'000'100'000'000'000);
        return t.records[3].bytes;
    }());
    LONGS_EQUAL(409, broken.status);
    CHECK_TEXT(hasCode(broken, "chain.broken"), broken.body.c_str());
    LONGS_EQUAL(3, env.store->countRecords());
}

BOTH_BACKENDS(CheckpointDetectsTruncationAndMismatch)
{
    TestDevice dev(env.store.get(), "dev-cp");
    testkit::SampleChain chain = dev.chain(5);
    for (int seq = 0; seq < 3; ++seq)
        LONGS_EQUAL(201, env.ingest.record(dev.id, chain.records[seq].bytes).status);
    IngestReply cp = env.ingest.checkpoint(dev.id, chain.checkpoint); /* names seq 4 */
    LONGS_EQUAL(201, cp.status);
    CHECK_TEXT(hasCode(cp, "chain.truncated"), cp.body.c_str());
    auto open = env.store->alarms(true);
    LONGS_EQUAL(1, open.size());
    STRCMP_EQUAL("chain.truncated", open[0].kind.c_str());
    LONGS_EQUAL(200, env.ingest.checkpoint(dev.id, chain.checkpoint).status); /* idempotent */
    LONGS_EQUAL(1, env.store->alarms(true).size());
    for (int seq = 3; seq < 5; ++seq)
        LONGS_EQUAL(201, env.ingest.record(dev.id, chain.records[seq].bytes).status);
    LONGS_EQUAL(0, env.store->alarms(true).size());
    /* A checkpoint of another history at a seq we hold: mismatch. */
    testkit::SampleChain other = dev.chain(5, 1'700'000'200'000'000'000);
    IngestReply mismatch = env.ingest.checkpoint(dev.id, other.checkpoint);
    CHECK_TEXT(hasCode(mismatch, "checkpoint.mismatch"), mismatch.body.c_str());
    LONGS_EQUAL(1, env.store->alarms(true).size());
}

BOTH_BACKENDS(MediaIsContentAddressedAndStoredOnce)
{
    TestDevice dev(env.store.get(), "dev-media");
    testkit::SampleChain chain = loadChain(env, dev, 3);
    SealedRecord env1;
    Record r;
    CHECK(env1.ParseFromString(chain.records[1].bytes) && r.ParseFromString(env1.record()));
    const Frame &a = r.violation().frames(0);
    auto m = env.store->media(a.sha256());
    CHECK(m.has_value());
    CHECK(m->bytes == a.data());
    STRCMP_EQUAL("image/jpeg", m->contentType.c_str());
    int64_t before = env.store->rawQuery("SELECT COUNT(*) FROM media")[0].integer(0);
    env.store->putMedia({a.sha256(), "image/jpeg", a.data()});
    LONGS_EQUAL(before, env.store->rawQuery("SELECT COUNT(*) FROM media")[0].integer(0));
    /* 2 violations x (A, B, plate crop) */
    LONGS_EQUAL(6, before);
}

BOTH_BACKENDS(TwoReviewersClaimingAtOnceNeverGetTheSameCase)
{
    TestDevice dev(env.store.get(), "dev-q");
    loadChain(env, dev, 41); /* 40 cases */
    std::vector<std::vector<int64_t>> got(4);
    std::atomic<bool> failed{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            try {
                std::string me = "reviewer" + std::to_string(t);
                for (;;) {
                    auto c = env.store->claimNext(me, 60'000'000'000);
                    if (!c)
                        break;
                    got[t].push_back(c->id);
                    Decision d;
                    d.caseId = c->id;
                    d.owner = me;
                    d.version = c->version;
                    d.decision = "rejected";
                    d.reasonCode = "duplicate";
                    d.decidedNs = env.store->now();
                    if (env.store->decide(d, {me, "decide", "case:" + std::to_string(c->id), "",
                                              "t"}) != DecideStatus::Ok)
                        failed = true;
                }
            } catch (...) {
                failed = true;
            }
        });
    for (auto &t : threads)
        t.join();
    CHECK(!failed);
    std::set<int64_t> all;
    size_t total = 0;
    for (auto &v : got) {
        total += v.size();
        all.insert(v.begin(), v.end());
    }
    LONGS_EQUAL(40, total);
    LONGS_EQUAL(40, all.size()); /* no case handed out twice */
    LONGS_EQUAL(0, env.store->queueStats().queued);
    CHECK(env.store->verifyAudit().ok);
}

BOTH_BACKENDS(DecisionAfterLeaseExpiryIsRefused)
{
    TestDevice dev(env.store.get(), "dev-lease");
    loadChain(env, dev, 3);
    int64_t fake = 1'800'000'000'000'000'000;
    env.store->setClock([&] { return fake; });
    const int64_t lease = 10'000'000'000;
    auto a = env.store->claimNext("alice", lease);
    CHECK(a.has_value());
    /* Asking again returns the case already held: no hoarding. */
    LONGS_EQUAL(a->id, env.store->claimNext("alice", lease)->id);
    auto b = env.store->claimNext("bob", lease);
    CHECK(b.has_value());
    CHECK(a->id != b->id);
    LONGS_EQUAL(0, env.store->claimNext("carol", lease).has_value());

    fake += lease + 1;
    Decision d;
    d.caseId = a->id;
    d.owner = "alice";
    d.version = a->version;
    d.decision = "rejected";
    d.reasonCode = "other";
    d.decidedNs = fake;
    LONGS_EQUAL(static_cast<int>(DecideStatus::LeaseExpired),
                static_cast<int>(env.store->decide(d, {"alice", "decide", "case", "", ""})));
    /* The expired case goes to the next claimer; alice's stale decision stays refused. */
    auto c = env.store->claimNext("carol", lease);
    CHECK(c.has_value());
    CHECK(c->id == a->id || c->id == b->id);
    auto mine = env.store->claimCase(a->id, "carol", lease, nullptr);
    LONGS_EQUAL(static_cast<int>(DecideStatus::NotOwner),
                static_cast<int>(env.store->decide(d, {"alice", "decide", "case", "", ""})));
    /* Version check: carol's decision with an old version fails. */
    Decision e = d;
    e.owner = "carol";
    e.version = mine ? mine->version - 1 : 0;
    CHECK(mine.has_value());
    LONGS_EQUAL(static_cast<int>(DecideStatus::VersionMismatch),
                static_cast<int>(env.store->decide(e, {"carol", "decide", "case", "", ""})));
    e.version = mine->version;
    LONGS_EQUAL(static_cast<int>(DecideStatus::Ok),
                static_cast<int>(env.store->decide(e, {"carol", "decide", "case", "", ""})));
    LONGS_EQUAL(static_cast<int>(DecideStatus::AlreadyDecided),
                static_cast<int>(env.store->decide(e, {"carol", "decide", "case", "", ""})));
    CHECK(env.store->caseInfo(a->id)->status == "rejected");
}

BOTH_BACKENDS(ReleaseLetsOthersClaim)
{
    TestDevice dev(env.store.get(), "dev-rel");
    loadChain(env, dev, 2);
    auto a = env.store->claimNext("alice", 60'000'000'000);
    CHECK(a.has_value());
    CHECK(!env.store->claimNext("bob", 60'000'000'000).has_value());
    CHECK(!env.store->release(a->id, "bob"));
    CHECK(env.store->release(a->id, "alice"));
    auto b = env.store->claimNext("bob", 60'000'000'000);
    CHECK(b.has_value());
    LONGS_EQUAL(a->id, b->id);
}

BOTH_BACKENDS(AuditChainDetectsEdits)
{
    for (int i = 0; i < 5; ++i)
        env.store->appendAudit({"alice", "view", "case:" + std::to_string(i), "", "127.0.0.1"});
    AuditVerification ok = env.store->verifyAudit();
    CHECK(ok.ok);
    LONGS_EQUAL(5, ok.entries);
    env.store->rawQuery("UPDATE audit SET actor = 'mallory' WHERE seq = 3");
    AuditVerification bad = env.store->verifyAudit();
    CHECK(!bad.ok);
    LONGS_EQUAL(3, bad.firstBadSeq);
    env.store->rawQuery("UPDATE audit SET actor = 'alice' WHERE seq = 3");
    CHECK(env.store->verifyAudit().ok);
    env.store->rawQuery("DELETE FROM audit WHERE seq = 2");
    CHECK(!env.store->verifyAudit().ok);
}

BOTH_BACKENDS(UsersSessionsAndSignatures)
{
    std::string hash = hashPassword("correct horse");
    int64_t id = env.store->addUser("alice", "Officer Alice", "reviewer", hash);
    CHECK_THROWS(DbError, env.store->addUser("alice", "again", "reviewer", hash));
    auto u = env.store->user("alice");
    CHECK(u.has_value());
    CHECK(verifyPassword("correct horse", u->passwordHash));
    CHECK(!verifyPassword("wrong", u->passwordHash));
    CHECK(!u->authorized);
    CHECK(u->signatureSha256.empty());
    env.store->setAuthorized("alice", true);
    std::string png = "\x89PNG fake signature";
    env.store->setSignature("alice", {sha256(png), "image/png", png});
    u = env.store->user("alice");
    CHECK(u->authorized);
    CHECK(u->signatureSha256 == sha256(png));
    CHECK(env.store->media(sha256(png))->bytes == png);
    env.store->createSession({"tokhash", id, "csrf", 1, 2, "1.2.3.4"});
    CHECK(env.store->session("tokhash")->userId == id);
    env.store->deleteSession("tokhash");
    CHECK(!env.store->session("tokhash").has_value());
}

BOTH_BACKENDS(HeartbeatsAreValidatedAndKept)
{
    TestDevice dev(env.store.get(), "dev-hb");
    IngestReply ok = env.ingest.heartbeat(
            dev.id,
            R"({"time_utc_ns": 1, "camera": {"ok": true, "fps": 29.5}, "spool": {"depth": 3},
                        "enforcement": {"suspended": true, "reason": "radar self-check stale"},
                        "future_field": [1, 2]})");
    LONGS_EQUAL(201, ok.status);
    IngestReply bad = env.ingest.heartbeat(dev.id, R"({"spool": {"depth": "three"}})");
    LONGS_EQUAL(400, bad.status);
    CHECK_TEXT(bad.body.find("spool/depth") != std::string::npos, bad.body.c_str());
    LONGS_EQUAL(400, env.ingest.heartbeat(dev.id, "not json").status);
    LONGS_EQUAL(403, env.ingest.heartbeat(dev.id, R"({"device_id": "someone-else"})").status);
    auto latest = env.store->latestHeartbeats();
    LONGS_EQUAL(1, latest.size());
    CHECK(latest[0].body.find("radar self-check stale") != std::string::npos);
    CHECK(latest[0].body.find("future_field") != std::string::npos);
}

/* Issue 16: the login throttle counts per (account, address) and per address, and
 * decides and counts in one transaction (here on both backends' SQL). */
BOTH_BACKENDS(LoginThrottleIsPerAddressAndAtomic)
{
    const LoginLimits limits;
    auto verdict = [&](const char *user, const char *ip, bool ok) {
        return static_cast<int>(env.store->settleLogin(user, ip, ok, limits));
    };
    for (int i = 0; i < 5; ++i)
        LONGS_EQUAL(static_cast<int>(LoginVerdict::Failed), verdict("x", "10.0.0.1", false));
    LONGS_EQUAL(static_cast<int>(LoginVerdict::Throttled), verdict("x", "10.0.0.1", true));
    CHECK(env.store->loginThrottled("x", "10.0.0.1", limits));
    CHECK_FALSE(env.store->loginThrottled("x", "10.0.0.2", limits));
    LONGS_EQUAL(static_cast<int>(LoginVerdict::Allowed), verdict("x", "10.0.0.2", true));
    /* Concurrent failures for one account from one address: exactly five are counted. */
    std::atomic<int> failed{0};
    std::vector<std::thread> guessers;
    for (int i = 0; i < 12; ++i)
        guessers.emplace_back([&] {
            if (env.store->settleLogin("y", "10.0.0.3", false, limits) == LoginVerdict::Failed)
                ++failed;
        });
    for (std::thread &t : guessers)
        t.join();
    LONGS_EQUAL(5, failed.load());
}

/* Back-office benchmark (issue 5):
 * 1. ingest throughput of 200 KB sealed records over real HTTP (in-process server on
 *    loopback, keep-alive client, as one device uploads) on SQLite and PostgreSQL, with a
 *    baseline measured in the same process: committing the same bytes into a bare table
 *    of the same database one transaction each (what durability alone costs);
 * 2. claim-plus-decide latency (p50/p99) with 100,000 cases stored, on both backends.
 * Medians over repetitions; the machine is shared and noisy. Prints one JSON line last. */

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backoffice/client.h"
#include "backoffice/http_server.h"
#include "backoffice/server.h"
#include "backoffice/store/store.h"
#include "evidence/crypto.h"
#include "evidence/seal.h"

using namespace stopline::backoffice;
using namespace stopline::evidence;
using Clock = std::chrono::steady_clock;

namespace {

std::string pgUrl()
{
    const char *env = std::getenv("STOPLINE_TEST_PG");
    return env && *env ? env : "postgresql://stopline:stopline-test@localhost/stopline_test";
}

double seconds(Clock::time_point a, Clock::time_point b)
{
    return std::chrono::duration<double>(b - a).count();
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

double percentile(std::vector<double> v, double p)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

/* A red-light violation of about 200 KB: A-shot and B-shot of 90 KB, a 20 KB crop. */
Record bigViolation(uint64_t i, int64_t utc)
{
    Record r;
    r.mutable_created()->set_utc_ns(utc);
    r.mutable_created()->set_monotonic_ns(utc % 1'000'000'000'000);
    r.mutable_clock()->set_synchronized(true);
    r.mutable_clock()->set_boot_id("bench");
    Violation *v = r.mutable_violation();
    v->set_type(RED_LIGHT);
    v->mutable_location()->set_code("BENCH-1");
    v->mutable_event()->set_utc_ns(utc);
    for (auto [role, size] : {std::pair{FRAME_A_SHOT, 90'000}, std::pair{FRAME_B_SHOT, 90'000}}) {
        Frame *f = v->add_frames();
        f->set_role(role);
        f->set_encoding("jpeg");
        f->set_data(randomBytes(size));
    }
    Frame *crop = v->mutable_plate()->add_candidates()->mutable_crop();
    crop->set_role(FRAME_PLATE_CROP);
    crop->set_encoding("jpeg");
    crop->set_data(randomBytes(20'000));
    return r;
}

struct Backend
{
    std::string name;
    std::unique_ptr<Store> store;
    std::string schema; /* PostgreSQL */
    std::string dir;    /* SQLite */
};

Backend openBackend(bool pg)
{
    Backend b;
    std::string tag = toHex(randomBytes(5));
    if (pg) {
        b.name = "postgresql";
        b.schema = "bench_" + tag;
        b.store = Store::openPostgres(pgUrl(), b.schema, 4);
    } else {
        b.name = "sqlite";
        /* STOPLINE_BENCH_DIR=/dev/shm separates CPU cost from fsync cost. */
        const char *base = std::getenv("STOPLINE_BENCH_DIR");
        b.dir = std::string(base && *base ? base : "/var/tmp") + "/stopline-bench-" + tag;
        b.store = Store::openSqliteDir(b.dir, 4);
    }
    return b;
}

void closeBackend(Backend &b)
{
    b.store.reset();
    if (!b.schema.empty())
        openPostgres(pgUrl(), "")->execScript("DROP SCHEMA IF EXISTS " + b.schema + " CASCADE");
    if (!b.dir.empty())
        std::filesystem::remove_all(b.dir);
}

/* records/s of one device uploading in order over HTTP, and of the bare baseline. */
std::pair<double, double> ingestRun(bool pg, unsigned count)
{
    Backend b = openBackend(pg);
    auto serverKey = SigningKey::generate(), deviceKey = SigningKey::generate();
    std::string token = "bench-token";
    b.store->enrollDevice("bench-dev", "Bench", "",
                          {deviceKey->keyId(), "bench-dev", deviceKey->publicKey().raw(), INT64_MIN,
                           INT64_MAX, INT64_MAX, "enrolled"},
                          hexSha256(token));
    ChainWriter writer("bench-dev", deviceKey.get(), 0, {});
    std::vector<std::string> sealed;
    int64_t t = 1'700'000'000'000'000'000;
    Record g = makeGenesis(*deviceKey, "SN");
    g.mutable_created()->set_utc_ns(t);
    sealed.push_back(writer.seal(g).bytes);
    for (unsigned i = 1; i <= count; ++i) {
        Record r = bigViolation(i, t + i * 1'000'000'000LL);
        sealed.push_back(writer.seal(r).bytes);
    }
    BackofficeApp app(b.store.get(), serverKey.get(), AppConfig{});
    HttpServerOptions o;
    o.listen = "127.0.0.1:0";
    o.threads = 2;
    HttpServer server(o, [&](const HttpRequest &r) { return app.handle(r); });
    server.start();
    HttpClient client("127.0.0.1", server.port());
    std::vector<std::pair<std::string, std::string>> h = {{"Authorization", "Bearer " + token}};
    client.request("POST", "/api/v1/records", sealed[0], h);
    auto t0 = Clock::now();
    for (unsigned i = 1; i <= count; ++i) {
        ClientResponse r = client.request("POST", "/api/v1/records", sealed[i], h);
        if (r.status != 201)
            throw std::runtime_error("ingest answered " + std::to_string(r.status) + " " + r.body);
    }
    double ingest = count / seconds(t0, Clock::now());
    server.stop();

    /* Baseline: the same bytes, committed one per transaction into a bare table of the
     * same database with the same durability settings. */
    b.store->rawQuery(pg ? "CREATE TABLE bare (id BIGSERIAL PRIMARY KEY, bytes BYTEA NOT NULL)"
                         : "CREATE TABLE bare (id INTEGER PRIMARY KEY, bytes BLOB NOT NULL)");
    t0 = Clock::now();
    for (unsigned i = 1; i <= count; ++i)
        b.store->rawQuery("INSERT INTO bare (bytes) VALUES (?)", {Blob{sealed[i]}});
    double bare = count / seconds(t0, Clock::now());
    closeBackend(b);
    return {ingest, bare};
}

struct QueueResult
{
    double p50Ms, p99Ms, loadS;
};

QueueResult queueRun(bool pg, unsigned cases, unsigned decisions)
{
    Backend b = openBackend(pg);
    auto t0 = Clock::now();
    const unsigned batch = 10'000;
    for (unsigned start = 0; start < cases; start += batch) {
        std::vector<NewRecord> rs;
        for (unsigned i = start; i < std::min(cases, start + batch); ++i) {
            NewRecord r;
            r.deviceId = "dev-" + std::to_string(i % 20);
            r.seq = i;
            r.hash = sha256(std::to_string(i));
            r.kind = "violation";
            r.recordId = r.deviceId + "-" + std::to_string(i);
            r.bytes = "record " + std::to_string(i);
            r.makeCase = true;
            r.violationType = i % 3 ? "red_light" : "school_zone_speed";
            r.site = "site-" + std::to_string(i % 7);
            r.locationCode = "LOC-" + std::to_string(i % 7);
            r.eventUtcNs = i;
            rs.push_back(std::move(r));
        }
        b.store->bulkLoad(rs);
    }
    double load = seconds(t0, Clock::now());
    std::vector<double> ms;
    for (unsigned i = 0; i < decisions; ++i) {
        std::string me = "reviewer" + std::to_string(i % 3);
        auto s = Clock::now();
        auto c = b.store->claimNext(me, 600'000'000'000);
        if (!c)
            throw std::runtime_error("queue empty");
        Decision d;
        d.caseId = c->id;
        d.owner = me;
        d.version = c->version;
        d.decision = i % 4 ? "approved" : "rejected";
        d.reasonCode = i % 4 ? "" : "duplicate";
        d.checklist = "{}";
        d.decidedNs = b.store->now();
        if (b.store->decide(d, {me, "decide", "case:" + std::to_string(c->id), d.decision,
                                "bench"}) != DecideStatus::Ok)
            throw std::runtime_error("decision refused");
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
    }
    closeBackend(b);
    return {percentile(ms, 0.5), percentile(ms, 0.99), load};
}

} /* namespace */

int main(int argc, char **argv)
{
    unsigned records = argc > 1 ? std::atoi(argv[1]) : 150;
    unsigned cases = argc > 2 ? std::atoi(argv[2]) : 100'000;
    unsigned decisions = argc > 3 ? std::atoi(argv[3]) : 1000;
    nlohmann::json out;
    try {
        for (bool pg : {false, true}) {
            std::string name = pg ? "postgresql" : "sqlite";
            std::vector<double> ingest, bare;
            for (int rep = 0; rep < 3; ++rep) {
                auto [i, b] = ingestRun(pg, records);
                ingest.push_back(i);
                bare.push_back(b);
                std::cerr << name << " ingest rep " << rep << ": " << i
                          << " records/s (bare commit " << b << ")\n";
            }
            out[name + "_ingest_200kb_records_per_s"] = median(ingest);
            out[name + "_ingest_200kb_mb_per_s"] = median(ingest) * 0.2;
            out[name + "_bare_commit_200kb_per_s"] = median(bare);
            out[name + "_ingest_vs_bare_commit_ratio"] = median(ingest) / median(bare);
            QueueResult q = queueRun(pg, cases, decisions);
            std::cerr << name << " queue: load " << q.loadS << " s, claim+decide p50 " << q.p50Ms
                      << " ms p99 " << q.p99Ms << " ms\n";
            out[name + "_claim_decide_p50_ms"] = q.p50Ms;
            out[name + "_claim_decide_p99_ms"] = q.p99Ms;
            out[name + "_cases_stored"] = cases;
            out[name + "_load_100k_cases_s"] = q.loadS;
        }
    } catch (const std::exception &e) {
        std::cerr << "backoffice bench: " << e.what() << "\n";
        return 1;
    }
    std::cout << out.dump() << std::endl;
    return 0;
}

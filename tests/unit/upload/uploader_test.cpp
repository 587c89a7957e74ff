#include <deque>
#include <filesystem>

#include <boost/asio/post.hpp>

#include "evidence/seal.h"
#include "pipeline/upload/uploader.h"
#include "sample_chain.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::pipeline;
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kStart = 1'795'000'000LL * 1'000'000'000;

/* A back-office stand-in: verifies nothing, but answers with receipts signed by its key,
 * or fails on command, and records what it was sent. */
struct FakeServer
{
    explicit FakeServer(asio::io_context &context) : io(context) {}

    asio::io_context &io;
    std::unique_ptr<evidence::SigningKey> key = evidence::SigningKey::generate();
    std::vector<uint64_t> received;
    std::vector<std::string> paths;
    int failNext = 0;     /* connection failures to simulate */
    int refuseStatus = 0; /* answer this status instead */
    bool wrongReceipt = false;

    Uploader::Post post()
    {
        return [this](const std::string &path, const std::string &, std::string body,
                      HttpClient::Callback done) {
            paths.push_back(path);
            HttpResponse r;
            if (path != "/api/v1/records") {
                r.status = 200;
            } else if (failNext > 0) {
                --failNext;
                r.error = "connection refused";
            } else if (refuseStatus) {
                r.status = refuseStatus;
                r.body = "signature.invalid";
            } else {
                evidence::SealedRecord s;
                s.ParseFromString(body);
                evidence::Record rec;
                rec.ParseFromString(s.record());
                received.push_back(rec.seq());
                evidence::Receipt receipt;
                receipt.set_device_id(rec.device_id());
                receipt.set_seq(wrongReceipt ? rec.seq() + 1 : rec.seq());
                receipt.set_record_hash(evidence::recordHash(s.record()));
                r.status = 201;
                r.body = evidence::sealReceipt(receipt, *key);
            }
            asio::post(io, [done, r] { done(r); });
        };
    }
};

} /* namespace */

TEST_GROUP(Uploader)
{
    fs::path dir;
    asio::io_context io;
    asio::thread_pool workers{1};
    std::unique_ptr<evidence::SigningKey> deviceKey = evidence::SigningKey::generate();
    std::unique_ptr<Spool> spool;
    FakeServer server{io};

    void setup() override
    {
        char tmpl[] = "/tmp/stopline-upload-XXXXXX";
        dir = ::mkdtemp(tmpl);
        spool = std::make_unique<Spool>(Spool::Options{dir.string(), 1ull << 30, 0});
        spool->recover();
        auto chain = testkit::makeSampleChain(*deviceKey, "dev", 5, kStart);
        for (const auto &s : chain.records)
            spool->store(s.seq, s.bytes, Spool::Priority::Violation);
    }
    void teardown() override
    {
        workers.join();
        fs::remove_all(dir);
    }

    Uploader::Options options()
    {
        Uploader::Options o;
        o.deviceId = "dev";
        o.backoffBase = std::chrono::milliseconds(5);
        o.backoffMax = std::chrono::milliseconds(40);
        o.heartbeatInterval = std::chrono::milliseconds(20);
        return o;
    }

    /* Runs the loop until `done` holds or a generous deadline passes. */
    template <typename Pred> bool runUntil(Pred done, int ms = 5000)
    {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            io.run_for(std::chrono::milliseconds(5));
            io.restart();
        }
        return done();
    }
};

TEST(Uploader, uploadsInOrderAndDeletesOnlyAfterAValidReceipt)
{
    Uploader up(io, workers, spool.get(), &server.key->publicKey(), options(), server.post(),
                server.post());
    std::vector<uint64_t> acknowledged;
    up.onUploaded = [&](uint64_t seq) { acknowledged.push_back(seq); };
    up.start();
    CHECK(runUntil([&] { return spool->depth() == 0; }));
    CHECK((std::vector<uint64_t>{0, 1, 2, 3, 4}) == server.received);
    CHECK(server.received == acknowledged);
    LONGS_EQUAL(5, up.status().uploaded);
}

TEST(Uploader, receiptForAnotherRecordKeepsTheRecordAndRaisesAnAlarm)
{
    server.wrongReceipt = true;
    Uploader up(io, workers, spool.get(), &server.key->publicKey(), options(), server.post(),
                server.post());
    up.start();
    CHECK(runUntil([&] { return server.received.size() >= 3; }));
    LONGS_EQUAL(5, spool->depth());
    CHECK(up.status().alarm.find("receipt rejected for record 0") == 0);
    /* Nothing after record 0 was sent: in order per chain. */
    for (uint64_t seq : server.received)
        LONGS_EQUAL(0, seq);
}

TEST(Uploader, receiptSignedByAnImpostorIsRejected)
{
    FakeServer impostor{io};
    Uploader up(io, workers, spool.get(), &server.key->publicKey(), options(), impostor.post(),
                impostor.post());
    up.start();
    CHECK(runUntil([&] { return impostor.received.size() >= 2; }));
    LONGS_EQUAL(5, spool->depth());
    CHECK(up.status().alarm.find("unknown key") != std::string::npos);
}

TEST(Uploader, outageIsRiddenOutWithBackoffAndNoDuplicates)
{
    server.failNext = 6;
    Uploader up(io, workers, spool.get(), &server.key->publicKey(), options(), server.post(),
                server.post());
    up.start();
    CHECK(runUntil([&] { return spool->depth() == 0; }));
    CHECK((std::vector<uint64_t>{0, 1, 2, 3, 4}) == server.received);
    LONGS_EQUAL(11, up.status().attempts);
    LONGS_EQUAL(0, up.status().consecutiveFailures);
    CHECK(up.status().lastError.empty());
}

TEST(Uploader, backFromAnOutageTheStateIsHeardBeforeTheBacklog)
{
    server.failNext = 3;
    Uploader::Options o = options();
    o.heartbeatInterval = std::chrono::seconds(60); /* only the one at start, periodically */
    Uploader up(io, workers, spool.get(), &server.key->publicKey(), o, server.post(),
                server.post());
    up.setHeartbeatSource([] { return std::string("{\"alarms\":[\"spool.full\"]}"); });
    up.start();
    CHECK(runUntil([&] { return spool->depth() == 0; }));
    /* Every record attempt after a failed one waits for a heartbeat; once they go
     * through, records follow each other with none between. */
    std::vector<std::string> expected{"/api/v1/heartbeats"};
    for (int i = 0; i < 3; ++i)
        expected.insert(expected.end(), {"/api/v1/records", "/api/v1/heartbeats"});
    for (int i = 0; i < 5; ++i)
        expected.push_back("/api/v1/records");
    std::vector<std::string> sent(server.paths.begin(),
                                  server.paths.begin() +
                                          static_cast<std::ptrdiff_t>(std::min(
                                                  server.paths.size(), expected.size())));
    CHECK(expected == sent);
    LONGS_EQUAL(4, up.status().heartbeatsSent);
}

TEST(Uploader, refusedRecordStaysAndBlocksTheChainWithAnAlarm)
{
    server.refuseStatus = 422;
    Uploader up(io, workers, spool.get(), &server.key->publicKey(), options(), server.post(),
                server.post());
    up.start();
    CHECK(runUntil([&] { return up.status().attempts >= 3; }));
    LONGS_EQUAL(5, spool->depth());
    CHECK(up.status().alarm.find("record refused: HTTP 422 for record 0: signature.invalid") == 0);
    server.refuseStatus = 0;
    CHECK(runUntil([&] { return spool->depth() == 0; }));
    CHECK(up.status().alarm.empty());
}

TEST(Uploader, checkpointIsSentOnceDrainedAndHeartbeatsKeepComing)
{
    Uploader up(io, workers, spool.get(), &server.key->publicKey(), options(), server.post(),
                server.post());
    int checkpointsMade = 0;
    auto chain = testkit::makeSampleChain(*deviceKey, "dev", 5, kStart);
    up.setCheckpointSource([&]() -> std::optional<std::string> {
        ++checkpointsMade;
        return chain.checkpoint;
    });
    up.setHeartbeatSource([] { return std::string("{\"ok\":true}"); });
    up.start();
    CHECK(runUntil([&] { return up.status().heartbeatsSent >= 3; }));
    LONGS_EQUAL(1, up.status().checkpointsSent); /* same head: not re-sent */
    auto firstCheckpoint =
            std::find(server.paths.begin(), server.paths.end(), "/api/v1/checkpoints");
    auto lastRecord = std::find(server.paths.rbegin(), server.paths.rend(), "/api/v1/records");
    CHECK(firstCheckpoint != server.paths.end());
    /* The checkpoint came after the last record was acknowledged. */
    CHECK(firstCheckpoint - server.paths.begin() > (server.paths.rend() - lastRecord) - 1);
}

#include <csignal>
#include <filesystem>
#include <fstream>
#include <poll.h>
#include <random>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evidence/crypto.h"
#include "evidence/verify.h"
#include "pipeline/spool/spool.h"
#include "sample_chain.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::pipeline;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kStart = 1'795'000'000LL * 1'000'000'000;

size_t filesIn(const fs::path &dir)
{
    size_t n = 0;
    for ([[maybe_unused]] const auto &e : fs::directory_iterator(dir))
        ++n;
    return n;
}

} /* namespace */

TEST_GROUP(Spool)
{
    fs::path dir;
    std::unique_ptr<evidence::SigningKey> key = evidence::SigningKey::generate();

    void setup() override
    {
        char tmpl[] = "/tmp/stopline-spool-XXXXXX";
        dir = ::mkdtemp(tmpl);
    }
    void teardown() override
    {
        fs::remove_all(dir);
    }

    Spool::Options options(uint64_t capacity = 64ull << 20, uint64_t reserve = 1ull << 20)
    {
        return {dir.string(), capacity, reserve};
    }
};

TEST(Spool, storedRecordIsReadableAndRemovedOnlyOnRequest)
{
    Spool spool(options());
    spool.recover();
    auto chain = testkit::makeSampleChain(*key, "dev", 3, kStart);
    for (const auto &s : chain.records)
        CHECK_FALSE(spool.store(s.seq, s.bytes, Spool::Priority::Violation));
    LONGS_EQUAL(3, spool.depth());
    LONGS_EQUAL(0, spool.oldest()->seq);
    CHECK(*spool.read(1) == chain.records[1].bytes);
    CHECK(spool.remove(0));
    LONGS_EQUAL(1, spool.oldest()->seq);
    CHECK_FALSE(fs::exists(spool.recordPath(0)));
    LONGS_EQUAL(0, filesIn(dir / "tmp"));
    /* Same sequence number twice is refused, never overwritten. */
    CHECK(spool.store(1, "other bytes", Spool::Priority::Violation).has_value());
    CHECK(*spool.read(1) == chain.records[1].bytes);
}

TEST(Spool, fullSpoolRefusesViolationsButKeepsReserveForEssentialRecords)
{
    Spool spool(options(19000, 6000));
    spool.recover();
    std::string record(5000, 'x');
    CHECK_FALSE(spool.store(1, record, Spool::Priority::Violation));
    CHECK_FALSE(spool.store(2, record, Spool::Priority::Violation));
    CHECK(spool.full());
    auto refused = spool.store(3, record, Spool::Priority::Violation);
    CHECK(refused.has_value());
    CHECK(refused->find("spool full") != std::string::npos);
    CHECK_FALSE(fs::exists(spool.recordPath(3)));
    /* A self-check result may still be recorded from the reserve. */
    CHECK_FALSE(spool.store(3, record, Spool::Priority::Essential));
    CHECK(spool.store(4, record, Spool::Priority::Essential).has_value());
    LONGS_EQUAL(3, spool.depth());
    /* Draining makes room again. */
    spool.remove(1);
    spool.remove(2);
    CHECK_FALSE(spool.store(5, record, Spool::Priority::Violation));
}

TEST(Spool, recoveryDiscardsPartialFilesAndQuarantinesUnreadableOnes)
{
    auto chain = testkit::makeSampleChain(*key, "dev", 3, kStart);
    {
        Spool spool(options());
        spool.recover();
        for (const auto &s : chain.records)
            spool.store(s.seq, s.bytes, Spool::Priority::Violation);
    }
    /* A write cut short by a crash, and a complete-looking file that is not a record. */
    std::ofstream(dir / "tmp" / "000000000003.slr.a1b2c3") << chain.records[2].bytes.substr(0, 100);
    std::ofstream(dir / "records" / "000000000009.slr") << "not protobuf at all \xff\xff";
    Spool spool(options());
    Spool::Recovery rec = spool.recover();
    LONGS_EQUAL(3, rec.kept);
    LONGS_EQUAL(1, rec.discardedPartial);
    LONGS_EQUAL(1, rec.quarantined);
    LONGS_EQUAL(0, filesIn(dir / "tmp"));
    CHECK(fs::exists(dir / "quarantine" / "000000000009.slr"));
    bool named = false;
    for (const auto &m : rec.messages)
        named |= m.find("000000000003.slr.a1b2c3") != std::string::npos;
    CHECK(named);
}

TEST(Spool, resumeHeadPrefersTheNewestSpooledRecord)
{
    auto chain = testkit::makeSampleChain(*key, "dev", 4, kStart);
    Spool spool(options());
    spool.recover();
    for (const auto &s : chain.records)
        spool.store(s.seq, s.bytes, Spool::Priority::Violation);
    /* Crash after storing seq 3 but before saving the head. */
    spool.saveHead({2, chain.records[2].recordHash});
    auto head = spool.resumeHead();
    LONGS_EQUAL(3, head->seq);
    CHECK(head->hash == chain.records[3].recordHash);
    /* Everything uploaded: the saved head alone carries the chain on. */
    spool.saveHead({3, chain.records[3].recordHash});
    for (const auto &s : chain.records)
        spool.remove(s.seq);
    head = Spool(options()).resumeHead();
    LONGS_EQUAL(3, head->seq);
}

TEST(Spool, diskFullLeavesNothingBehindAndLosesNothing)
{
    auto chain = testkit::makeSampleChain(*key, "dev", 3, kStart);
    pid_t pid = fork();
    if (pid == 0) {
        /* A file-size limit makes write() fail as a full disk would. */
        std::signal(SIGXFSZ, SIG_IGN);
        Spool spool(options());
        spool.recover();
        if (spool.store(0, chain.records[0].bytes, Spool::Priority::Violation))
            _exit(10);
        struct rlimit lim = {1000, 1000};
        setrlimit(RLIMIT_FSIZE, &lim);
        auto err = spool.store(1, chain.records[1].bytes, Spool::Priority::Violation);
        if (!err)
            _exit(11);
        if (err->find("cannot write") == std::string::npos)
            _exit(12);
        _exit(spool.depth() == 1 ? 0 : 13);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    LONGS_EQUAL(0, WEXITSTATUS(status));
    LONGS_EQUAL(0, filesIn(dir / "tmp"));
    Spool spool(options());
    Spool::Recovery rec = spool.recover();
    LONGS_EQUAL(1, rec.kept);
    CHECK(*spool.read(0) == chain.records[0].bytes);
}

TEST(Spool, killNineMidWriteNeverLosesACapturedRecord)
{
    /* A child seals and spools records as fast as it can and reports each seq only after
     * store() returned; we kill -9 it at random moments, thirty times, recovering in
     * between. Every reported record must be there, intact; no partial file may count. */
    std::mt19937 rng(1234);
    std::map<uint64_t, std::string> captured; /* seq -> record hash */
    uint64_t nextSeq = 0;
    std::string head;
    for (int round = 0; round < 30; ++round) {
        int fds[2];
        CHECK_EQUAL(0, pipe(fds));
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            Spool spool(options(1ull << 30, 0));
            spool.recover();
            evidence::ChainWriter writer("dev", key.get(), nextSeq, head);
            for (;;) {
                evidence::Record r = nextSeq == 0 && writer.nextSeq() == 0
                                             ? evidence::makeGenesis(*key, "SN")
                                             : testkit::sampleViolation(writer.nextSeq(), kStart);
                r.mutable_created()->set_utc_ns(kStart);
                evidence::Sealed s = writer.seal(r);
                if (spool.store(s.seq, s.bytes, Spool::Priority::Violation))
                    _exit(3);
                spool.saveHead({s.seq, s.recordHash});
                std::string line =
                        std::to_string(s.seq) + " " + evidence::toHex(s.recordHash) + "\n";
                if (write(fds[1], line.data(), line.size()) < 0)
                    _exit(4);
            }
        }
        close(fds[1]);
        /* Wait for the child's first record of this round (fsync may be slow on a busy
         * machine), then let it run on for a random moment before the kill. */
        std::string out;
        char buf[4096];
        ssize_t n;
        struct pollfd pfd = {fds[0], POLLIN, 0};
        while (out.find('\n') == std::string::npos && poll(&pfd, 1, 20000) > 0 &&
               (n = read(fds[0], buf, sizeof(buf))) > 0)
            out.append(buf, static_cast<size_t>(n));
        std::uniform_int_distribution<int> delay(0, 30000);
        usleep(static_cast<useconds_t>(delay(rng)));
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        while ((n = read(fds[0], buf, sizeof(buf))) > 0)
            out.append(buf, static_cast<size_t>(n));
        close(fds[0]);
        std::istringstream lines(out);
        uint64_t seq;
        std::string hex;
        while (lines >> seq >> hex)
            captured[seq] = hex;

        Spool spool(options(1ull << 30, 0));
        spool.recover();
        LONGS_EQUAL(0, filesIn(dir / "tmp"));
        LONGS_EQUAL(0, filesIn(dir / "quarantine"));
        for (const auto &[s, h] : captured) {
            auto bytes = spool.read(s);
            CHECK_TEXT(bytes.has_value(), ("captured record lost: " + std::to_string(s)).c_str());
            evidence::SealedRecord sealed;
            CHECK(sealed.ParseFromString(*bytes));
            STRCMP_EQUAL(h.c_str(), evidence::toHex(evidence::sha256(sealed.record())).c_str());
        }
        auto resume = spool.resumeHead();
        if (resume) {
            nextSeq = resume->seq + 1;
            head = resume->hash;
        }
    }
    CHECK(captured.size() >= 30); /* at least one per round */
    /* The spool holds one unbroken chain. */
    Spool spool(options(1ull << 30, 0));
    spool.recover();
    std::vector<evidence::BatchInput> inputs;
    for (const auto &e : spool.entries())
        inputs.push_back({std::to_string(e.seq), *spool.read(e.seq), false});
    evidence::KeyRing ring;
    ring.enroll({std::shared_ptr<const evidence::PublicKey>(
                         evidence::PublicKey::fromRaw(key->publicKey().raw())),
                 "dev"});
    auto result = evidence::verifyBatch(inputs, ring);
    for (const auto &rc : result.records)
        CHECK_TEXT(rc.ok(), (rc.source + " " + rc.summary()).c_str());
}

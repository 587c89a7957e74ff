#include "evidence/crypto.h"
#include "evidence/verify.h"
#include "sample_chain.h"

#include <CppUTest/TestHarness.h>

using namespace stopline::evidence;

namespace {
constexpr int64_t kStart = 1'795'000'000LL * 1'000'000'000;

std::shared_ptr<const PublicKey> publicOf(const SigningKey &k)
{
    return std::shared_ptr<const PublicKey>(PublicKey::fromRaw(k.publicKey().raw()));
}
} /* namespace */

TEST_GROUP(Chain){};

TEST(Chain, writerLinksEachRecordToThePrevious)
{
    auto key = SigningKey::generate();
    auto chain = stopline::testkit::makeSampleChain(*key, "dev", 4, kStart);
    for (size_t i = 1; i < chain.records.size(); ++i) {
        SealedRecord s;
        CHECK(s.ParseFromString(chain.records[i].bytes));
        Record r;
        CHECK(r.ParseFromString(s.record()));
        LONGS_EQUAL(i, r.seq());
        CHECK(r.prev_hash() == chain.records[i - 1].recordHash);
        STRCMP_EQUAL(("dev-" + std::to_string(i)).c_str(), r.record_id().c_str());
    }
}

TEST(Chain, sealHashesEveryBlob)
{
    auto key = SigningKey::generate();
    ChainWriter writer("dev", key.get(), 1, std::string(32, '\0'));
    Record r = stopline::testkit::sampleViolation(1, kStart);
    writer.seal(r);
    for (const Frame &f : r.violation().frames())
        CHECK(f.sha256() == sha256(f.data()));
    CHECK(r.violation().plate().candidates(0).crop().sha256() ==
          sha256(r.violation().plate().candidates(0).crop().data()));
}

TEST(Chain, chainMustStartWithGenesis)
{
    auto key = SigningKey::generate();
    ChainWriter writer("dev", key.get(), 0, {});
    Record r = stopline::testkit::sampleViolation(1, kStart);
    CHECK_THROWS(std::logic_error, writer.seal(r));
    LONGS_EQUAL(0, writer.nextSeq());
}

TEST(Chain, partialSetHasNoLeadingGap)
{
    auto key = SigningKey::generate();
    auto chain = stopline::testkit::makeSampleChain(*key, "dev", 6, kStart);
    std::vector<BatchInput> inputs;
    for (size_t i = 3; i < chain.records.size(); ++i)
        inputs.push_back({"r", chain.records[i].bytes, false});
    KeyRing ring;
    ring.enroll({publicOf(*key), "dev"});
    BatchResult full = verifyBatch(inputs, ring);
    STRCMP_EQUAL("chain.gap 0..2", full.records[0].summary().c_str());
    BatchOptions partial;
    partial.partial = true;
    CHECK(verifyBatch(inputs, ring, partial).ok());
}

TEST(Chain, keyRotationEnrolsTheNewKeyForLaterRecords)
{
    auto oldKey = SigningKey::generate();
    auto newKey = SigningKey::generate();
    auto chain = stopline::testkit::makeSampleChain(*oldKey, "dev", 3, kStart);
    std::vector<BatchInput> inputs;
    for (const Sealed &s : chain.records)
        inputs.push_back({"r", s.bytes, false});

    ChainWriter writer("dev", oldKey.get(), 3, chain.records.back().recordHash);
    Record rot;
    rot.mutable_created()->set_utc_ns(kStart + 3'000'000'000);
    rot.mutable_clock()->set_synchronized(true);
    rot.mutable_key_rotation()->set_new_public_key(newKey->publicKey().raw());
    rot.mutable_key_rotation()->set_new_key_id(newKey->keyId());
    inputs.push_back({"rotation", writer.seal(rot).bytes, false});

    ChainWriter after("dev", newKey.get(), writer.nextSeq(), writer.headHash());
    Record v = stopline::testkit::sampleViolation(4, kStart + 4'000'000'000);
    inputs.push_back({"after", after.seal(v).bytes, false});

    KeyRing ring;
    ring.enroll({publicOf(*oldKey), "dev"});
    BatchResult result = verifyBatch(inputs, ring);
    CHECK_TEXT(result.ok(), result.records.back().summary().c_str());

    /* Without the rotation record the new key is unknown. */
    inputs.erase(inputs.begin() + 3);
    BatchResult without = verifyBatch(inputs, ring);
    CHECK(without.records.back().has(Code::KeyUnknown));
}

TEST(Chain, singleRecordCheckForIngest)
{
    auto key = SigningKey::generate();
    auto chain = stopline::testkit::makeSampleChain(*key, "dev", 2, kStart);
    KeyRing ring;
    ring.enroll({publicOf(*key), "dev"});
    RecordCheck rc = checkRecord(chain.records[1].bytes, ring);
    CHECK(rc.ok());
    CHECK(rc.authenticated);
    CHECK(rc.recordHash == chain.records[1].recordHash);
    RecordCheck garbage = checkRecord("not a record at all", ring);
    CHECK(garbage.has(Code::FormatInvalid));
}

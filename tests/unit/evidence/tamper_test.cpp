/* Each tamper of issue #2 item 5, applied to a sealed five-record chain, must yield
 * its own status code on the affected record, and leave the untouched ones ok. */

#include "evidence/crypto.h"
#include "evidence/verify.h"
#include "sample_chain.h"

#include <CppUTest/TestHarness.h>

using namespace stopline::evidence;
using stopline::testkit::makeSampleChain;
using stopline::testkit::SampleChain;

namespace {

constexpr int64_t kStart = 1'795'000'000LL * 1'000'000'000;

struct Fixture
{
    std::unique_ptr<SigningKey> key = SigningKey::generate();
    SampleChain chain = makeSampleChain(*key, "dev-1", 5, kStart);
    std::vector<BatchInput> inputs;

    Fixture()
    {
        for (const Sealed &s : chain.records)
            inputs.push_back({"rec" + std::to_string(s.seq), s.bytes, false});
    }

    KeyRing ring() const
    {
        KeyRing r;
        r.enroll({std::shared_ptr<const PublicKey>(PublicKey::fromRaw(key->publicKey().raw())),
                  "dev-1"});
        return r;
    }

    BatchResult verify(const BatchOptions &options = {}) const
    {
        return verifyBatch(inputs, ring(), options);
    }
};

/* Returns the offset of `needle` inside `hay`; fails the test if absent. */
size_t offsetOf(const std::string &hay, const std::string &needle)
{
    size_t at = hay.find(needle);
    CHECK_TEXT(at != std::string::npos, "needle not in sealed bytes");
    return at;
}

Record recordOf(const std::string &sealedBytes)
{
    SealedRecord s;
    s.ParseFromString(sealedBytes);
    Record r;
    r.ParseFromString(s.record());
    return r;
}

/* Only the records at `bad` may fail. */
void checkOthersOk(const BatchResult &result, std::initializer_list<size_t> bad)
{
    for (size_t i = 0; i < result.records.size(); ++i) {
        if (std::find(bad.begin(), bad.end(), i) != bad.end())
            continue;
        CHECK_TEXT(result.records[i].ok(),
                   (result.records[i].source + ": " + result.records[i].summary()).c_str());
    }
}

} /* namespace */

TEST_GROUP(Tamper){};

TEST(Tamper, untouchedChainOfFiveIsOk)
{
    Fixture f;
    BatchResult result = f.verify();
    LONGS_EQUAL(5, result.records.size());
    for (const RecordCheck &rc : result.records) {
        CHECK_TEXT(rc.ok(), rc.summary().c_str());
        STRCMP_EQUAL("ok", rc.summary().c_str());
    }
    CHECK(result.ok());
}

TEST(Tamper, flippedByteInFrameIsBlobHashMismatch)
{
    Fixture f;
    std::string &bytes = f.inputs[2].bytes;
    std::string bShot = recordOf(bytes).violation().frames(1).data();
    bytes[offsetOf(bytes, bShot) + 100] ^= 0x01;
    BatchResult result = f.verify();
    CHECK_TEXT(result.records[2].has(Code::BlobHashMismatch), result.records[2].summary().c_str());
    CHECK(result.records[2].summary().find("blob.hash_mismatch B-shot #1") != std::string::npos);
    checkOthersOk(result, {2, 3}); /* 3 no longer links to the altered 2 */
    CHECK(result.records[3].has(Code::ChainBroken));
    CHECK_FALSE(result.ok());
}

TEST(Tamper, flippedByteInSignatureIsSignatureInvalid)
{
    Fixture f;
    std::string &bytes = f.inputs[1].bytes;
    SealedRecord s;
    s.ParseFromString(bytes);
    bytes[offsetOf(bytes, s.signature()) + 10] ^= 0x80;
    BatchResult result = f.verify();
    STRCMP_EQUAL("signature.invalid", result.records[1].summary().c_str());
    checkOthersOk(result, {1});
}

TEST(Tamper, flippedByteInRecordIsSignatureInvalid)
{
    Fixture f;
    std::string &bytes = f.inputs[3].bytes;
    /* Change the location code: still parses, no blob touched, only the signature
     * can tell. */
    size_t at = offsetOf(bytes, "SAMPLE-0001");
    bytes[at + 7] = '9';
    BatchResult result = f.verify();
    CHECK(result.records[3].has(Code::SignatureInvalid));
    CHECK_FALSE(result.records[3].has(Code::BlobHashMismatch));
    CHECK(result.records[4].has(Code::ChainBroken));
    checkOthersOk(result, {3, 4});
}

TEST(Tamper, wrongKeyIsKeyUnknown)
{
    Fixture f;
    /* An attacker re-seals record 2 with a key of their own. */
    auto impostor = SigningKey::generate();
    SealedRecord s;
    s.ParseFromString(f.inputs[2].bytes);
    s.set_signature(impostor->sign(kRecordDomain, s.record()));
    s.set_key_id(impostor->keyId());
    f.inputs[2].bytes = s.SerializeAsString();
    BatchResult result = f.verify();
    STRCMP_EQUAL(("key.unknown " + impostor->keyId()).c_str(), result.records[2].summary().c_str());
    checkOthersOk(result, {2});
}

TEST(Tamper, keyOfAnotherDeviceIsRefused)
{
    Fixture f;
    KeyRing ring;
    ring.enroll({std::shared_ptr<const PublicKey>(PublicKey::fromRaw(f.key->publicKey().raw())),
                 "dev-2"});
    BatchResult result = verifyBatch(f.inputs, ring);
    CHECK(result.records[1].has(Code::KeyWrongDevice));
}

TEST(Tamper, missingRecordIsChainGap)
{
    Fixture f;
    f.inputs.erase(f.inputs.begin() + 2);
    BatchResult result = f.verify();
    LONGS_EQUAL(4, result.records.size());
    STRCMP_EQUAL("chain.gap 2..2", result.records[2].summary().c_str());
    checkOthersOk(result, {2});
}

TEST(Tamper, swappedRecordsAreChainOrder)
{
    Fixture f;
    std::swap(f.inputs[2].bytes, f.inputs[3].bytes);
    BatchResult result = f.verify();
    STRCMP_EQUAL("chain.order seq 2 presented after seq 3", result.records[3].summary().c_str());
    checkOthersOk(result, {3});
}

TEST(Tamper, sameSequenceDifferentContentIsChainFork)
{
    Fixture f;
    /* The device's key signs a second, different record 3: equivocation. */
    ChainWriter writer("dev-1", f.key.get(), 3, f.chain.records[2].recordHash);
    Record other = stopline::testkit::sampleViolation(99, kStart + 3'000'000'000);
    f.inputs.push_back({"fork", writer.seal(other).bytes, false});
    BatchResult result = f.verify();
    CHECK(result.records[3].has(Code::ChainFork));
    CHECK(result.records[5].has(Code::ChainFork));
    CHECK(result.records[5].summary().find("seq 3 has 2 versions") != std::string::npos);
}

TEST(Tamper, sameRecordTwiceIsOnlyAWarning)
{
    Fixture f;
    f.inputs.push_back(f.inputs[4]);
    BatchResult result = f.verify();
    CHECK(result.records[5].has(Code::ChainDuplicate));
    CHECK(result.ok());
}

TEST(Tamper, truncatedFileIsFormatInvalid)
{
    Fixture f;
    for (size_t cut :
         {size_t(1), size_t(70), f.inputs[4].bytes.size() / 2, f.inputs[4].bytes.size() - 1}) {
        Fixture g;
        g.inputs[4].bytes.resize(g.inputs[4].bytes.size() - cut);
        BatchResult result = g.verify();
        CHECK_TEXT(result.records[4].has(Code::FormatInvalid), result.records[4].summary().c_str());
        CHECK_FALSE(result.records[4].ok());
        checkOthersOk(result, {4});
    }
}

TEST(Tamper, checkpointBeyondLastRecordIsChainTruncated)
{
    Fixture f;
    f.inputs.push_back({"cp", f.chain.checkpoint, true});
    CHECK(f.verify().ok());
    /* The newest record (seq 4) goes missing: only the checkpoint can tell. */
    f.inputs.erase(f.inputs.begin() + 4);
    BatchResult result = f.verify();
    LONGS_EQUAL(1, result.checkpoints.size());
    STRCMP_EQUAL("chain.truncated 4..4", result.checkpoints[0].summary().c_str());
    checkOthersOk(result, {});
    CHECK_FALSE(result.ok());
}

TEST(Tamper, checkpointWithAnotherHeadIsMismatch)
{
    Fixture f;
    ChainWriter writer("dev-1", f.key.get(), 4, std::string(32, 'x'));
    Instant t;
    t.set_utc_ns(kStart);
    f.inputs.push_back({"cp", writer.checkpoint(t, ClockState()), true});
    BatchResult result = f.verify();
    CHECK(result.checkpoints[0].has(Code::CheckpointMismatch));
}

TEST(Tamper, captureTimeGoingBackIsTimeBackwards)
{
    Fixture f;
    ChainWriter writer("dev-1", f.key.get(), 5, f.chain.records[4].recordHash);
    Record late = stopline::testkit::sampleViolation(5, kStart - 60'000'000'000);
    f.inputs.push_back({"late", writer.seal(late).bytes, false});
    BatchResult result = f.verify();
    STRCMP_EQUAL("time.backwards earlier than seq 4", result.records[5].summary().c_str());
}

TEST(Tamper, unsynchronizedClockIsFlaggedNotFailed)
{
    Fixture f;
    ChainWriter writer("dev-1", f.key.get(), 5, f.chain.records[4].recordHash);
    Record r = stopline::testkit::sampleViolation(5, kStart + 5'000'000'000);
    r.mutable_clock()->set_synchronized(false);
    f.inputs.push_back({"unsync", writer.seal(r).bytes, false});
    BatchResult result = f.verify();
    STRCMP_EQUAL("ok clock.unsynchronized", result.records[5].summary().c_str());
    CHECK(result.ok());
}

TEST(Tamper, revokedKeyFailsRecordsAfterRevocation)
{
    Fixture f;
    KeyRing ring;
    KeyRing::Entry e{std::shared_ptr<const PublicKey>(PublicKey::fromRaw(f.key->publicKey().raw())),
                     "dev-1"};
    e.revokedNs = kStart + 2'500'000'000; /* between seq 2 and seq 3 */
    ring.enroll(e);
    BatchResult result = verifyBatch(f.inputs, ring);
    CHECK(result.records[2].ok());
    CHECK(result.records[3].has(Code::KeyRevoked));
    CHECK(result.records[4].has(Code::KeyRevoked));
}

TEST(Tamper, unknownFormatVersionIsFormatVersion)
{
    Fixture f;
    ChainWriter writer("dev-1", f.key.get(), 5, f.chain.records[4].recordHash);
    Record r = stopline::testkit::sampleViolation(5, kStart + 5'000'000'000);
    Sealed sealed = writer.seal(r);
    /* Rewrite and re-sign with a future version, as a newer device would. */
    Record future = recordOf(sealed.bytes);
    future.set_format_version(static_cast<FormatVersion>(2));
    SealedRecord env;
    env.set_record(future.SerializeAsString());
    env.set_signature(f.key->sign(kRecordDomain, env.record()));
    env.set_key_id(f.key->keyId());
    f.inputs.push_back({"v2", env.SerializeAsString(), false});
    BatchResult result = f.verify();
    CHECK(result.records[5].has(Code::FormatVersion));
}

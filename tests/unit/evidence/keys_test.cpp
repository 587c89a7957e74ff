#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

#include "evidence/crypto.h"
#include "evidence/keys.h"
#include "evidence/seal.h"
#include "evidence/verify.h"

#include <CppUTest/TestHarness.h>

using namespace stopline::evidence;
namespace fs = std::filesystem;

TEST_GROUP(Keys)
{
    fs::path dir;

    void setup() override
    {
        char tmpl[] = "/tmp/stopline-keys-XXXXXX";
        dir = ::mkdtemp(tmpl);
    }
    void teardown() override
    {
        fs::remove_all(dir);
    }
};

TEST(Keys, keyIdIsShortPrefixOfPublicKeyHash)
{
    auto key = SigningKey::generate();
    std::string expected = toHex(sha256(key->publicKey().raw()).substr(0, 8));
    STRCMP_EQUAL(expected.c_str(), key->keyId().c_str());
    LONGS_EQUAL(16, key->keyId().size());
}

TEST(Keys, signatureCoversDomainAndMessage)
{
    auto key = SigningKey::generate();
    std::string sig = key->sign(kRecordDomain, "hello");
    CHECK(key->publicKey().verify(kRecordDomain, "hello", sig));
    CHECK_FALSE(key->publicKey().verify(kRecordDomain, "hellp", sig));
    /* The same bytes under another domain must not verify: no cross-type replay. */
    CHECK_FALSE(key->publicKey().verify(kCheckpointDomain, "hello", sig));
}

TEST(Keys, writtenKeyHasMode0600AndLoadsBack)
{
    auto key = SigningKey::generate();
    std::string priv = (dir / "dev.key").string(), pub = (dir / "dev.pub").string();
    key->writeFiles(priv, pub, {{"device", "dev-7"}});
    struct stat st;
    CHECK_EQUAL(0, ::stat(priv.c_str(), &st));
    LONGS_EQUAL(0600, st.st_mode & 0777);
    auto loaded = SigningKey::loadFile(priv);
    STRCMP_EQUAL(key->keyId().c_str(), loaded->keyId().c_str());
    auto pk = PublicKey::loadFile(pub);
    STRCMP_EQUAL(key->keyId().c_str(), pk->keyId().c_str());
    STRCMP_EQUAL("dev-7", pk->attributes.at("device").c_str());
}

TEST(Keys, existingKeyIsNeverOverwritten)
{
    auto key = SigningKey::generate();
    std::string priv = (dir / "dev.key").string(), pub = (dir / "dev.pub").string();
    key->writeFiles(priv, pub);
    auto other = SigningKey::generate();
    CHECK_THROWS(KeyError, other->writeFiles(priv, pub));
    STRCMP_EQUAL(key->keyId().c_str(), SigningKey::loadFile(priv)->keyId().c_str());
}

TEST(Keys, privateKeyReadableByOthersIsRefusedWithFileAndFix)
{
    auto key = SigningKey::generate();
    std::string priv = (dir / "dev.key").string(), pub = (dir / "dev.pub").string();
    key->writeFiles(priv, pub);
    ::chmod(priv.c_str(), 0644);
    try {
        SigningKey::loadFile(priv);
        FAIL("a 0644 private key was accepted");
    } catch (const KeyError &e) {
        std::string msg = e.what();
        CHECK(msg.find(priv) != std::string::npos);
        CHECK(msg.find("0644") != std::string::npos);
        CHECK(msg.find("chmod 600 " + priv) != std::string::npos);
    }
    ::chmod(priv.c_str(), 0640);
    CHECK_THROWS(KeyError, SigningKey::loadFile(priv));
    ::chmod(priv.c_str(), 0600);
    SigningKey::loadFile(priv);
}

TEST(Keys, keyRingLoadsFolderAndBindsDevice)
{
    auto a = SigningKey::generate();
    auto b = SigningKey::generate();
    a->writeFiles((dir / "a.key").string(), (dir / "dev-a.pub").string(), {{"device", "unit-a"}});
    b->writeFiles((dir / "b.key").string(), (dir / "dev-b.pub").string());
    KeyRing ring;
    LONGS_EQUAL(2, ring.loadDirectory(dir.string()));
    STRCMP_EQUAL("unit-a", ring.find(a->keyId())->deviceId.c_str());
    /* Without a device header the file stem names the device. */
    STRCMP_EQUAL("dev-b", ring.find(b->keyId())->deviceId.c_str());
}

TEST(Keys, malformedDateInEnrolmentIsRefused)
{
    auto a = SigningKey::generate();
    a->writeFiles((dir / "a.key").string(), (dir / "a.pub").string(), {{"revoked", "yesterday"}});
    KeyRing ring;
    CHECK_THROWS(KeyError, ring.loadDirectory(dir.string()));
}

TEST(Keys, receiptChecksServerKeyAndRecord)
{
    auto server = SigningKey::generate();
    Receipt r;
    r.set_device_id("dev");
    r.set_seq(4);
    r.set_record_hash(sha256("x"));
    std::string sealed = sealReceipt(r, *server);
    std::string why;
    CHECK(checkReceipt(sealed, server->publicKey(), "dev", 4, sha256("x"), &why));
    CHECK_FALSE(checkReceipt(sealed, server->publicKey(), "dev", 5, sha256("x"), &why));
    CHECK_FALSE(checkReceipt(sealed, server->publicKey(), "dev", 4, sha256("y"), &why));
    auto impostor = SigningKey::generate();
    CHECK_FALSE(checkReceipt(sealReceipt(r, *impostor), server->publicKey(), "dev", 4, sha256("x"),
                             &why));
}

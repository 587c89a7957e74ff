#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace stopline::evidence {

/* A key could not be made, read or trusted; the message names the file and the fix. */
class KeyError : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

/* Key id: hex of the first 8 bytes of SHA-256 over the raw 32-byte public key. Short
 * enough to read aloud in court, long enough that two devices never collide. */
std::string keyIdFor(std::string_view rawPublicKey);

/* An Ed25519 public key, with the metadata an enrolment file may carry. */
class PublicKey
{
public:
    ~PublicKey();
    PublicKey(const PublicKey &) = delete;
    PublicKey &operator=(const PublicKey &) = delete;

    static std::unique_ptr<PublicKey> fromRaw(std::string_view raw);
    static std::unique_ptr<PublicKey> fromPem(std::string_view pem);

    /* Reads an enrolment file: optional "name: value" header lines (device,
     * not-before, not-after, revoked, as ISO-8601 UTC), then a PEM public key. */
    static std::unique_ptr<PublicKey> loadFile(const std::string &path);

    const std::string &raw() const { return raw_; }
    const std::string &keyId() const { return keyId_; }
    std::string pem() const;

    /* Verifies an Ed25519 signature over domain || message. */
    bool verify(std::string_view domain, std::string_view message,
                std::string_view signature) const;

    /* Header values from the enrolment file ("device", "revoked", ...). */
    std::map<std::string, std::string> attributes;

private:
    PublicKey() = default;
    void *pkey_ = nullptr; /* EVP_PKEY, kept opaque so users need no OpenSSL headers */
    std::string raw_;
    std::string keyId_;
};

/* An Ed25519 private key. Never leaves the device; loaded only from a file that
 * nobody but its owner can read. */
class SigningKey
{
public:
    ~SigningKey();
    SigningKey(const SigningKey &) = delete;
    SigningKey &operator=(const SigningKey &) = delete;

    static std::unique_ptr<SigningKey> generate();
    static std::unique_ptr<SigningKey> fromPem(std::string_view pem);

    /* Refuses a file readable or writable by group or others: a key others could read
     * cannot prove who made a record. */
    static std::unique_ptr<SigningKey> loadFile(const std::string &path);

    /* Writes NAME.key (mode 0600, refused if it exists) and NAME.pub (0644) with the
     * given header lines, so the public half can be enrolled as is. */
    void writeFiles(const std::string &privatePath, const std::string &publicPath,
                    const std::map<std::string, std::string> &attributes = {}) const;

    /* Ed25519 signature (64 bytes) over domain || message. */
    std::string sign(std::string_view domain, std::string_view message) const;

    const PublicKey &publicKey() const { return *public_; }
    const std::string &keyId() const { return public_->keyId(); }

private:
    SigningKey() = default;
    void *pkey_ = nullptr; /* EVP_PKEY */
    std::unique_ptr<PublicKey> public_;
};

/* Checks that a private-key file is not readable by group or others; throws KeyError
 * naming the file, its mode and the fix. */
void checkPrivateKeyPermissions(const std::string &path);

} /* namespace stopline::evidence */

#include "evidence/keys.h"

#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "evidence/crypto.h"

namespace stopline::evidence {

namespace {

EVP_PKEY *asKey(void *p)
{
    return static_cast<EVP_PKEY *>(p);
}

std::string rawPublicOf(EVP_PKEY *key)
{
    size_t len = 32;
    std::string raw(len, '\0');
    if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char *>(raw.data()), &len) !=
                1 ||
        len != 32)
        throw KeyError("not an Ed25519 key");
    return raw;
}

std::string readWholeFile(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw KeyError("cannot read key file " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string concat(std::string_view domain, std::string_view message)
{
    std::string buf;
    buf.reserve(domain.size() + message.size());
    buf.append(domain);
    buf.append(message);
    return buf;
}

void writeAll(int fd, const std::string &data, const std::string &path)
{
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0)
            throw KeyError("cannot write " + path);
        off += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0)
        throw KeyError("cannot fsync " + path);
}

} /* namespace */

std::string keyIdFor(std::string_view rawPublicKey)
{
    return toHex(sha256(rawPublicKey).substr(0, 8));
}

PublicKey::~PublicKey()
{
    EVP_PKEY_free(asKey(pkey_));
}

std::unique_ptr<PublicKey> PublicKey::fromRaw(std::string_view raw)
{
    if (raw.size() != 32)
        throw KeyError("Ed25519 public key must be 32 bytes, got " + std::to_string(raw.size()));
    EVP_PKEY *key = EVP_PKEY_new_raw_public_key(
            EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char *>(raw.data()), 32);
    if (!key)
        throw KeyError("invalid Ed25519 public key");
    std::unique_ptr<PublicKey> pk(new PublicKey);
    pk->pkey_ = key;
    pk->raw_ = std::string(raw);
    pk->keyId_ = keyIdFor(raw);
    return pk;
}

std::unique_ptr<PublicKey> PublicKey::fromPem(std::string_view pem)
{
    BIO *bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    EVP_PKEY *key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (!key)
        throw KeyError("no PEM public key found");
    if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(key);
        throw KeyError("public key is not Ed25519");
    }
    std::unique_ptr<PublicKey> pk(new PublicKey);
    pk->pkey_ = key;
    pk->raw_ = rawPublicOf(key);
    pk->keyId_ = keyIdFor(pk->raw_);
    return pk;
}

std::unique_ptr<PublicKey> PublicKey::loadFile(const std::string &path)
{
    std::string text = readWholeFile(path);
    std::unique_ptr<PublicKey> pk;
    try {
        pk = fromPem(text);
    } catch (const KeyError &e) {
        throw KeyError(path + ": " + e.what());
    }
    /* Header lines "name: value" before the PEM block carry enrolment metadata. */
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind("-----BEGIN", 0) == 0)
            break;
        if (line.empty() || line[0] == '#')
            continue;
        auto colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        std::string name = line.substr(0, colon);
        std::string value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
            value.erase(value.begin());
        while (!value.empty() && (value.back() == ' ' || value.back() == '\r'))
            value.pop_back();
        pk->attributes[name] = value;
    }
    if (auto it = pk->attributes.find("key-id");
        it != pk->attributes.end() && it->second != pk->keyId())
        throw KeyError(path + ": header key-id " + it->second + " does not match the key (" +
                       pk->keyId() + ")");
    return pk;
}

std::string PublicKey::pem() const
{
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, asKey(pkey_));
    char *data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(len));
    BIO_free(bio);
    return out;
}

bool PublicKey::verify(std::string_view domain, std::string_view message,
                       std::string_view signature) const
{
    if (signature.size() != 64)
        return false;
    std::string buf = concat(domain, message);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok =
            EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, asKey(pkey_)) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char *>(signature.data()),
                             signature.size(), reinterpret_cast<const unsigned char *>(buf.data()),
                             buf.size()) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

SigningKey::~SigningKey()
{
    EVP_PKEY_free(asKey(pkey_));
}

std::unique_ptr<SigningKey> SigningKey::generate()
{
    EVP_PKEY *key = nullptr;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
    if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &key) != 1) {
        EVP_PKEY_CTX_free(ctx);
        throw KeyError("Ed25519 key generation failed");
    }
    EVP_PKEY_CTX_free(ctx);
    std::unique_ptr<SigningKey> sk(new SigningKey);
    sk->pkey_ = key;
    sk->public_ = PublicKey::fromRaw(rawPublicOf(key));
    return sk;
}

std::unique_ptr<SigningKey> SigningKey::fromPem(std::string_view pem)
{
    BIO *bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (!key)
        throw KeyError("no PEM private key found");
    if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(key);
        throw KeyError("private key is not Ed25519");
    }
    std::unique_ptr<SigningKey> sk(new SigningKey);
    sk->pkey_ = key;
    sk->public_ = PublicKey::fromRaw(rawPublicOf(key));
    return sk;
}

void checkPrivateKeyPermissions(const std::string &path)
{
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
        throw KeyError("private key " + path + " does not exist or cannot be read");
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        char mode[8];
        std::snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
        throw KeyError("private key " + path + " is accessible by group or others (mode " + mode +
                       "); refusing to use it. Fix: chmod 600 " + path);
    }
}

std::unique_ptr<SigningKey> SigningKey::loadFile(const std::string &path)
{
    checkPrivateKeyPermissions(path);
    try {
        return fromPem(readWholeFile(path));
    } catch (const KeyError &e) {
        throw KeyError(path + ": " + e.what());
    }
}

void SigningKey::writeFiles(const std::string &privatePath, const std::string &publicPath,
                            const std::map<std::string, std::string> &attributes) const
{
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, asKey(pkey_), nullptr, nullptr, 0, nullptr, nullptr);
    char *data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(len));
    BIO_free(bio);

    /* O_EXCL: never overwrite a key that may already have signed records. */
    int fd = ::open(privatePath.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        throw KeyError("cannot create " + privatePath + " (it may already exist; keys are never " +
                       "overwritten)");
    ::fchmod(fd, 0600); /* umask cannot widen it, but be explicit */
    try {
        writeAll(fd, pem, privatePath);
    } catch (...) {
        ::close(fd);
        throw;
    }
    ::close(fd);

    std::string pub = "# stopline Ed25519 public key: enrol this file, keep the .key secret\n";
    pub += "key-id: " + keyId() + "\n";
    for (const auto &[name, value] : attributes)
        pub += name + ": " + value + "\n";
    pub += public_->pem();
    int pfd = ::open(publicPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (pfd < 0)
        throw KeyError("cannot create " + publicPath);
    try {
        writeAll(pfd, pub, publicPath);
    } catch (...) {
        ::close(pfd);
        throw;
    }
    ::close(pfd);
}

std::string SigningKey::sign(std::string_view domain, std::string_view message) const
{
    std::string buf = concat(domain, message);
    std::string sig(64, '\0');
    size_t siglen = sig.size();
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, asKey(pkey_)) == 1 &&
              EVP_DigestSign(ctx, reinterpret_cast<unsigned char *>(sig.data()), &siglen,
                             reinterpret_cast<const unsigned char *>(buf.data()), buf.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok || siglen != 64)
        throw KeyError("Ed25519 signing failed");
    return sig;
}

} /* namespace stopline::evidence */

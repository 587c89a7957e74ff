#include "backoffice/auth.h"

#include <cstdio>
#include <stdexcept>
#include <vector>

#include <openssl/evp.h>

#include "evidence/crypto.h"

namespace stopline::backoffice {

using evidence::constantTimeEqual;
using evidence::fromHex;
using evidence::randomBytes;
using evidence::toHex;

bool parseRole(const std::string &text, Role *role)
{
    static const std::pair<const char *, Role> names[] = {{"reviewer", Role::Reviewer},
                                                          {"supervisor", Role::Supervisor},
                                                          {"technician", Role::Technician},
                                                          {"admin", Role::Admin}};
    for (auto &[name, r] : names)
        if (text == name) {
            *role = r;
            return true;
        }
    return false;
}

const char *roleName(Role role)
{
    switch (role) {
    case Role::Reviewer:
        return "reviewer";
    case Role::Supervisor:
        return "supervisor";
    case Role::Technician:
        return "technician";
    case Role::Admin:
        return "admin";
    }
    return "unknown";
}

namespace {

constexpr int kLogN = 15, kR = 8, kP = 1;
constexpr size_t kKeyLen = 32;

bool scrypt(const std::string &password, const std::string &salt, int logN, int r, int p,
            std::string *out)
{
    if (logN < 10 || logN > 20 || r < 1 || r > 32 || p < 1 || p > 16)
        return false;
    std::vector<unsigned char> key(kKeyLen);
    uint64_t n = uint64_t{1} << logN;
    /* maxmem: 128 * N * r * p plus slack, else OpenSSL refuses the larger settings. */
    uint64_t maxmem = 128 * n * r * p + (uint64_t{1} << 24);
    if (EVP_PBE_scrypt(password.data(), password.size(),
                       reinterpret_cast<const unsigned char *>(salt.data()), salt.size(), n, r, p,
                       maxmem, key.data(), key.size()) != 1)
        return false;
    out->assign(reinterpret_cast<const char *>(key.data()), key.size());
    return true;
}

} /* namespace */

std::string hashPassword(const std::string &password)
{
    std::string salt = randomBytes(16), key;
    if (!scrypt(password, salt, kLogN, kR, kP, &key))
        throw std::runtime_error("scrypt failed (out of memory?)");
    return "scrypt$" + std::to_string(kLogN) + "$" + std::to_string(kR) + "$" + std::to_string(kP) +
           "$" + toHex(salt) + "$" + toHex(key);
}

bool verifyPassword(const std::string &password, const std::string &stored)
{
    int logN = 0, r = 0, p = 0;
    char saltHex[129] = {0}, keyHex[129] = {0};
    if (std::sscanf(stored.c_str(), "scrypt$%d$%d$%d$%128[0-9a-f]$%128[0-9a-f]", &logN, &r, &p,
                    saltHex, keyHex) != 5)
        return false;
    std::string salt, expected, actual;
    if (!fromHex(saltHex, &salt) || !fromHex(keyHex, &expected) || expected.size() != kKeyLen)
        return false;
    if (!scrypt(password, salt, logN, r, p, &actual))
        return false;
    return constantTimeEqual(actual, expected);
}

std::string randomToken()
{
    return toHex(randomBytes(32));
}

} /* namespace stopline::backoffice */

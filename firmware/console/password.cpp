#include "firmware/console/password.h"

#include <cstdio>
#include <vector>

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "evidence/crypto.h"

namespace stopline::firmware {

namespace {

struct Parsed
{
    int logN = 0, r = 0, p = 0;
    std::string salt, hash;
};

std::string b64(std::string_view raw)
{
    std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()),
                            reinterpret_cast<const unsigned char *>(raw.data()),
                            static_cast<int>(raw.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

std::optional<std::string> unb64(std::string_view text)
{
    if (text.empty() || text.size() % 4)
        return std::nullopt;
    std::string out(text.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char *>(out.data()),
                            reinterpret_cast<const unsigned char *>(text.data()),
                            static_cast<int>(text.size()));
    if (n < 0)
        return std::nullopt;
    size_t pad = (text.back() == '=') + (text.size() > 1 && text[text.size() - 2] == '=');
    out.resize(static_cast<size_t>(n) - pad);
    return out;
}

std::optional<std::string> derive(std::string_view password, const std::string &salt, int logN,
                                  int r, int p)
{
    std::string out(32, '\0');
    if (EVP_PBE_scrypt(password.data(), password.size(),
                       reinterpret_cast<const unsigned char *>(salt.data()), salt.size(),
                       uint64_t(1) << logN, static_cast<uint64_t>(r), static_cast<uint64_t>(p),
                       256ull << 20, reinterpret_cast<unsigned char *>(out.data()),
                       out.size()) != 1)
        return std::nullopt;
    return out;
}

std::optional<Parsed> parse(std::string_view hash)
{
    /* $scrypt$ln=15,r=8,p=1$salt$hash */
    std::vector<std::string> parts;
    std::string cur;
    for (char c : hash) {
        if (c == '$') {
            parts.push_back(cur);
            cur.clear();
        } else {
            cur.push_back(c);
        }
    }
    parts.push_back(cur);
    if (parts.size() != 5 || !parts[0].empty() || parts[1] != "scrypt")
        return std::nullopt;
    Parsed out;
    int consumed = 0;
    if (std::sscanf(parts[2].c_str(), "ln=%d,r=%d,p=%d%n", &out.logN, &out.r, &out.p, &consumed) !=
                3 ||
        consumed != static_cast<int>(parts[2].size()))
        return std::nullopt;
    if (out.logN < 10 || out.logN > 20 || out.r < 1 || out.r > 32 || out.p < 1 || out.p > 16)
        return std::nullopt;
    auto salt = unb64(parts[3]);
    auto h = unb64(parts[4]);
    if (!salt || !h || salt->size() < 8 || h->size() != 32)
        return std::nullopt;
    out.salt = *salt;
    out.hash = *h;
    return out;
}

} /* namespace */

std::string hashPassword(std::string_view password, int logN)
{
    std::string salt = evidence::randomBytes(16);
    auto h = derive(password, salt, logN, 8, 1);
    if (!h)
        return {};
    return "$scrypt$ln=" + std::to_string(logN) + ",r=8,p=1$" + b64(salt) + "$" + b64(*h);
}

bool checkPassword(std::string_view password, std::string_view hash)
{
    auto parsed = parse(hash);
    if (!parsed)
        return false;
    auto h = derive(password, parsed->salt, parsed->logN, parsed->r, parsed->p);
    return h && evidence::constantTimeEqual(*h, parsed->hash);
}

std::optional<std::string> passwordHashProblem(std::string_view hash)
{
    if (!parse(hash))
        return "not a password hash of the form $scrypt$ln=N,r=R,p=P$salt$hash "
               "(make one with: stoplined --hash-password)";
    return std::nullopt;
}

} /* namespace stopline::firmware */

#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace stopline::firmware {

/* Password hashes for the technician console, in the form
 * "$scrypt$ln=15,r=8,p=1$<salt b64>$<hash b64>" (OpenSSL's scrypt KDF). The config holds
 * only the hash; `stoplined --hash-password` makes one. */
std::string hashPassword(std::string_view password, int logN = 15);

/* Constant-time check of `password` against a hash made by hashPassword(). A malformed
 * hash never matches. */
bool checkPassword(std::string_view password, std::string_view hash);

/* Why a hash string is unusable (for config validation), or nullopt when it is fine. */
std::optional<std::string> passwordHashProblem(std::string_view hash);

} /* namespace stopline::firmware */

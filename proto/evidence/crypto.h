#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace stopline::evidence {

/* SHA-256 of `data`, as 32 raw bytes. */
std::string sha256(std::string_view data);

/* SHA-256 of a file's contents; throws std::runtime_error naming the file. */
std::string sha256File(const std::string &path);

/* Lower-case hex of raw bytes. */
std::string toHex(std::string_view bytes);

/* Raw bytes from hex; returns false on odd length or a non-hex character. */
bool fromHex(std::string_view hex, std::string *out);

/* Cryptographically random bytes (OpenSSL RAND_bytes). */
std::string randomBytes(std::size_t count);

/* Compares without early exit, for secrets and MACs. */
bool constantTimeEqual(std::string_view a, std::string_view b);

} /* namespace stopline::evidence */

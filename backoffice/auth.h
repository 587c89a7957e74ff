#pragma once

#include <string>

namespace stopline::backoffice {

/* Roles of issue 5; every route names the ones it admits (routes.h). */
enum class Role { Reviewer, Supervisor, Technician, Admin };

bool parseRole(const std::string &text, Role *role);
const char *roleName(Role role);

/* scrypt (OpenSSL EVP_PBE_scrypt, N=2^15, r=8, p=1: ~32 MiB and tens of ms per guess)
 * with a random 16-byte salt; the parameters travel in the string so they can be
 * raised later without invalidating stored hashes:
 * "scrypt$15$8$1$<salt hex>$<hash hex>". */
std::string hashPassword(const std::string &password);

/* Constant-time check against a string from hashPassword(); false on any malformed
 * hash rather than an exception, so a corrupt row cannot be used to probe. */
bool verifyPassword(const std::string &password, const std::string &stored);

/* 32 random bytes as hex: session ids, CSRF tokens, device tokens. */
std::string randomToken();

} /* namespace stopline::backoffice */

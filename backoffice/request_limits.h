#pragma once

/* What a client may send, checked before any work is done for it (issue 16): request
 * bodies are bounded in size and nesting, every string that can reach the store or the
 * audit log is bounded in length, and text is valid UTF-8 (a stored invalid byte would
 * break every later JSON answer that shows it). */

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace stopline::backoffice {

/* Deeper nesting than any of our request shapes needs; small enough that the JSON
 * library's recursive copy, compare and dump stay far from the stack's end. */
inline constexpr size_t kMaxJsonDepth = 32;
inline constexpr size_t kMaxJsonBody = 64 * 1024; /* default for JSON routes */
inline constexpr size_t kMaxLoginBody = 4 * 1024;
inline constexpr size_t kMaxHeartbeatBody = 16 * 1024;
inline constexpr size_t kMaxJsonString = 4 * 1024; /* notes, reasons, names, addresses */
inline constexpr size_t kMaxUsername = 64;
inline constexpr size_t kMaxPassword = 1024;
inline constexpr size_t kMaxQueryValue = 512; /* search terms, plates, filters */

bool isValidUtf8(std::string_view text);

/* True when no array or object in `text` nests deeper than `limit` (brackets inside
 * strings do not count). A cheap scan that runs before the parser ever sees the text. */
bool jsonDepthWithin(std::string_view text, size_t limit);

/* Checks a JSON request body without keeping the tree: "" when acceptable (or not
 * JSON at all: the route refuses that itself), else a message for a 400 (too deep, a
 * string too long). */
std::string jsonBodyProblem(std::string_view body);

/* Checks every query parameter (decoded) for UTF-8 and length: "" or the problem. */
std::string queryProblem(std::string_view query);

/* Typed reads of one field of a JSON object. Absent fields keep *out and succeed; a
 * field of another type or a string longer than maxBytes fails with *error naming it. */
bool readString(const nlohmann::json &object, const char *name, size_t maxBytes,
                std::string *out, std::string *error);
bool readObject(const nlohmann::json &object, const char *name, nlohmann::json *out,
                std::string *error);

} /* namespace stopline::backoffice */

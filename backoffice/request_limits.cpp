#include "backoffice/request_limits.h"

#include <cstdint>
#include <vector>

#include "backoffice/http_server.h"

namespace stopline::backoffice {

using nlohmann::json;

namespace {

/* Length of the UTF-8 sequence starting at `lead`, 0 for a byte that cannot start one. */
size_t sequenceLength(unsigned char lead)
{
    if (lead < 0x80)
        return 1;
    if (lead >= 0xC2 && lead <= 0xDF)
        return 2;
    if (lead >= 0xE0 && lead <= 0xEF)
        return 3;
    if (lead >= 0xF0 && lead <= 0xF4)
        return 4;
    return 0; /* continuation byte, overlong C0/C1, or beyond U+10FFFF */
}

bool isContinuation(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Second-byte ranges that exclude overlong forms, surrogates and > U+10FFFF. */
bool secondByteAllowed(unsigned char lead, unsigned char second)
{
    switch (lead) {
    case 0xE0:
        return second >= 0xA0;
    case 0xED:
        return second <= 0x9F;
    case 0xF0:
        return second >= 0x90;
    case 0xF4:
        return second <= 0x8F;
    default:
        return true;
    }
}

/* The longest string in a parsed tree, as a JSON pointer, when longer than `limit`. */
std::string overlongString(const json &root, size_t limit)
{
    /* An explicit stack: the depth is already bounded, but a walk needs no recursion. */
    std::vector<std::pair<const json *, std::string>> todo{{&root, ""}};
    while (!todo.empty()) {
        auto [node, path] = todo.back();
        todo.pop_back();
        if (node->is_string() && node->get_ref<const std::string &>().size() > limit)
            return path.empty() ? "/" : path;
        if (node->is_object())
            for (auto it = node->begin(); it != node->end(); ++it) {
                if (it.key().size() > limit)
                    return path + "/" + it.key().substr(0, 32) + "...";
                todo.emplace_back(&it.value(), path + "/" + it.key());
            }
        if (node->is_array())
            for (size_t i = 0; i < node->size(); ++i)
                todo.emplace_back(&(*node)[i], path + "/" + std::to_string(i));
    }
    return {};
}

} /* namespace */

bool isValidUtf8(std::string_view text)
{
    size_t i = 0;
    while (i < text.size()) {
        auto lead = static_cast<unsigned char>(text[i]);
        size_t n = sequenceLength(lead);
        if (n == 0 || i + n > text.size())
            return false;
        for (size_t k = 1; k < n; ++k)
            if (!isContinuation(static_cast<unsigned char>(text[i + k])))
                return false;
        if (n > 1 && !secondByteAllowed(lead, static_cast<unsigned char>(text[i + 1])))
            return false;
        i += n;
    }
    return true;
}

bool jsonDepthWithin(std::string_view text, size_t limit)
{
    size_t depth = 0;
    bool inString = false, escaped = false;
    for (char c : text) {
        if (inString) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                inString = false;
            continue;
        }
        if (c == '"') {
            inString = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit)
                return false;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return true;
}

std::string jsonBodyProblem(std::string_view body)
{
    if (!jsonDepthWithin(body, kMaxJsonDepth))
        return "the request body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    /* The parser rejects invalid UTF-8 inside strings, so a parsed body is clean text. */
    json j = json::parse(body, nullptr, false);
    /* Text that is not JSON (or not UTF-8) is left to the route, whose own answer says
     * what it expects (login: 415 for a form post); no route can use such a body. */
    if (j.is_discarded())
        return {};
    std::string where = overlongString(j, kMaxJsonString);
    if (!where.empty())
        return "the string at " + where + " is longer than " + std::to_string(kMaxJsonString) +
               " bytes";
    return {};
}

std::string queryProblem(std::string_view query)
{
    size_t pos = 0;
    while (pos < query.size()) {
        size_t end = query.find('&', pos);
        if (end == std::string_view::npos)
            end = query.size();
        std::string part = urlDecode(std::string(query.substr(pos, end - pos)));
        if (!isValidUtf8(part))
            return "the query string is not valid UTF-8";
        if (part.size() > kMaxQueryValue)
            return "a query parameter is longer than " + std::to_string(kMaxQueryValue) + " bytes";
        pos = end + 1;
    }
    return {};
}

bool readString(const json &object, const char *name, size_t maxBytes, std::string *out,
                std::string *error)
{
    auto it = object.find(name);
    if (it == object.end())
        return true;
    if (!it->is_string()) {
        *error = std::string("'") + name + "' must be a string";
        return false;
    }
    const auto &s = it->get_ref<const std::string &>();
    if (s.size() > maxBytes) {
        *error = std::string("'") + name + "' is longer than " + std::to_string(maxBytes) +
                 " bytes";
        return false;
    }
    *out = s;
    return true;
}

bool readObject(const json &object, const char *name, json *out, std::string *error)
{
    auto it = object.find(name);
    if (it == object.end())
        return true;
    if (!it->is_object()) {
        *error = std::string("'") + name + "' must be an object";
        return false;
    }
    *out = *it;
    return true;
}

} /* namespace stopline::backoffice */

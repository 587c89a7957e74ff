#pragma once

/* Response and parameter helpers shared by the handler files of BackofficeApp
 * (server.cpp, server_work.cpp) only. */

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "backoffice/http_server.h"

namespace stopline::backoffice {

/* Invalid UTF-8 already in the store (written before the edge refused it) is shown
 * as U+FFFD rather than failing the whole answer. */
inline HttpResponse jsonResponse(int status, const nlohmann::json &body)
{
    return HttpResponse{status, "application/json",
                        body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                        {}};
}

/* {"error": message}: the UI shows the message as it is. */
inline HttpResponse error(int status, const std::string &message)
{
    return jsonResponse(status, nlohmann::json{{"error", message}});
}

/* A non-negative decimal id of at most 18 digits (fits int64 without overflow). */
inline bool parseId(const std::string &text, int64_t *id)
{
    if (text.empty() || text.size() > 18)
        return false;
    for (char c : text)
        if (c < '0' || c > '9')
            return false;
    *id = std::stoll(text);
    return true;
}

} /* namespace stopline::backoffice */

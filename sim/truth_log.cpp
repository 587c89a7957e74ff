#include "sim/truth_log.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace stopline::sim {

TruthLog::TruthLog(const std::string &path)
{
    if (path.empty())
        return;
    file_ = std::fopen(path.c_str(), "w");
    if (!file_)
        throw std::runtime_error("cannot write ground truth to " + path + ": " +
                                 std::strerror(errno));
}

TruthLog::~TruthLog()
{
    if (file_)
        std::fclose(file_);
}

void TruthLog::write(Nanos at, Json record)
{
    if (!file_)
        return;
    /* Put the timestamps first, where a reader's eye expects them. */
    Json out{{"t_ns", t0_ + at}, {"t_s", static_cast<double>(at) / 1e9}};
    for (auto &[k, v] : record.items())
        out[k] = std::move(v);
    /* times the world knew only relative to the start become absolute too */
    if (out.contains("in_beam") && out["in_beam"].is_object()) {
        Json &b = out["in_beam"];
        b["from_ns"] = t0_ + b["from_ns_rel"].get<Nanos>();
        b["to_ns"] = t0_ + b["to_ns_rel"].get<Nanos>();
    }
    std::string line = out.dump(-1, ' ', false, Json::error_handler_t::replace);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fflush(file_);
}

} /* namespace stopline::sim */

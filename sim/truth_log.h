#pragma once

#include <cstdio>
#include <string>

#include "hal/time.h"
#include "sim/world.h"

/* The ground-truth file: one JSON object per line, flushed as it is written so a test
 * can follow it while the simulation runs (sim/README.md documents the records). Every
 * record carries "t_ns" (CLOCK_MONOTONIC, the same clock as the wire timestamps) and
 * "t_s" (seconds from the scenario start). Used from the event thread only. */
namespace stopline::sim {

class TruthLog
{
public:
    /* An empty path keeps no log. Throws std::runtime_error naming the file. */
    explicit TruthLog(const std::string &path);
    ~TruthLog();
    TruthLog(const TruthLog &) = delete;
    TruthLog &operator=(const TruthLog &) = delete;

    void setStart(Nanos t0) { t0_ = t0; }
    /* Writes `record` stamped at `at` (relative to the scenario start). */
    void write(Nanos at, Json record);
    bool enabled() const { return file_ != nullptr; }

private:
    std::FILE *file_ = nullptr;
    Nanos t0_ = 0;
};

} /* namespace stopline::sim */

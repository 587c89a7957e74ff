#pragma once

#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "hal/time.h"

/* Runs stopline-sim as a child process for a hardware-in-the-loop test: a private
 * directory for its sockets, ground truth and logs, its wire addresses once it has
 * announced them, and clean-up (SIGTERM, then SIGKILL) however the test ends. */
namespace stopline::hil {

using Json = nlohmann::json;

class SimProcess
{
public:
    /* Starts `scenario` (a file name under STOPLINE_SCENARIO_DIR or a path) with extra
     * arguments, and waits until the wires file appears. Throws std::runtime_error with
     * the simulator's stderr when it exits or stays silent. */
    explicit SimProcess(const std::string &scenario, std::vector<std::string> args = {});
    ~SimProcess();
    SimProcess(const SimProcess &) = delete;
    SimProcess &operator=(const SimProcess &) = delete;

    const Json &wires() const { return wires_; }
    const std::string &dir() const { return dir_; }
    pid_t pid() const { return pid_; }

    /* Every ground-truth record written so far. */
    std::vector<Json> truth() const;
    /* Records of one type. */
    std::vector<Json> truth(const std::string &type) const;

    /* Waits for the simulator to exit; returns its exit status, or -1 on timeout. */
    int wait(Nanos timeout);
    bool exited();
    int exitStatus() const { return status_; }
    void signal(int sig);

    std::string stderrText() const;
    std::string stdoutText() const;

    /* Where the simulator binary and the shipped scenarios are (compiled in). */
    static std::string binary();
    static std::string scenarioPath(const std::string &name);

    /* Runs the simulator to completion with `args` (no wires wait); returns its exit
     * status and what it printed on stderr. */
    static int runToEnd(const std::vector<std::string> &args, std::string *err,
                        Nanos timeout = 60 * kNanosPerSecond);

private:
    std::string dir_;
    pid_t pid_ = -1;
    int status_ = -1;
    Json wires_;
};

/* Reads a whole file ("" when missing). */
std::string readFile(const std::string &path);

} /* namespace stopline::hil */

#pragma once

#include <string>
#include <vector>

#include "sim/world.h"

/* Plays a World in real time on CLOCK_MONOTONIC: opens the wires, announces them,
 * waits for the clients it was told to wait for, then sends every edge, radar line,
 * camera frame and truth record when it is due, and ends with the scenario (or keeps
 * serving with --hold) or on SIGINT/SIGTERM. */
namespace stopline::sim {

struct RunOptions
{
    std::string truthPath;
    std::string wiresJsonPath;
    std::string socketDir; /* empty: a fresh directory under /tmp */
    std::string gpioSocket;
    std::string cameraSocket;
    std::string radarLink;
    std::vector<std::string> waitFor; /* "gpio", "camera", "radar" */
    double waitTimeoutS = 0;          /* 0: wait for ever */
    double startDelayS = 0;
    bool hold = false;
    bool gpioShared = false;
};

enum ExitCode { kExitOk = 0, kExitRuntime = 1, kExitScenario = 2, kExitNoClient = 3 };

/* Runs the scenario; returns an ExitCode. */
int runWorld(const World &world, const RunOptions &options);

} /* namespace stopline::sim */

#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "drivers/loops/loop_tracker.h"
#include "drivers/radar/ops243_driver.h"
#include "drivers/signal/phase_decoder.h"
#include "pipeline/evidence/capture.h"
#include "pipeline/trigger/red_light.h"
#include "pipeline/trigger/school_zone.h"

/* The capture pipeline on stopline-sim's wires, as the daemon wires it but in this process:
 * hal sim clients, the real drivers, both rules, the frame ring, evidence assembly and
 * sealing into a chain on disk. One run plays one scenario in real time and keeps every
 * decision, every coordinator result and the ground truth, for a test to compare. */
namespace stopline::hil {

using Json = nlohmann::json;

struct RigConfig
{
    std::string scenario; /* path of the scenario file */
    drivers::PhaseDecoderConfig signal;
    drivers::LoopTrackerConfig loops;
    pipeline::RedLightConfig redLight;
    /* Built for the day the test runs (the calendar must put school in session). */
    std::function<pipeline::SchoolZoneConfig(const pipeline::CivilTime &today)> schoolZone;
    pipeline::EvidenceOptions evidence;
    unsigned radarTargets = 2;
    double ringSeconds = 4;
    /* Bind the photographs to vehicles with the calibration an installer would mark in
     * a snapshot of the scenario's camera (stopline-sim --calibration); off: the shots
     * are taken at the planned instants, uncalibrated. */
    bool calibrated = true;
    /* Calibrate from this scenario's camera instead (a camera moved after calibration). */
    std::string calibrationScenario;
};

/* The calibration marked in a snapshot of the scenario's camera: painted features at
 * their road positions and pixels, the lanes, the photo zones where a plate is readable. */
pipeline::CameraCalibration scenarioCalibration(const std::string &scenarioPath);

struct RigRun
{
    struct Outcome
    {
        pipeline::Decision decision;
        pipeline::EvidenceAssembler::Result result;
    };

    bool ran = false;
    std::vector<std::string> setupProblems;
    std::vector<pipeline::Decision> finals; /* every Cite and NoCite of both rules */
    std::vector<Outcome> outcomes;          /* every cited decision, sealed or refused */
    std::vector<Json> truth;                /* the simulator's ground truth */
    std::optional<pipeline::CameraCalibration> calibration; /* in force, when calibrated */
    std::vector<double> captureLatencyUs; /* Capture decisions, from the event's edge */
    pipeline::ReasonCounts redLightCounts, schoolZoneCounts;
    std::filesystem::path dir; /* records/ and keys/ of the run */
    std::string verifyOutput;  /* stopline-verify over records/ */
    int verifyStatus = -1;
    std::size_t recordsOnDisk = 0; /* including the genesis */
    double fps = 0;
    std::vector<drivers::radar::RadarSelfCheck> radarChecks; /* as the driver reported them */
    std::vector<drivers::radar::RadarSelfCheck::Kind> sealedRadarChecks; /* sealed in the chain */

    /* Cleans the run's folder unless STOPLINE_KEEP_HIL is set or `keep`. */
    void finish(bool keep) const;
};

/* Plays the scenario and returns what happened. `verifyBin` is stopline-verify. */
RigRun runRig(const RigConfig &config, const std::string &verifyBin);

/* Runs a command, returns its exit status and output. */
int runCommand(const std::string &command, std::string *output);

} /* namespace stopline::hil */

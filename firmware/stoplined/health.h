#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hal/clock.h"
#include "hal/time.h"

namespace stopline::firmware {

/* What the daemon knows about its inputs at one instant; filled on the event thread. */
struct HealthInputs
{
    Nanos now = 0;

    /* Signal sensing: active conflict-monitor faults ("NB conflict: red and green"), and
     * whether GPIO edges still arrive at all. */
    std::vector<std::string> signalFaults;
    std::string gpioError; /* non-empty: edge delivery stopped */

    /* Camera: the newest frame's arrival, when capture began, its error if it stopped. */
    Nanos lastFrameNs = 0; /* 0: none yet */
    Nanos cameraStartNs = 0;
    double fps = 0;
    std::string cameraError;
    /* Why the camera's calibration cannot bind photographs to vehicles; empty when it can. */
    std::string calibrationProblem;

    /* Radar (only matters where speed is enforced). */
    bool radarEnabled = false;
    bool radarSpeedValid = false; /* the driver's view: a check passed, none failed since */
    std::optional<Nanos> lastPassedCheckNs;
    std::optional<bool> lastCheckPassed;
    std::string radarError;

    hal::ClockSync clock;

    bool spoolFull = false;
    std::uint64_t spoolBytes = 0;
    std::uint64_t spoolCapacity = 0;

    bool stopping = false;
};

/* The thresholds from the configuration. */
struct HealthPolicy
{
    bool redLight = false;
    bool schoolZone = false;
    bool requireSync = true;
    Nanos maxClockErrorNs = 100 * kNanosPerMilli;
    Nanos cameraStallNs = 2 * kNanosPerSecond;
    Nanos selfCheckMaxAgeNs = 15 * 60 * kNanosPerSecond;
};

/* Which preconditions of enforcement hold, and for each rule why it must be suspended.
 * Enforcement never runs half-blind: a rule is suspended while anything it relies on
 * fails, and the reasons are what the log, the heartbeat and the console show. */
struct HealthAssessment
{
    bool signalOk = true;
    std::string signalDetail;
    bool cameraOk = true;
    std::string cameraDetail;
    bool calibrationOk = true;
    std::string calibrationDetail;
    bool radarOk = true;
    std::string radarDetail;
    bool clockOk = true;
    std::string clockDetail;
    bool spoolOk = true;
    std::string spoolDetail;

    std::vector<std::string> redLightReasons;   /* empty: enforcing */
    std::vector<std::string> schoolZoneReasons; /* empty: enforcing */
    /* Machine-readable alarm names for the heartbeat ("spool.full", ...). */
    std::vector<std::string> alarms;

    bool stopping = false;

    /* Which preconditions fail for one rule ("camera,clock"), without the figures that
     * change from one check to the next (how long the camera has been stalled): the log
     * reports a suspension again only when this changes. */
    std::string causes(bool redLight) const;

    bool redLightSuspended() const { return !redLightReasons.empty(); }
    bool schoolZoneSuspended() const { return !schoolZoneReasons.empty(); }
    /* True when any enabled rule is suspended. */
    bool suspended() const { return redLightSuspended() || schoolZoneSuspended(); }
    /* Every distinct reason, "; "-separated, in a fixed order. */
    std::string reason() const;
};

HealthAssessment assessHealth(const HealthInputs &in, const HealthPolicy &policy);

/* Everything a heartbeat carries besides the assessment (backoffice/API.md). */
struct HeartbeatFacts
{
    std::string deviceId;
    std::int64_t timeUtcNs = 0;
    std::string softwareVersion;
    double uptimeS = 0;
    std::optional<std::int64_t> lastSelfCheckUtcNs;
    double cameraFps = 0;
    std::size_t spoolDepth = 0;
    std::uint64_t spoolBytes = 0;
    std::uint64_t spoolCapacity = 0;
    std::uint64_t diskFreeBytes = 0;
    hal::ClockSync clock;
    std::string uploadAlarm;
    std::string uploadError;
    std::uint64_t captured = 0;
    std::uint64_t uploaded = 0;
};

/* The heartbeat body as JSON (backoffice/API.md, POST /api/v1/heartbeats). */
std::string heartbeatJson(const HealthAssessment &health, const HeartbeatFacts &facts);

} /* namespace stopline::firmware */

#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "drivers/beacon/beacon_detector.h"
#include "drivers/loops/loop_tracker.h"
#include "drivers/radar/ops243_driver.h"
#include "drivers/signal/phase_decoder.h"
#include "firmware/config/config_schema.h"
#include "hal/camera.h"
#include "hal/gpio.h"
#include "hal/serial.h"
#include "pipeline/evidence/evidence_builder.h"
#include "pipeline/scene/road_calibration.h"
#include "pipeline/trigger/red_light.h"
#include "pipeline/trigger/school_zone.h"

namespace stopline::firmware {

/* Everything stoplined reads from its configuration, as the TOML file spells it (see
 * firmware/examples/). Plain data: the schema below binds each key to a field. Units are
 * in the key names (_s, _ms, _m, _mph, _mb). */
struct DaemonConfig
{
    struct Device
    {
        std::string id;       /* chain and back-office identity, e.g. "bel-0142-nb" */
        std::string serial;   /* hardware serial for the record */
        std::string keyFile;  /* Ed25519 private key (0600), stopline-keygen */
        std::string stateDir; /* spool, chain head, overrides, calibration */
    } device;

    struct Site
    {
        std::string locationCode;
        std::string description;
        std::string direction = "northbound";
        double latitude = 0;
        double longitude = 0;
        std::string timezone; /* e.g. "America/Los_Angeles"; empty: the system's */
        std::string calibrationId = "uncalibrated";
    } site;

    struct Clock
    {
        bool requireSync = true;
        double maxErrorMs = 100; /* adjtimex maximum error allowed while enforcing */
    } clock;

    struct Log
    {
        std::string level = "info";
    } log;

    struct GpioLine
    {
        std::string name, line;
        bool activeLow = false;
        std::string bias = "as_is";
    };
    struct Gpio
    {
        std::string backend = "gpiod";
        std::string chip = "gpiochip0";
        std::string simSocket;
        std::string consumer = "stoplined";
        double graceMs = 50;
        std::vector<GpioLine> lines;
    } gpio;

    struct Head
    {
        std::string name, red, yellow, green;
        std::vector<std::string> conflicting;
    };
    struct Signal
    {
        double debounceMs = 30;
        /* The slowest flash taken for flashing mode. The MUTCD has signals flash 50-60
         * times a minute (a 1.0-1.2 s period); 1.5 s leaves room. It also sets how long a
         * red-light decision waits for a fault to be recognised (3 periods). */
        double flashMaxPeriodS = 1.5;
        std::vector<Head> heads;
    } signal;

    struct LoopLane
    {
        std::string approach;
        long long lane = 1;
        std::string entryLoop, exitLoop;
        double spacingM = 0;
        double entryLengthM = 0, exitLengthM = 0; /* 0: unknown (interpolation only) */
    };
    struct Loops
    {
        double debounceMs = 20;
        double maxTravelS = 10;
        std::vector<LoopLane> lanes;
    } loops;

    struct Beacon
    {
        std::string name, line;
    };
    std::vector<Beacon> beacons;

    struct Radar
    {
        bool enabled = true;
        std::string device = "/dev/ttyACM0";
        unsigned baud = 19200;
        std::string unit = "mph";
        unsigned targets = 1;
        double periodicCheckMin = 10;
        double referenceToleranceMph = 1.0;
        double forkWindowS = 3.0;
    } radar;

    struct Camera
    {
        std::string backend = "libcamera";
        std::string device;
        long long width = 1280, height = 720;
        std::string format = "bgr888";
        double fps = 15;
        unsigned buffers = 0; /* 0: the ring's frame cap plus room for snapshots */
        double stallMs = 2000;
        double preTriggerS = 4;
        /* Where the road is in the image ([camera.calibration]; `calibrate camera` from
         * the console). Without points the camera is uncalibrated and enforcement stays
         * suspended: no record could show that its pictures are of the accused vehicle. */
        pipeline::CameraCalibration calibration;
    } camera;

    struct RedLane
    {
        std::string approach;
        long long lane = 1;
        std::string head, entryLoop, exitLoop;
        double stopLineFromEntryM = 0;
        bool rightTurn = false;
        std::string turnPolicy = "cite";
        double minSpeedMph = -1;
        bool radarTrack = false;
    };
    struct RedLight
    {
        bool enabled = false;
        double graceS = 0.3, minYellowS = 3.0, minSpeedMph = 15, qualifiedS = 1.0;
        double continuationS = 3.0;
        double maxStartAccelMps2 = 3.0;
        double bShotDelayS = 1.0, clipBeforeS = 3.0, clipAfterS = 3.0;
        std::string statute, statuteDescription;
        std::vector<RedLane> lanes;
    } redLight;

    struct Session
    {
        std::string first, last, name;
    };
    struct NoSchoolDay
    {
        std::string date, name;
    };
    struct SchoolZone
    {
        bool enabled = false;
        double limit = 20, thresholdOver = 10;
        std::string unit = "mph";
        double cosineAngleDeg = 0;
        double maxSpread = 2.0;
        std::string beacon;
        std::string direction = "inbound";
        double selfCheckMaxAgeMin = 15;
        double trackGapS = 0.5, passGapS = 2.0;
        std::string multiTarget = "discard_pass";
        std::string statute, statuteDescription;
        std::vector<std::string> windows;
        std::vector<std::string> schoolWeekdays{"mon", "tue", "wed", "thu", "fri"};
        std::vector<Session> sessions;
        std::vector<NoSchoolDay> noSchoolDays;
        double bShotDelayS = 0.5, clipBeforeS = 2.0, clipAfterS = 2.0;
        /* Where along the approach the radar's beam measures (metres from the stop line,
         * negative before it): with the camera's photo zone this says when a measured
         * vehicle can be photographed. */
        double beamFarM = -55, beamNearM = -25;
    } schoolZone;

    struct Evidence
    {
        unsigned workers = 2;
        long long workerNice = 10;
        long long shotJpegQuality = 90;
        double clipFps = 5;
        long long clipWidth = 640;
        long long clipJpegQuality = 70;
        double maxShotOffsetMs = 100;
    } evidence;

    struct Spool
    {
        double capacityMb = 512;
        double reserveMb = 4;
    } spool;

    struct Upload
    {
        bool enabled = true;
        std::string url;
        std::string caFile, clientCert, clientKey;
        std::string token, tokenFile;
        std::string serverKey; /* the back-office's receipt key (server.pub) */
        double heartbeatS = 30, checkpointS = 300;
        double backoffBaseMs = 500, backoffMaxS = 60, timeoutS = 15;
    } upload;

    struct ConsoleUser
    {
        std::string name, passwordHash;
    };
    struct Console
    {
        bool enabled = false;
        std::string device;
        unsigned baud = 115200;
        long long maxFailures = 5;
        double lockoutS = 900, idleLogoutS = 900;
        std::vector<ConsoleUser> users;
    } console;
};

/* A configuration and the schema bound to it (the schema points into the config, so
 * the two live and move together on the heap). */
struct LoadedConfig
{
    DaemonConfig config;
    ConfigSchema schema;
    std::string mainFile;        /* the file given with --config */
    std::string overridesFile;   /* STATE/overrides.toml: the console's `set`s */
    std::string calibrationFile; /* STATE/calibration.toml: the console's calibrations */
    /* STATE/camera_calibration.toml: `calibrate camera`'s [camera.calibration], which
     * replaces the main file's whole section. */
    std::string cameraCalibrationFile;

    /* The effective configuration as text (every key, lanes and lines included), whose
     * SHA-256 is the config identity in each record. */
    std::string effectiveText() const;
};

/* Declares every key of DaemonConfig on a fresh schema. */
ConfigSchema daemonSchema(DaemonConfig *config);

/* Loads the layers in order (defaults, `path`, then the overrides and calibration files
 * in the state folder when they exist) and checks the result as a whole: every key is
 * typed and ranged by the schema, and cross-references (a lane naming an unknown head or
 * line, a rule enabled without lanes, a bad date) are errors naming the key and its line.
 * Relative paths in the file are taken relative to the file's folder. Returns the
 * configuration, or every error found. */
struct LoadResult
{
    std::unique_ptr<LoadedConfig> loaded;
    std::vector<ConfigError> errors;
};

/* The calibration a technician set through the console (calibration.toml). */
struct Calibration
{
    std::string id;
    std::optional<double> radarAngleDeg;
    struct Lane
    {
        std::string approach;
        long long lane = 0;
        std::optional<double> stopLineFromEntryM;
        std::optional<double> loopSpacingM;
    };
    std::vector<Lane> lanes;
};

/* Stand-ins for the state folder's layers, to check a change before it is saved. */
struct LayerOverrides
{
    std::optional<std::string> overridesText; /* instead of overrides.toml */
    std::optional<Calibration> calibration;   /* instead of calibration.toml */
    std::optional<std::string> cameraCalibrationText; /* instead of camera_calibration.toml */
};

LoadResult loadConfig(const std::string &path, const LayerOverrides &layers = {});

/* Reads calibration.toml (missing file: empty calibration). */
std::vector<ConfigError> readCalibration(const std::string &path, Calibration *out);
/* calibration.toml text for `calibration`. */
std::string calibrationText(const Calibration &calibration);
/* Applies a calibration over the configured values. */
void applyCalibration(const Calibration &calibration, DaemonConfig *config);

/* A `set KEY VALUE` as one TOML line for the overrides file ("red_light.grace_s = 0.4"):
 * the value as typed when it is a TOML value, else quoted as a string. */
std::string overrideLine(const std::string &key, const std::string &value);

/* Conversions to the parts' own configuration types. */
hal::GpioConfig gpioConfig(const DaemonConfig &c);
drivers::PhaseDecoderConfig phaseDecoderConfig(const DaemonConfig &c);
drivers::LoopTrackerConfig loopTrackerConfig(const DaemonConfig &c);
drivers::BeaconDetectorConfig beaconConfig(const DaemonConfig &c);
hal::SerialConfig radarSerialConfig(const DaemonConfig &c);
drivers::radar::Ops243DriverConfig radarConfig(const DaemonConfig &c);
hal::CameraConfig cameraConfig(const DaemonConfig &c);
pipeline::RedLightConfig redLightConfig(const DaemonConfig &c);
/* Throws std::invalid_argument naming a bad date or window (loadConfig checks first). */
pipeline::SchoolZoneConfig schoolZoneConfig(const DaemonConfig &c);
pipeline::EvidenceOptions evidenceOptions(const DaemonConfig &c);
pipeline::SiteIdentity siteIdentity(const DaemonConfig &c, const std::string &configHash);
drivers::SpeedUnit speedUnit(const std::string &name);

} /* namespace stopline::firmware */

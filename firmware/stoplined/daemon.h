#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "drivers/beacon/beacon_detector.h"
#include "drivers/gpio_driver.h"
#include "drivers/loops/loop_tracker.h"
#include "drivers/radar/ops243_driver.h"
#include "drivers/signal/phase_decoder.h"
#include "evidence/keys.h"
#include "evidence/seal.h"
#include "firmware/console/console.h"
#include "firmware/stoplined/camera_calibration_draft.h"
#include "firmware/stoplined/daemon_config.h"
#include "firmware/stoplined/health.h"
#include "firmware/stoplined/log.h"
#include "hal/camera.h"
#include "hal/clock.h"
#include "hal/gpio.h"
#include "hal/serial.h"
#include "pipeline/evidence/capture.h"
#include "pipeline/spool/spool.h"
#include "pipeline/trigger/red_light.h"
#include "pipeline/trigger/school_zone.h"
#include "pipeline/upload/http_client.h"
#include "pipeline/upload/uploader.h"

namespace stopline::firmware {

class TapLines;

/* stoplined: the roadside controller wired together (docs/architecture.md). One Asio event
 * thread runs every device, rule, timer, the uploader and the console; building,
 * sealing and spooling evidence run on a small worker pool. The daemon keeps enforcing
 * only while every precondition holds (signal sensing, camera, radar self-check where
 * speed is enforced, clock, spool room) and says why when it does not. It implements the
 * technician console's host. */
class Daemon : public ConsoleHost
{
public:
    /* `config` is moved in; `log` is borrowed for the daemon's lifetime. */
    Daemon(std::unique_ptr<LoadedConfig> config, Logger *log);
    ~Daemon() override;

    /* Opens the state folder, the key and the devices, then runs until SIGTERM/SIGINT
     * (or stop()). Throws hal::HalError, evidence::KeyError or std::runtime_error naming
     * what could not be opened; returns the exit status after a clean stop. */
    int run();

    /* Asks for a clean stop (as SIGTERM does); thread-safe. */
    void stop();

    /* ConsoleHost */
    std::string status() override;
    std::string configShow() override;
    std::string timeStatus() override;
    std::optional<std::string> setConfig(const std::string &key, const std::string &value,
                                         const std::string &technician) override;
    void calibrate(const std::string &what, const std::vector<std::string> &args,
                   const std::string &technician, Done done) override;
    void selfTestRadar(const std::string &technician, Done done) override;
    void forkTest(double mph, const std::string &technician, Done done) override;
    void snapshot(Done done) override;
    void gpioWatch(bool on, std::function<void(std::string)> line) override;
    void securityLog(const std::string &event) override;

private:
    struct RuleSet;

    /* start-up */
    void openState();
    void openDevices();
    /* Binds records' photographs through this calibration from now on, or suspends
     * enforcement (health: calibration) when it is missing or unusable. */
    void applyCameraCalibration(const pipeline::CameraCalibration &calibration);
    /* The binder for a calibration (none when it is unusable), with the problem logged. */
    void bindCamera(const pipeline::CameraCalibration &calibration);
    void calibrateCamera(const std::vector<std::string> &args, const std::string &technician,
                         Done done);
    void startUploader();
    void startConsole();
    void openConsolePort();
    void sealGenesisIfNew();

    /* events */
    void feed(std::vector<pipeline::Decision> decisions);
    void onCaptured(const pipeline::Decision &decision,
                    const pipeline::EvidenceAssembler::Result &result);
    void onSelfCheck(const drivers::radar::RadarSelfCheck &check);
    void onCrossing(drivers::LoopCrossing crossing);

    /* timers */
    void armRulesTick();
    void armHealthTick();
    void armWatchdog();
    void armConsoleTick();
    void checkHealth();

    /* evidence helpers */
    pipeline::CaptureContext captureContext() const;
    evidence::ClockState clockState() const;
    void sealEssential(evidence::Record record, std::function<void(pipeline::Sealer::Result)> then);
    std::optional<std::string> checkpoint();
    std::string heartbeat();

    /* configuration changes */
    void reload();
    void adopt(std::unique_ptr<LoadedConfig> next, const std::string &why);
    void rebuildRulesWhenIdle();
    std::unique_ptr<RuleSet> makeRules(const DaemonConfig &c);

    /* stop */
    void beginStop(const std::string &why);
    void finishStop();
    /* Stops the devices and the uploader; their handlers point into the daemon. */
    void stopDevices();

    std::unique_ptr<LoadedConfig> loaded_;
    Logger *log_;
    boost::asio::io_context io_;
    std::unique_ptr<boost::asio::thread_pool> workers_;
    hal::Clock clock_;
    Nanos startedNs_ = 0;
    std::string configHash_;

    /* evidence chain */
    std::unique_ptr<pipeline::Spool> spool_;
    std::unique_ptr<evidence::SigningKey> key_;
    std::unique_ptr<evidence::PublicKey> serverKey_;
    std::unique_ptr<pipeline::Sealer> sealer_;
    std::unique_ptr<pipeline::FrameRing> ring_;
    std::unique_ptr<pipeline::EvidenceAssembler> assembler_;
    std::unique_ptr<pipeline::CaptureCoordinator> coordinator_;
    std::optional<pipeline::Spool::ChainHead> lastSealed_; /* event thread's view */
    std::atomic<int> essentialInFlight_{0};

    /* rules */
    std::unique_ptr<RuleSet> rules_;
    std::optional<DaemonConfig> pendingRules_;      /* applied once no candidate is pending */
    std::deque<drivers::PhaseChange> phaseHistory_; /* replayed into rebuilt rules */
    std::deque<drivers::SignalFault> faultHistory_;
    std::map<std::string, drivers::BeaconState> beacons_;

    /* devices and drivers */
    std::unique_ptr<hal::GpioLines> rawLines_;
    std::unique_ptr<TapLines> lines_;
    std::unique_ptr<drivers::PhaseDecoder> decoder_;
    std::unique_ptr<drivers::LoopTracker> loops_;
    std::unique_ptr<drivers::BeaconDetector> beacon_;
    std::unique_ptr<drivers::GpioDriver> gpio_;
    std::string gpioError_;
    std::map<std::string, std::string> signalFaults_; /* "head kind" -> detail */
    std::map<std::string, drivers::Phase> phases_;
    std::unique_ptr<hal::SerialPort> radarPort_;
    std::unique_ptr<drivers::radar::Ops243Driver> radar_;
    std::string radarError_;
    std::optional<Nanos> lastPassedCheckNs_;
    std::optional<bool> lastCheckPassed_;
    std::optional<evidence::SelfCheck> latestSelfCheck_;
    std::optional<evidence::RadarIdentity> radarIdentity_;
    std::unique_ptr<hal::Camera> camera_;
    std::atomic<Nanos> lastFrameNs_{0};
    std::atomic<std::uint64_t> frames_{0};
    std::atomic<bool> cameraStopped_{false};
    std::string cameraError_;
    std::string calibrationProblem_; /* empty: photographs can be bound to vehicles */
    Nanos backgroundAtNs_ = 0;       /* last frame given to the binder's background */
    std::unique_ptr<CameraCalibrationDraft> cameraDraft_; /* `calibrate camera` in progress */
    Nanos cameraStartNs_ = 0;
    double fps_ = 0;
    std::uint64_t fpsFrames_ = 0;
    Nanos fpsAtNs_ = 0;

    /* upload */
    std::unique_ptr<pipeline::HttpClient> recordsClient_;
    std::unique_ptr<pipeline::HttpClient> controlClient_;
    std::unique_ptr<pipeline::Uploader> uploader_;

    /* console */
    std::unique_ptr<hal::SerialPort> consolePort_;
    std::unique_ptr<Console> console_;
    boost::asio::steady_timer consoleTimer_;
    std::function<void(std::string)> gpioWatch_;
    Done pendingSelfTest_;
    Done pendingFork_;
    std::string pendingTechnician_;
    boost::asio::steady_timer radarTestTimer_;
    std::vector<std::string> restartNeeded_;

    /* health and life cycle */
    HealthPolicy policy_;
    HealthAssessment health_;
    bool healthKnown_ = false;
    boost::asio::signal_set stopSignals_;
    boost::asio::signal_set hupSignal_;
    boost::asio::steady_timer rulesTimer_;
    boost::asio::steady_timer healthTimer_;
    boost::asio::steady_timer watchdogTimer_;
    boost::asio::steady_timer stopTimer_;
    std::chrono::microseconds watchdogPeriod_{0};
    bool stopping_ = false;
    std::chrono::steady_clock::time_point stopDeadline_;
    std::uint64_t largestRecordBytes_ = 64 * 1024; /* of violations sealed so far */
    bool uploadFailing_ = false;
    std::string uploadAlarm_;
    std::uint64_t captured_ = 0;
    std::uint64_t uploaded_ = 0;
    std::uint64_t captureFailures_ = 0;
};

/* The software version recorded in evidence and heartbeats. */
const char *softwareVersion();

} /* namespace stopline::firmware */

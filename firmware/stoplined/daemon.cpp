#include "firmware/stoplined/daemon.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <boost/asio/post.hpp>
#include <systemd/sd-daemon.h>

#include "evidence/crypto.h"
#include "evidence/version.h"
#include "firmware/stoplined/camera_calibration_config.h"
#include "hal/error.h"
#include "pipeline/evidence/evidence_builder.h"
#include "pipeline/evidence/radar_check.h"

namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace stopline::firmware {

const char *softwareVersion()
{
    return kSoftwareVersion;
}

namespace {

constexpr Nanos kMs = kNanosPerMilli;
constexpr Nanos kS = kNanosPerSecond;
constexpr auto kRadarTestTimeout = std::chrono::seconds(20);
constexpr auto kStopDrain = std::chrono::seconds(12); /* under the unit's TimeoutStopSec */
constexpr Nanos kHistoryNs = 10 * 60 * kS;            /* phase history replayed into rules */

std::string utcText(std::int64_t utcNs)
{
    std::time_t secs = static_cast<std::time_t>(utcNs / kS);
    tm t;
    gmtime_r(&secs, &t);
    char buf[48];
    std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
    std::snprintf(buf + n, sizeof buf - n, ".%03lldZ", static_cast<long long>((utcNs % kS) / kMs));
    return buf;
}

std::string fixed(double v, int digits)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

const char *faultKindName(drivers::SignalFault::Kind kind)
{
    switch (kind) {
    case drivers::SignalFault::Kind::Conflict:
        return "conflict";
    case drivers::SignalFault::Kind::Dark:
        return "dark";
    case drivers::SignalFault::Kind::Flashing:
        return "flashing";
    case drivers::SignalFault::Kind::Stuck:
        return "stuck";
    }
    return "fault";
}

std::string readText(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

/* "north:2" or "2" (when one approach has that lane). */
template <typename Lane>
const Lane *findLane(const std::vector<Lane> &lanes, const std::string &spec, std::string *problem)
{
    std::string approach;
    std::string number = spec;
    if (auto colon = spec.find(':'); colon != std::string::npos) {
        approach = spec.substr(0, colon);
        number = spec.substr(colon + 1);
    }
    long long n = 0;
    try {
        std::size_t used = 0;
        n = std::stoll(number, &used);
        if (used != number.size())
            throw std::invalid_argument(number);
    } catch (const std::exception &) {
        *problem = "'" + spec + "' is not a lane (APPROACH:N or N)";
        return nullptr;
    }
    const Lane *found = nullptr;
    for (const Lane &l : lanes)
        if (l.lane == n && (approach.empty() || l.approach == approach)) {
            if (found) {
                *problem =
                        "lane " + number + " exists on several approaches: say APPROACH:" + number;
                return nullptr;
            }
            found = &l;
        }
    if (!found)
        *problem = "no lane '" + spec + "' is configured";
    return found;
}

/* A configuration problem for the console: key and message, without the file and line
 * (the technician changed a key, not a line of the file). */
std::string keyedMessage(const ConfigError &e)
{
    return e.key.empty() ? e.message : e.key + ": " + e.message;
}

/* "PREFIX-20261202T103000Z": a calibration's id, from the UTC time it was made. */
std::string calibrationIdNow(const char *prefix)
{
    std::time_t now = std::time(nullptr);
    tm t;
    gmtime_r(&now, &t);
    char stamp[24];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &t);
    return std::string(prefix) + "-" + stamp;
}
} /* namespace */

/* Passes edges through to the drivers and lets the console watch them. */
class TapLines : public hal::GpioLines
{
public:
    explicit TapLines(hal::GpioLines *inner) : inner_(inner) {}

    std::function<void(const hal::GpioEvent &)> tap;

    void start(EventHandler onEvent, ErrorHandler onError) override
    {
        inner_->start(
                [this, onEvent = std::move(onEvent)](const hal::GpioEvent &e) {
                    if (tap)
                        tap(e);
                    onEvent(e);
                },
                std::move(onError));
    }
    void stop() override { inner_->stop(); }
    void poll() override { inner_->poll(); }
    std::size_t size() const override { return inner_->size(); }
    const std::string &name(std::size_t index) const override { return inner_->name(index); }
    bool value(std::size_t index) const override { return inner_->value(index); }
    std::string describe() const override { return inner_->describe(); }

private:
    hal::GpioLines *inner_;
};

struct Daemon::RuleSet
{
    std::unique_ptr<pipeline::RedLightRule> redLight;
    std::unique_ptr<pipeline::SchoolZoneRule> schoolZone;

    bool idle() const
    {
        return (!redLight || redLight->pendingCount() == 0) &&
               (!schoolZone || !schoolZone->tracking());
    }
};

Daemon::Daemon(std::unique_ptr<LoadedConfig> config, Logger *log)
    : loaded_(std::move(config)), log_(log), consoleTimer_(io_), radarTestTimer_(io_),
      stopSignals_(io_, SIGTERM, SIGINT), hupSignal_(io_, SIGHUP), rulesTimer_(io_),
      healthTimer_(io_), watchdogTimer_(io_), stopTimer_(io_)
{
    const DaemonConfig &c = loaded_->config;
    if (auto level = parseLogLevel(c.log.level))
        log_->setLevel(*level);
    if (!c.site.timezone.empty()) {
        setenv("TZ", c.site.timezone.c_str(), 1);
        tzset();
    }
    policy_.redLight = c.redLight.enabled;
    policy_.schoolZone = c.schoolZone.enabled;
    policy_.requireSync = c.clock.requireSync;
    policy_.maxClockErrorNs = static_cast<Nanos>(c.clock.maxErrorMs * kMs);
    policy_.cameraStallNs = static_cast<Nanos>(c.camera.stallMs * kMs);
    policy_.selfCheckMaxAgeNs = static_cast<Nanos>(c.schoolZone.selfCheckMaxAgeMin * 60 * kS);
    configHash_ = configHash(loaded_->effectiveText());
}

Daemon::~Daemon()
{
    /* Devices first: their handlers point into the daemon. */
    stopDevices();
    if (workers_)
        workers_->join();
}

void Daemon::stopDevices()
{
    if (camera_)
        camera_->stop();
    if (gpio_)
        gpio_->stop();
    if (radarPort_)
        radarPort_->close();
    if (consolePort_)
        consolePort_->close();
    if (uploader_)
        uploader_->stop();
}

/* ---- start-up ---------------------------------------------------------------------- */

void Daemon::openState()
{
    const DaemonConfig &c = loaded_->config;
    std::error_code ec;
    fs::create_directories(c.device.stateDir, ec);
    if (ec)
        throw std::runtime_error("cannot create the state folder " + c.device.stateDir + ": " +
                                 ec.message());
    pipeline::Spool::Options so;
    so.dir = (fs::path(c.device.stateDir) / "spool").string();
    so.capacityBytes = static_cast<std::uint64_t>(c.spool.capacityMb * 1024 * 1024);
    so.reserveBytes = static_cast<std::uint64_t>(c.spool.reserveMb * 1024 * 1024);
    spool_ = std::make_unique<pipeline::Spool>(so);
    pipeline::Spool::Recovery rec = spool_->recover();
    for (const std::string &m : rec.messages)
        log_->notice("spool: " + m);
    if (rec.quarantined)
        log_->warning("spool: " + std::to_string(rec.quarantined) +
                      " unreadable record files quarantined in " + so.dir + "/quarantine");

    key_ = evidence::SigningKey::loadFile(c.device.keyFile);
    if (c.upload.enabled)
        serverKey_ = evidence::PublicKey::loadFile(c.upload.serverKey);

    workers_ = std::make_unique<asio::thread_pool>(c.evidence.workers);
    std::optional<pipeline::Spool::ChainHead> head = spool_->resumeHead();
    std::uint64_t nextSeq = head ? head->seq + 1 : 0;
    auto writer = std::make_unique<evidence::ChainWriter>(c.device.id, key_.get(), nextSeq,
                                                          head ? head->hash : std::string());
    if (head) {
        lastSealed_ = head;
        log_->info("chain " + c.device.id + " continues at seq " + std::to_string(nextSeq) +
                   " (key " + key_->keyId() + ", " + std::to_string(spool_->depth()) +
                   " records awaiting upload)");
    } else {
        /* First start: the chain begins with a genesis record naming the key. */
        evidence::Record genesis = evidence::makeGenesis(*key_, siteIdentity(c, "").deviceSerial);
        *genesis.mutable_created() = pipeline::Sealer::systemNow();
        *genesis.mutable_clock() = clockState();
        genesis.set_software_version(kSoftwareVersion);
        genesis.set_config_hash(configHash_);
        genesis.set_calibration_id(c.site.calibrationId);
        evidence::Sealed sealed = writer->seal(genesis);
        pipeline::Spool::ChainHead h{sealed.seq, sealed.recordHash};
        if (auto err = spool_->store(sealed.seq, sealed.bytes, pipeline::Spool::Priority::Essential,
                                     &h))
            throw std::runtime_error("cannot store the genesis record: " + *err);
        lastSealed_ = h;
        log_->notice("new chain " + c.device.id + ": genesis record sealed (seq 0, key " +
                     key_->keyId() + ")");
    }

    pipeline::Spool *spool = spool_.get();
    Logger *log = log_;
    sealer_ = std::make_unique<pipeline::Sealer>(
            std::move(writer), workers_->get_executor(),
            [spool, log](const evidence::Sealed &s,
                         const evidence::Record &r) -> std::optional<std::string> {
                pipeline::Spool::ChainHead head{s.seq, s.recordHash};
                bool violation = r.has_violation();
                auto err = spool->store(s.seq, s.bytes,
                                        violation ? pipeline::Spool::Priority::Violation
                                                  : pipeline::Spool::Priority::Essential,
                                        &head);
                if (err && violation &&
                    spool->wouldRefuse(s.bytes.size(), pipeline::Spool::Priority::Violation)) {
                    /* Enforcement stops before the spool is full, but a violation already
                     * in hand when it filled up goes into the reserve rather than be lost. */
                    err = spool->store(s.seq, s.bytes, pipeline::Spool::Priority::Essential, &head);
                    if (!err)
                        log->warning("spool: record " + std::to_string(s.seq) +
                                     " stored in the reserve (spool full)");
                }
                return err;
            });
}

void Daemon::openDevices()
{
    const DaemonConfig &c = loaded_->config;

    /* Evidence assembly: ring, assembler, coordinator. */
    pipeline::FrameRing::Options ro;
    ro.preTriggerSeconds = c.camera.preTriggerS;
    ro.fps = c.camera.fps;
    ring_ = std::make_unique<pipeline::FrameRing>(ro, io_.get_executor());
    assembler_ = std::make_unique<pipeline::EvidenceAssembler>(
            io_.get_executor(), workers_->get_executor(), sealer_.get(),
            siteIdentity(c, configHash_), evidenceOptions(c), pipeline::PlateLocator::Options{},
            static_cast<int>(c.evidence.workerNice));
    coordinator_ = std::make_unique<pipeline::CaptureCoordinator>(
            ring_.get(), assembler_.get(), [this] { return captureContext(); },
            [this](const pipeline::Decision &d, const pipeline::EvidenceAssembler::Result &r) {
                onCaptured(d, r);
            });
    coordinator_->setDated([this](const pipeline::CameraCrossing &crossing) {
        if (rules_ && rules_->redLight)
            feed(rules_->redLight->onCameraCrossing(crossing));
    });
    applyCameraCalibration(c.camera.calibration);
    rules_ = makeRules(c);

    /* GPIO: signal heads, loops, beacons. */
    rawLines_ = hal::openGpioLines(io_, gpioConfig(c));
    lines_ = std::make_unique<TapLines>(rawLines_.get());
    log_->info("gpio: " + rawLines_->describe() + ", " + std::to_string(rawLines_->size()) +
               " lines");
    gpio_ = std::make_unique<drivers::GpioDriver>(io_, lines_.get(),
                                                  static_cast<Nanos>(c.gpio.graceMs * kMs));
    if (!c.signal.heads.empty()) {
        drivers::SignalSink sink;
        sink.onPhase = [this](const drivers::PhaseChange &p) {
            phases_[p.head] = p.phase;
            phaseHistory_.push_back(p);
            while (!phaseHistory_.empty() &&
                   phaseHistory_.front().at.sampleNs < p.at.sampleNs - kHistoryNs)
                phaseHistory_.pop_front();
            log_->debug("phase " + p.head + " " + drivers::phaseName(p.phase));
            if (rules_->redLight)
                rules_->redLight->onPhaseChange(p);
        };
        sink.onFault = [this](const drivers::SignalFault &f) {
            std::string key = f.head + " " + faultKindName(f.kind);
            if (f.active) {
                signalFaults_[key] = key + (f.detail.empty() ? "" : " (" + f.detail + ")");
                log_->warning("signal fault: " + signalFaults_[key]);
            } else {
                signalFaults_.erase(key);
                log_->notice("signal fault cleared: " + key);
            }
            faultHistory_.push_back(f);
            while (faultHistory_.size() > 256)
                faultHistory_.pop_front();
            if (rules_->redLight)
                rules_->redLight->onSignalFault(f);
        };
        decoder_ = std::make_unique<drivers::PhaseDecoder>(phaseDecoderConfig(c), sink);
        gpio_->add(decoder_.get());
    }
    if (!c.loops.lanes.empty()) {
        loops_ = std::make_unique<drivers::LoopTracker>(
                loopTrackerConfig(c),
                drivers::LoopSink{[this](const drivers::LoopPresence &p) {
                                      if (rules_->redLight)
                                          feed(rules_->redLight->onLoopPresence(p));
                                  },
                                  [this](const drivers::LoopCrossing &x) { onCrossing(x); }});
        gpio_->add(loops_.get());
    }
    if (!c.beacons.empty()) {
        beacon_ = std::make_unique<drivers::BeaconDetector>(
                beaconConfig(c), [this](const drivers::BeaconState &b) {
                    beacons_[b.beacon] = b;
                    log_->info(std::string("beacon ") + b.beacon +
                               (b.active ? " flashing" : " off"));
                    if (rules_->schoolZone)
                        rules_->schoolZone->onBeacon(b);
                });
        gpio_->add(beacon_.get());
    }

    /* Radar: the OPS243 driver on its serial port. */
    if (c.radar.enabled) {
        radarPort_ = std::make_unique<hal::SerialPort>(io_, radarSerialConfig(c));
        radar_ = std::make_unique<drivers::radar::Ops243Driver>(io_, radarPort_.get(),
                                                                radarConfig(c));
    }

    /* Camera: frames straight into the ring from the capture thread. */
    hal::CameraConfig cc = cameraConfig(c);
    /* Besides the ring: snapshots hold every frame of their search spans (up to 3 s for
     * red light, 6 s for speed) until the verdict, and the clips. */
    if (cc.buffers == 0)
        cc.buffers = static_cast<unsigned>(ring_->frameCap() + 80 + std::ceil(9 * c.camera.fps));
    camera_ = hal::openCamera(cc, &clock_);
    log_->info("camera: " + camera_->id() + " " + std::to_string(camera_->width()) + "x" +
               std::to_string(camera_->height()) + " " + hal::pixelFormatName(camera_->format()) +
               ", ring of " + std::to_string(ring_->frameCap()) + " frames");

    /* Everything is open: start delivering. */
    gpio_->start([this](const std::string &m) {
        gpioError_ = m;
        log_->error("gpio: edge delivery stopped: " + m);
        checkHealth();
    });
    if (radar_) {
        radar_->start(
                [this](const drivers::RadarReport &r) {
                    if (rules_->redLight)
                        rules_->redLight->onRadar(r);
                    if (rules_->schoolZone)
                        feed(rules_->schoolZone->onRadar(
                                r,
                                pipeline::civilTimeFromUtc(clock_.monotonicToUtc(r.at.sampleNs))));
                },
                [this](const drivers::radar::RadarSelfCheck &check) { onSelfCheck(check); },
                [this](const std::string &m) {
                    radarError_ = m;
                    log_->error("radar: " + m);
                    checkHealth();
                });
    }
    cameraStartNs_ = monotonicNow();
    camera_->start(
            [this](hal::FramePtr frame) {
                lastFrameNs_.store(monotonicNow(), std::memory_order_relaxed);
                frames_.fetch_add(1, std::memory_order_relaxed);
                ring_->push(std::move(frame));
            },
            [this](const std::string &reason) {
                cameraStopped_ = true;
                asio::post(io_, [this, reason] {
                    cameraError_ = reason;
                    log_->error("camera stopped: " + reason);
                    checkHealth();
                });
            });
}

std::unique_ptr<Daemon::RuleSet> Daemon::makeRules(const DaemonConfig &c)
{
    auto rules = std::make_unique<RuleSet>();
    if (c.redLight.enabled) {
        rules->redLight = std::make_unique<pipeline::RedLightRule>(redLightConfig(c));
        rules->redLight->setCameraDating(assembler_->binder() != nullptr);
        for (const drivers::PhaseChange &p : phaseHistory_)
            rules->redLight->onPhaseChange(p);
        for (const drivers::SignalFault &f : faultHistory_)
            rules->redLight->onSignalFault(f);
    }
    if (c.schoolZone.enabled) {
        rules->schoolZone = std::make_unique<pipeline::SchoolZoneRule>(schoolZoneConfig(c));
        for (const auto &[name, b] : beacons_)
            rules->schoolZone->onBeacon(b);
        if (lastCheckPassed_ && latestSelfCheck_)
            rules->schoolZone->onSelfCheck(*lastCheckPassed_,
                                           latestSelfCheck_->at().monotonic_ns());
    }
    if (healthKnown_) {
        if (rules->redLight)
            rules->redLight->setSuspended(health_.redLightSuspended());
        if (rules->schoolZone)
            rules->schoolZone->setSuspended(health_.schoolZoneSuspended());
    } else {
        /* Nothing is known yet: enforce only once the first health check says so. */
        if (rules->redLight)
            rules->redLight->setSuspended(true);
        if (rules->schoolZone)
            rules->schoolZone->setSuspended(true);
    }
    return rules;
}

void Daemon::startUploader()
{
    const DaemonConfig &c = loaded_->config;
    if (!c.upload.enabled) {
        log_->notice("upload: disabled; records stay in the spool");
        return;
    }
    pipeline::HttpTarget target;
    target.url = c.upload.url;
    target.caFile = c.upload.caFile;
    target.clientCertFile = c.upload.clientCert;
    target.clientKeyFile = c.upload.clientKey;
    target.bearerToken = c.upload.token;
    if (!c.upload.tokenFile.empty()) {
        evidence::checkPrivateKeyPermissions(c.upload.tokenFile);
        std::string token = readText(c.upload.tokenFile);
        token.erase(token.find_last_not_of(" \r\n\t") + 1);
        if (token.empty())
            throw std::runtime_error("upload.token_file " + c.upload.tokenFile + " is empty");
        target.bearerToken = token;
    }
    target.timeout = std::chrono::milliseconds(static_cast<long long>(c.upload.timeoutS * 1000));
    recordsClient_ = std::make_unique<pipeline::HttpClient>(io_, target);
    controlClient_ = std::make_unique<pipeline::HttpClient>(io_, target);
    pipeline::Uploader::Options o;
    o.deviceId = c.device.id;
    o.backoffBase = std::chrono::milliseconds(static_cast<long long>(c.upload.backoffBaseMs));
    o.backoffMax = std::chrono::milliseconds(static_cast<long long>(c.upload.backoffMaxS * 1000));
    o.heartbeatInterval =
            std::chrono::milliseconds(static_cast<long long>(c.upload.heartbeatS * 1000));
    o.checkpointInterval =
            std::chrono::milliseconds(static_cast<long long>(c.upload.checkpointS * 1000));
    uploader_ = std::make_unique<pipeline::Uploader>(
            io_, *workers_, spool_.get(), serverKey_.get(), o,
            [this](const std::string &path, const std::string &type, std::string body,
                   pipeline::HttpClient::Callback done) {
                recordsClient_->post(path, type, std::move(body), std::move(done));
            },
            [this](const std::string &path, const std::string &type, std::string body,
                   pipeline::HttpClient::Callback done) {
                controlClient_->post(path, type, std::move(body), std::move(done));
            });
    uploader_->setHeartbeatSource([this] { return heartbeat(); });
    uploader_->setCheckpointSource([this] { return checkpoint(); });
    uploader_->onUploaded = [this](std::uint64_t seq) {
        ++uploaded_;
        log_->info("uploaded seq=" + std::to_string(seq) + " (receipt checked, " +
                   std::to_string(spool_->depth()) + " left in the spool)");
    };
    uploader_->start();
    log_->info("upload: to " + c.upload.url + " as " + c.device.id);
}

void Daemon::startConsole()
{
    const DaemonConfig &c = loaded_->config;
    if (!c.console.enabled)
        return;
    Console::Options o;
    for (const auto &u : c.console.users)
        o.users.push_back({u.name, u.passwordHash});
    o.maxFailures = static_cast<int>(c.console.maxFailures);
    o.lockoutNs = static_cast<Nanos>(c.console.lockoutS * kS);
    o.idleLogoutNs = static_cast<Nanos>(c.console.idleLogoutS * kS);
    o.banner = "stopline technician console - " + c.device.id + " (" + c.site.locationCode + ")";
    console_ = std::make_unique<Console>(o, this, [this](std::string_view bytes) {
        if (consolePort_)
            consolePort_->write(std::string(bytes));
    });
    openConsolePort();
    armConsoleTick();
}

void Daemon::openConsolePort()
{
    if (stopping_)
        return;
    const DaemonConfig &c = loaded_->config;
    try {
        hal::SerialConfig sc;
        sc.device = c.console.device;
        sc.baud = c.console.baud;
        consolePort_ = std::make_unique<hal::SerialPort>(io_, sc);
    } catch (const hal::HalError &e) {
        log_->warning(std::string("console: ") + e.what() + "; retrying in 5 s");
        consoleTimer_.expires_after(std::chrono::seconds(5));
        consoleTimer_.async_wait([this](const boost::system::error_code &ec) {
            if (!ec)
                openConsolePort();
        });
        return;
    }
    log_->info("console: on " + c.console.device);
    consolePort_->startReadingRaw(
            [this](std::string_view bytes, Nanos now) { console_->receive(bytes, now); },
            [this](const std::string &m) {
                log_->warning("console: " + loaded_->config.console.device + ": " + m +
                              "; reopening");
                /* The port's handler is running: drop the port from the loop, later. */
                asio::post(io_, [this] {
                    consolePort_.reset();
                    auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(2));
                    t->async_wait([this, t](const boost::system::error_code &ec) {
                        if (!ec)
                            openConsolePort();
                    });
                });
            });
    console_->start(monotonicNow());
}

int Daemon::run()
{
    startedNs_ = monotonicNow();
    openState();
    openDevices();
    startUploader();
    startConsole();

    stopSignals_.async_wait([this](const boost::system::error_code &ec, int sig) {
        if (!ec)
            beginStop(sig == SIGINT ? "SIGINT" : "SIGTERM");
    });
    std::function<void()> waitHup = [this, &waitHup] {
        hupSignal_.async_wait([this, &waitHup](const boost::system::error_code &ec, int) {
            if (ec)
                return;
            reload();
            waitHup();
        });
    };
    waitHup();
    armRulesTick();
    checkHealth();
    armHealthTick();
    armWatchdog();

    const DaemonConfig &c = loaded_->config;
    log_->notice(std::string("stoplined ") + kSoftwareVersion + " running as " + c.device.id +
                 " at " + c.site.locationCode + " (red light " +
                 (c.redLight.enabled ? "on" : "off") + ", school zone " +
                 (c.schoolZone.enabled ? "on" : "off") + ", config " + configHash_.substr(0, 12) +
                 ")");
    sd_notify(0, "READY=1");

    io_.run();

    /* The loop has stopped (finishStop): deliver what the workers posted last. */
    io_.restart();
    io_.poll();
    sd_notify(0, "STOPPING=1");
    log_->notice("stopped: " + std::to_string(captured_) + " violations captured, " +
                 std::to_string(uploaded_) + " records uploaded, " +
                 std::to_string(spool_->depth()) + " in the spool");
    return 0;
}

void Daemon::stop()
{
    asio::post(io_, [this] { beginStop("stop requested"); });
}

/* ---- events ------------------------------------------------------------------------ */

void Daemon::onCrossing(drivers::LoopCrossing crossing)
{
    /* Loop spacing is calibrated through the console; the tracker keeps the value it was
     * built with, so the speed is recomputed here from the spacing in force. */
    for (const auto &l : loaded_->config.loops.lanes)
        if (l.approach == crossing.approach && l.lane == static_cast<long long>(crossing.lane) &&
            std::fabs(l.spacingM - crossing.spacingM) > 1e-9 &&
            crossing.exitOnNs > crossing.entryOnNs) {
            crossing.spacingM = l.spacingM;
            crossing.speedMps = l.spacingM * kS / double(crossing.exitOnNs - crossing.entryOnNs);
        }
    if (rules_->redLight)
        feed(rules_->redLight->onLoopCrossing(crossing));
}

void Daemon::feed(std::vector<pipeline::Decision> decisions)
{
    if (decisions.empty())
        return;
    for (const pipeline::Decision &d : decisions) {
        std::string what =
                std::string(pipeline::violationKindName(d.kind)) + " #" + std::to_string(d.id);
        if (d.redLight)
            what += " " + d.redLight->approach + ":" + std::to_string(d.redLight->lane) +
                    " into red " + fixed(d.redLight->timeIntoRedNs / 1e9, 3) + " s ± " +
                    fixed(d.redLight->timeIntoRedUncertaintyNs / 1e6, 0) + " ms (" +
                    d.redLight->crossingMethod +
                    (d.redLight->undated() ? ", undated: stood on the loops" : "") + ")";
        if (d.redLight && d.verdict != pipeline::Decision::Verdict::Capture &&
            !d.redLight->cameraDating.empty())
            log_->debug("red_light #" + std::to_string(d.id) + " " + d.redLight->cameraDating);
        if (d.speed)
            what += " " + fixed(d.speed->correctedSpeed, 1) + " " +
                    pipeline::speedUnitName(d.speed->unit);
        switch (d.verdict) {
        case pipeline::Decision::Verdict::Capture:
            log_->info("candidate " + what + ": capturing");
            break;
        case pipeline::Decision::Verdict::Cite:
            log_->info("cited " + what + ": sealing");
            break;
        case pipeline::Decision::Verdict::NoCite:
            if (d.reason == pipeline::Reason::NotRed ||
                d.reason == pipeline::Reason::UnderThreshold)
                log_->debug(std::string("not cited ") + what + ": " +
                            pipeline::reasonName(d.reason));
            else
                log_->info(std::string("not cited ") + what + ": " +
                           pipeline::reasonName(d.reason));
            break;
        }
    }
    coordinator_->handle(decisions);
}

void Daemon::onCaptured(const pipeline::Decision &d, const pipeline::EvidenceAssembler::Result &r)
{
    if (r.refusal != pipeline::Reason::None) {
        /* Not a failure: the pictures could not stand as this vehicle's evidence, or the
         * vehicle was already cited. Nothing was sealed. */
        log_->warning(std::string("not cited ") + pipeline::violationKindName(d.kind) + " #" +
                      std::to_string(d.id) + ": " + r.error);
        return;
    }
    if (!r.ok()) {
        ++captureFailures_;
        log_->error(std::string("NOT captured ") + pipeline::violationKindName(d.kind) + " #" +
                    std::to_string(d.id) + ": " + r.error);
        return;
    }
    ++captured_;
    const evidence::Sealed &s = *r.seal.sealed;
    largestRecordBytes_ = std::max<std::uint64_t>(largestRecordBytes_, s.bytes.size());
    if (!lastSealed_ || s.seq > lastSealed_->seq)
        lastSealed_ = pipeline::Spool::ChainHead{s.seq, s.recordHash};
    std::string detail;
    if (d.redLight)
        detail = " lane=" + d.redLight->approach + ":" + std::to_string(d.redLight->lane) +
                 " time_into_red_s=" + fixed(d.redLight->timeIntoRedNs / 1e9, 3);
    if (d.speed)
        detail = " speed=" + fixed(d.speed->correctedSpeed, 2) + " " +
                 pipeline::speedUnitName(d.speed->unit);
    /* The line the crash tests rely on: written only once the record is durably spooled. */
    log_->notice("captured seq=" + std::to_string(s.seq) + " record=" + r.seal.recordId +
                 " kind=" + pipeline::violationKindName(d.kind) +
                 " event_utc=" + utcText(clock_.monotonicToUtc(d.eventNs)) + detail +
                 " build_ms=" + fixed(r.build.totalMs, 0) + " seal_ms=" + fixed(r.seal.sealMs, 0));
    if (uploader_)
        uploader_->kick();
}

void Daemon::onSelfCheck(const drivers::radar::RadarSelfCheck &c)
{
    radarIdentity_ = pipeline::toProto(pipeline::radarInfoOf(c.radar));
    const pipeline::SelfCheckResult result = pipeline::selfCheckResultOf(c);
    pipeline::CaptureContext ctx = captureContext();
    evidence::SelfCheck proto = pipeline::toProto(result, ctx);

    std::string items;
    for (const auto &i : c.items)
        items += "\n  " + std::string(i.passed ? "ok   " : "FAIL ") + i.name +
                 (i.detail.empty() ? "" : ": " + i.detail);
    const char *kind = pipeline::selfCheckKindText(result.kind);
    std::string summary =
            std::string("radar ") + kind + " self-check " + (c.passed ? "passed" : "FAILED");
    if (c.kind == drivers::radar::RadarSelfCheck::Kind::Fork)
        summary +=
                " (reference " + fixed(result.referenceSpeed, 1) + " mph, read " +
                (c.measuredSpeed ? fixed(*c.measuredSpeed, 2) + " mph" : std::string("nothing")) +
                ")";
    /* Every kind counts, the fork test too: a failed one suppresses speeds (the driver
     * marks them invalid) until a later check passes, as police practice requires. */
    lastCheckPassed_ = c.passed;
    if (c.passed)
        lastPassedCheckNs_ = c.at.sampleNs;
    latestSelfCheck_ = proto;
    if (rules_->schoolZone) {
        if (c.kind == drivers::radar::RadarSelfCheck::Kind::Reset)
            rules_->schoolZone->onRadarReset(c.at.sampleNs);
        else
            rules_->schoolZone->onSelfCheck(c.passed, c.at.sampleNs);
    }
    (c.passed ? log_->info(summary) : log_->warning(summary + items));

    Done reply;
    if (c.kind == drivers::radar::RadarSelfCheck::Kind::Fork && pendingFork_) {
        reply = std::move(pendingFork_);
        pendingFork_ = nullptr;
    } else if (c.kind == drivers::radar::RadarSelfCheck::Kind::Periodic && pendingSelfTest_) {
        reply = std::move(pendingSelfTest_);
        pendingSelfTest_ = nullptr;
    }
    if (reply)
        radarTestTimer_.cancel();
    evidence::Record record = pipeline::buildSelfCheckRecord(result, assembler_->site(), ctx);
    sealEssential(std::move(record), [this, summary, items, reply](pipeline::Sealer::Result r) {
        std::string text = summary + items;
        text += r.ok() ? "\nsealed as record seq " + std::to_string(r.sealed->seq)
                       : "\nERROR: the result could not be recorded: " + r.error;
        if (reply)
            reply(text);
    });
}

/* ---- timers ------------------------------------------------------------------------ */

void Daemon::armRulesTick()
{
    rulesTimer_.expires_after(std::chrono::milliseconds(100));
    rulesTimer_.async_wait([this](const boost::system::error_code &ec) {
        if (ec)
            return;
        Nanos now = monotonicNow();
        if (rules_->redLight)
            feed(rules_->redLight->poll(now));
        if (rules_->schoolZone)
            feed(rules_->schoolZone->poll(now));
        if (pendingRules_)
            rebuildRulesWhenIdle();
        armRulesTick();
    });
}

void Daemon::armHealthTick()
{
    healthTimer_.expires_after(std::chrono::milliseconds(200));
    healthTimer_.async_wait([this](const boost::system::error_code &ec) {
        if (ec)
            return;
        checkHealth();
        /* The binder learns the empty road from a frame a second. */
        const Nanos now = monotonicNow();
        if (assembler_ && ring_ && now - backgroundAtNs_ >= kS) {
            backgroundAtNs_ = now;
            assembler_->learnBackground(ring_->nearest(now));
        }
        armHealthTick();
    });
}

void Daemon::armWatchdog()
{
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return;
    if (watchdogPeriod_.count() == 0) {
        watchdogPeriod_ = std::chrono::microseconds(usec / 2);
        log_->info("watchdog: petting every " + std::to_string(usec / 2000) + " ms");
    }
    sd_notify(0, "WATCHDOG=1");
    watchdogTimer_.expires_after(watchdogPeriod_);
    watchdogTimer_.async_wait([this](const boost::system::error_code &ec) {
        if (!ec)
            armWatchdog();
    });
}

void Daemon::armConsoleTick()
{
    auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(1));
    t->async_wait([this, t](const boost::system::error_code &ec) {
        if (ec || stopping_)
            return;
        if (console_)
            console_->tick(monotonicNow());
        armConsoleTick();
    });
}

void Daemon::applyCameraCalibration(const pipeline::CameraCalibration &calibration)
{
    bindCamera(calibration);
    /* Only a calibrated camera can date the crossings the loops cannot. */
    if (rules_ && rules_->redLight)
        rules_->redLight->setCameraDating(assembler_->binder() != nullptr);
}

void Daemon::bindCamera(const pipeline::CameraCalibration &calibration)
{
    if (calibration.points.empty()) {
        calibrationProblem_ = "no [camera.calibration] points: mark them with `calibrate camera` "
                              "on the console";
        assembler_->setBinder(nullptr);
        log_->warning("camera: " + calibrationProblem_ + "; enforcement stays suspended");
        return;
    }
    try {
        auto binder = std::make_shared<const pipeline::VehicleBinder>(calibration);
        log_->info("camera calibration " +
                   pipeline::describeCalibration(calibration, binder->homography()));
        assembler_->setBinder(std::move(binder));
        calibrationProblem_.clear();
    } catch (const std::exception &e) {
        calibrationProblem_ = e.what();
        assembler_->setBinder(nullptr);
        log_->error("camera calibration unusable: " + calibrationProblem_);
    }
}

void Daemon::checkHealth()
{
    HealthInputs in;
    in.now = monotonicNow();
    in.calibrationProblem = calibrationProblem_;
    for (const auto &[k, detail] : signalFaults_)
        in.signalFaults.push_back(detail);
    in.gpioError = gpioError_;
    in.lastFrameNs = lastFrameNs_.load(std::memory_order_relaxed);
    in.cameraStartNs = cameraStartNs_;
    in.cameraError = cameraError_;
    in.radarEnabled = radar_ != nullptr && policy_.schoolZone;
    in.radarSpeedValid = radar_ && radar_->speedValid();
    in.lastPassedCheckNs = lastPassedCheckNs_;
    in.lastCheckPassed = lastCheckPassed_;
    in.radarError = radarError_;
    in.clock = clock_.sync();
    /* Full for enforcement once the next violation, as large as the largest so far, would
     * no longer fit outside the reserve: suspend before a record could be refused. */
    in.spoolFull = spool_->wouldRefuse(largestRecordBytes_, pipeline::Spool::Priority::Violation);
    in.spoolBytes = spool_->usedBytes();
    in.spoolCapacity = spool_->capacityBytes();
    in.stopping = stopping_;

    std::uint64_t frames = frames_.load(std::memory_order_relaxed);
    if (fpsAtNs_ == 0) {
        fpsAtNs_ = in.now;
        fpsFrames_ = frames;
    } else if (in.now - fpsAtNs_ >= kS) {
        fps_ = double(frames - fpsFrames_) * kS / double(in.now - fpsAtNs_);
        fpsAtNs_ = in.now;
        fpsFrames_ = frames;
    }
    in.fps = fps_;

    HealthAssessment next = assessHealth(in, policy_);
    if (uploader_) {
        const pipeline::Uploader::Status &u = uploader_->status();
        if (u.consecutiveFailures > 0 && !uploadFailing_) {
            uploadFailing_ = true;
            log_->warning("upload: failing, retrying with backoff: " + u.lastError);
        } else if (u.consecutiveFailures == 0 && uploadFailing_) {
            uploadFailing_ = false;
            log_->notice("upload: back-office reachable again");
        }
        if (u.alarm != uploadAlarm_) {
            uploadAlarm_ = u.alarm;
            if (!u.alarm.empty())
                log_->error("upload: ALARM: " + u.alarm);
        }
    }
    auto report = [&](const char *rule, bool redLight, const std::vector<std::string> &after) {
        if (healthKnown_ && health_.causes(redLight) == next.causes(redLight))
            return;
        if (after.empty())
            log_->notice(std::string("enforcement ") + rule + ": active" +
                         (healthKnown_ ? " (resumed)" : ""));
        else {
            std::string why;
            for (const std::string &r : after)
                why += (why.empty() ? "" : "; ") + r;
            log_->warning(std::string("enforcement ") + rule + ": suspended: " + why);
        }
    };
    if (policy_.redLight)
        report("red_light", true, next.redLightReasons);
    if (policy_.schoolZone)
        report("school_zone", false, next.schoolZoneReasons);
    bool changed = !healthKnown_ || health_.causes(true) != next.causes(true) ||
                   health_.causes(false) != next.causes(false);
    health_ = std::move(next);
    healthKnown_ = true;
    if (rules_->redLight)
        rules_->redLight->setSuspended(health_.redLightSuspended());
    if (rules_->schoolZone)
        rules_->schoolZone->setSuspended(health_.schoolZoneSuspended());
    if (changed) {
        std::string status = health_.suspended() ? "enforcement suspended: " + health_.reason()
                                                 : std::string("enforcing");
        sd_notifyf(0, "STATUS=%s", status.c_str());
    }
}

/* ---- evidence helpers -------------------------------------------------------------- */

evidence::ClockState Daemon::clockState() const
{
    evidence::ClockState s;
    hal::ClockSync sync = clock_.sync();
    s.set_synchronized(sync.synchronized);
    s.set_estimated_error_us(sync.estimatedErrorNs / 1000);
    s.set_maximum_error_us(sync.maximumErrorNs / 1000);
    s.set_source(sync.source);
    s.set_boot_id(hal::Clock::bootId());
    return s;
}

pipeline::CaptureContext Daemon::captureContext() const
{
    pipeline::CaptureContext c;
    c.clock = clockState();
    c.utcMinusMonotonicNs = clock_.utcOffset();
    c.radar = radarIdentity_;
    c.latestSelfCheck = latestSelfCheck_;
    return c;
}

void Daemon::sealEssential(evidence::Record record,
                           std::function<void(pipeline::Sealer::Result)> then)
{
    ++essentialInFlight_;
    const char *what = record.has_calibration()  ? "calibration"
                       : record.has_self_check() ? "self-check"
                                                 : "record";
    assembler_->sealRecord(std::move(record), [this, what,
                                               then = std::move(then)](pipeline::Sealer::Result r) {
        --essentialInFlight_;
        if (r.ok()) {
            if (!lastSealed_ || r.sealed->seq > lastSealed_->seq)
                lastSealed_ = pipeline::Spool::ChainHead{r.sealed->seq, r.sealed->recordHash};
            log_->info(std::string("sealed seq=") + std::to_string(r.sealed->seq) + " " + what +
                       " record=" + r.recordId);
            if (uploader_)
                uploader_->kick();
        } else {
            log_->error(std::string("could not seal a ") + what + " record: " + r.error);
        }
        if (then)
            then(std::move(r));
    });
}

std::optional<std::string> Daemon::checkpoint()
{
    if (!lastSealed_)
        return std::nullopt;
    evidence::ChainWriter view(loaded_->config.device.id, key_.get(), lastSealed_->seq + 1,
                               lastSealed_->hash);
    return view.checkpoint(pipeline::Sealer::systemNow(), clockState());
}

std::string Daemon::heartbeat()
{
    HeartbeatFacts f;
    f.deviceId = loaded_->config.device.id;
    f.timeUtcNs = clock_.utcNow();
    f.softwareVersion = kSoftwareVersion;
    f.uptimeS = double(monotonicNow() - startedNs_) / kS;
    if (latestSelfCheck_)
        f.lastSelfCheckUtcNs = latestSelfCheck_->at().utc_ns();
    f.cameraFps = fps_;
    f.spoolDepth = spool_->depth();
    f.spoolBytes = spool_->usedBytes();
    f.spoolCapacity = spool_->capacityBytes();
    f.diskFreeBytes = spool_->freeDiskBytes();
    f.clock = clock_.sync();
    if (uploader_) {
        f.uploadAlarm = uploader_->status().alarm;
        f.uploadError = uploader_->status().lastError;
    }
    f.captured = captured_;
    f.uploaded = uploaded_;
    return heartbeatJson(health_, f);
}

/* ---- configuration changes --------------------------------------------------------- */

void Daemon::reload()
{
    log_->notice("SIGHUP: re-reading " + loaded_->mainFile);
    LoadResult r = loadConfig(loaded_->mainFile);
    if (!r.errors.empty()) {
        for (const ConfigError &e : r.errors)
            log_->error("config: " + e.text());
        log_->error("SIGHUP: configuration refused; still running with the previous one");
        return;
    }
    adopt(std::move(r.loaded), "SIGHUP");
}

void Daemon::adopt(std::unique_ptr<LoadedConfig> next, const std::string &why)
{
    const DaemonConfig &c = next->config;
    std::string newText = next->effectiveText();
    std::string oldText = loaded_->effectiveText();
    /* Which keys changed, by comparing the effective texts line by line per section. */
    auto keyed = [](const std::string &text) {
        std::map<std::string, std::string> out;
        std::istringstream in(text);
        std::string line, section;
        std::map<std::string, int> arrays;
        while (std::getline(in, line)) {
            if (line.rfind("[[", 0) == 0) {
                section = line.substr(2, line.find("]]") - 2);
                section += "[" + std::to_string(arrays[section]++) + "]";
            } else if (line.rfind("[", 0) == 0) {
                section = line.substr(1, line.find(']') - 1);
            } else if (auto eq = line.find(" = "); eq != std::string::npos) {
                out[(section.empty() ? "" : section + ".") + line.substr(0, eq)] =
                        line.substr(eq + 3);
            }
        }
        return out;
    };
    std::map<std::string, std::string> before = keyed(oldText), after = keyed(newText);
    std::vector<std::string> changed;
    for (const auto &[k, v] : after)
        if (!before.count(k) || before[k] != v)
            changed.push_back(k);
    for (const auto &[k, v] : before)
        if (!after.count(k))
            changed.push_back(k);
    if (changed.empty()) {
        log_->info(why + ": configuration unchanged");
        return;
    }
    static const std::vector<std::string> live{
            "log.",  "clock.",          "red_light.",  "school_zone.",
            "site.", "camera.stall_ms", "loops.lanes", "camera.calibration"};
    std::vector<std::string> restart;
    std::string list;
    for (const std::string &k : changed) {
        list += (list.empty() ? "" : ", ") + k;
        bool isLive = std::any_of(live.begin(), live.end(),
                                  [&](const std::string &p) { return k.rfind(p, 0) == 0; });
        if (!isLive && k.find("spacing_m") == std::string::npos) {
            restart.push_back(k);
            if (std::find(restartNeeded_.begin(), restartNeeded_.end(), k) == restartNeeded_.end())
                restartNeeded_.push_back(k);
        }
    }
    log_->notice(why + ": changed " + list);
    if (!restart.empty()) {
        std::string r;
        for (const std::string &k : restart)
            r += (r.empty() ? "" : ", ") + k;
        log_->warning(why + ": takes effect after a restart: " + r);
    }
    if (auto level = parseLogLevel(c.log.level))
        log_->setLevel(*level);
    if (!c.site.timezone.empty()) {
        setenv("TZ", c.site.timezone.c_str(), 1);
        tzset();
    }
    policy_.requireSync = c.clock.requireSync;
    policy_.maxClockErrorNs = static_cast<Nanos>(c.clock.maxErrorMs * kMs);
    policy_.cameraStallNs = static_cast<Nanos>(c.camera.stallMs * kMs);
    policy_.selfCheckMaxAgeNs = static_cast<Nanos>(c.schoolZone.selfCheckMaxAgeMin * 60 * kS);
    /* Enabling a rule that was off needs the devices it relies on: a restart. */
    bool rulesLive = c.redLight.enabled == loaded_->config.redLight.enabled &&
                     c.schoolZone.enabled == loaded_->config.schoolZone.enabled;
    configHash_ = configHash(newText);
    loaded_ = std::move(next);
    assembler_->setSite(siteIdentity(loaded_->config, configHash_));
    applyCameraCalibration(loaded_->config.camera.calibration);
    if (rulesLive) {
        pendingRules_ = loaded_->config;
        rebuildRulesWhenIdle();
    }
    checkHealth();
}

void Daemon::rebuildRulesWhenIdle()
{
    /* Rule ids restart in a new rule: never while a candidate of the old one is open. */
    if (!pendingRules_ || !rules_->idle() || coordinator_->pending() != 0)
        return;
    rules_ = makeRules(*pendingRules_);
    pendingRules_.reset();
    log_->info("rules rebuilt with the new configuration (phase history replayed)");
}

/* ---- stop -------------------------------------------------------------------------- */

void Daemon::beginStop(const std::string &why)
{
    if (stopping_)
        return;
    stopping_ = true;
    stopDeadline_ = std::chrono::steady_clock::now() + kStopDrain;
    log_->notice("stopping (" + why + "): no new captures; finishing " +
                 std::to_string(coordinator_->pending()) + " in hand");
    sd_notify(0, "STOPPING=1");
    checkHealth(); /* suspends every rule with reason "stopping" */
    auto poll = std::make_shared<std::function<void()>>();
    *poll = [this, poll] {
        bool drained = coordinator_->pending() == 0 && assembler_->inFlight() == 0 &&
                       essentialInFlight_ == 0 && rules_->idle();
        if (drained || std::chrono::steady_clock::now() > stopDeadline_) {
            if (!drained)
                log_->warning("stop: gave up waiting for " +
                              std::to_string(coordinator_->pending()) + " captures in hand");
            finishStop();
            return;
        }
        stopTimer_.expires_after(std::chrono::milliseconds(100));
        stopTimer_.async_wait([poll](const boost::system::error_code &ec) {
            if (!ec)
                (*poll)();
        });
    };
    (*poll)();
}

void Daemon::finishStop()
{
    stopDevices();
    if (recordsClient_)
        recordsClient_->close();
    if (controlClient_)
        controlClient_->close();
    boost::system::error_code ignored;
    stopSignals_.cancel(ignored);
    hupSignal_.cancel(ignored);
    rulesTimer_.cancel();
    healthTimer_.cancel();
    watchdogTimer_.cancel();
    consoleTimer_.cancel();
    radarTestTimer_.cancel();
    /* Sealing and spooling finish on the workers; their results are posted to the loop. */
    workers_->join();
    io_.stop();
}

/* ---- console host ------------------------------------------------------------------ */

std::string Daemon::status()
{
    const DaemonConfig &c = loaded_->config;
    std::ostringstream s;
    s << "device " << c.device.id << " at " << c.site.locationCode << ", software "
      << kSoftwareVersion << ", up " << (monotonicNow() - startedNs_) / kS << " s\n";
    auto rule = [&](const char *name, bool enabled, const std::vector<std::string> &reasons) {
        s << "  " << name << ": ";
        if (!enabled)
            s << "off\n";
        else if (reasons.empty())
            s << "enforcing\n";
        else {
            s << "SUSPENDED:";
            for (const std::string &r : reasons)
                s << " " << r << ";";
            s << "\n";
        }
    };
    s << "enforcement\n";
    rule("red light  ", c.redLight.enabled, health_.redLightReasons);
    rule("school zone", c.schoolZone.enabled, health_.schoolZoneReasons);
    if (rules_->redLight)
        s << "  red-light decisions: " << rules_->redLight->counts().summary() << "\n";
    if (rules_->schoolZone)
        s << "  school-zone decisions: " << rules_->schoolZone->counts().summary() << "\n";
    s << "signal: " << (health_.signalOk ? "ok" : health_.signalDetail);
    for (const auto &[head, phase] : phases_)
        s << ", " << head << " " << drivers::phaseName(phase);
    s << "\n";
    for (const auto &[name, b] : beacons_)
        s << "beacon " << name << ": " << (b.active ? "flashing" : "off") << "\n";
    if (radar_) {
        s << "radar: " << (health_.radarOk || !policy_.schoolZone ? "ok" : health_.radarDetail)
          << ", speeds " << (radar_->speedValid() ? "valid" : "NOT valid");
        if (latestSelfCheck_)
            s << ", last self-check " << (latestSelfCheck_->passed() ? "passed" : "FAILED")
              << " at " << utcText(latestSelfCheck_->at().utc_ns());
        s << ", " << radar_->identity().product << " " << radar_->identity().version << "\n";
    }
    s << "camera: " << (health_.cameraOk ? "ok" : health_.cameraDetail) << ", " << fixed(fps_, 1)
      << " fps, " << (camera_ ? camera_->framesDropped() : 0) << " dropped\n";
    s << "clock: " << (health_.clockOk ? "ok" : health_.clockDetail) << "\n";
    s << "spool: " << spool_->depth() << " records, " << spool_->usedBytes() << " of "
      << spool_->capacityBytes() << " bytes" << (spool_->full() ? " (FULL)" : "") << ", "
      << spool_->freeDiskBytes() / (1024 * 1024) << " MiB free on disk\n";
    s << "evidence: " << captured_ << " captured, " << captureFailures_ << " failed, next seq "
      << sealer_->nextSeq() << "\n";
    if (uploader_) {
        const auto &u = uploader_->status();
        s << "upload: " << uploaded_ << " uploaded, " << u.heartbeatsSent << " heartbeats, "
          << u.checkpointsSent << " checkpoints";
        if (!u.lastError.empty())
            s << ", last error: " << u.lastError;
        if (!u.alarm.empty())
            s << ", ALARM: " << u.alarm;
        s << "\n";
    } else {
        s << "upload: disabled\n";
    }
    if (!restartNeeded_.empty()) {
        s << "restart needed for:";
        for (const std::string &k : restartNeeded_)
            s << " " << k;
        s << "\n";
    }
    return s.str();
}

std::string Daemon::configShow()
{
    /* Secrets stay on the device: the upload token is not shown. */
    std::istringstream in(loaded_->effectiveText());
    std::string line, out, section;
    while (std::getline(in, line)) {
        if (line.rfind("[", 0) == 0)
            section = line;
        if (section == "[upload]" && line.rfind("token = ", 0) == 0 && line != "token = \"\"")
            line = "token = (hidden)";
        out += line + "\n";
    }
    return "# " + loaded_->mainFile + " + " + loaded_->overridesFile + " + " +
           loaded_->calibrationFile + "\n# config hash " + configHash_ + "\n" + out;
}

std::string Daemon::timeStatus()
{
    hal::ClockSync sync = clock_.sync();
    std::ostringstream s;
    s << "utc " << utcText(clock_.utcNow()) << "\n";
    const char *tz = std::getenv("TZ");
    std::time_t now = std::time(nullptr);
    tm local;
    localtime_r(&now, &local);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &local);
    s << "local " << buf << (tz ? std::string(" (") + tz + ")" : std::string()) << "\n";
    s << "monotonic " << fixed(double(clock_.monotonicNow()) / kS, 3) << " s, boot "
      << hal::Clock::bootId() << "\n";
    s << "sync " << (sync.synchronized ? "synchronized" : "NOT synchronized") << " (" << sync.source
      << "), estimated error " << sync.estimatedErrorNs / 1000 << " us, maximum error "
      << sync.maximumErrorNs / 1000 << " us\n";
    s << "enforcement requires sync: " << (policy_.requireSync ? "yes" : "no") << ", maximum error "
      << policy_.maxClockErrorNs / kMs << " ms";
    return s.str();
}

std::optional<std::string> Daemon::setConfig(const std::string &key, const std::string &value,
                                             const std::string &technician)
{
    for (const char *fixedSection : {"device.", "upload.", "console."})
        if (key.rfind(fixedSection, 0) == 0)
            return "'" + key + "' can only be changed in " + loaded_->mainFile;
    /* The key and value alone first, for a precise message. */
    LoadedConfig scratch;
    scratch.schema = daemonSchema(&scratch.config);
    if (auto problem = scratch.schema.applyOne(key, value))
        return scratch.schema.knows(key) ? key + ": " + *problem : *problem;
    /* Then the whole configuration with it, as it would be loaded at the next start. */
    std::string current = readText(loaded_->overridesFile);
    std::string text;
    std::istringstream in(current);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(key + " = ", 0) != 0)
            text += line + "\n";
    if (text.empty())
        text = "# Written by stoplined: settings changed with the console's `set`.\n";
    text += overrideLine(key, value);
    LayerOverrides layers;
    layers.overridesText = text;
    LoadResult r = loadConfig(loaded_->mainFile, layers);
    if (!r.errors.empty()) {
        std::string all;
        for (const ConfigError &e : r.errors)
            all += (all.empty() ? "" : "; ") + keyedMessage(e);
        return all;
    }
    if (auto err = pipeline::writeFileDurably(loaded_->config.device.stateDir,
                                              loaded_->overridesFile, text))
        return "not saved: " + *err;
    securityLog("set " + key + " = " + value + " by '" + technician + "'");
    adopt(std::move(r.loaded), "console set by '" + technician + "'");
    return std::nullopt;
}

void Daemon::calibrateCamera(const std::vector<std::string> &args, const std::string &technician,
                             Done done)
{
    const pipeline::CameraCalibration &current = loaded_->config.camera.calibration;
    if (!cameraDraft_) {
        pipeline::CameraCalibration base = current;
        base.width =
                static_cast<unsigned>(camera_ ? camera_->width() : loaded_->config.camera.width);
        base.height =
                static_cast<unsigned>(camera_ ? camera_->height() : loaded_->config.camera.height);
        if (base.lanes.empty())
            for (const DaemonConfig::LoopLane &l : loaded_->config.loops.lanes)
                base.lanes.push_back(
                        {static_cast<unsigned>(l.lane), (l.lane - 1) * 3.6, l.lane * 3.6});
        cameraDraft_ = std::make_unique<CameraCalibrationDraft>(base);
    }
    CameraCalibrationDraft::Reply reply = cameraDraft_->command(args);
    if (!reply.apply) {
        done(reply.text);
        return;
    }
    pipeline::CameraCalibration next = cameraDraft_->draft();
    next.cameraId = calibrationIdNow("camcal");
    const std::string text = cameraCalibrationToml(next);
    LayerOverrides layers;
    layers.cameraCalibrationText = text;
    LoadResult r = loadConfig(loaded_->mainFile, layers);
    if (!r.errors.empty()) {
        done("not applied: " + keyedMessage(r.errors.front()));
        return;
    }
    pipeline::CalibrationChangeInfo change;
    change.technician = technician;
    change.key = "camera.calibration";
    const pipeline::RoadHomography fitted = pipeline::RoadHomography::fit(next.points);
    change.oldValue =
            current.points.empty()
                    ? "uncalibrated"
                    : pipeline::describeCalibration(
                              current, pipeline::RoadHomography::fit(current.points, 1e9));
    change.newValue = pipeline::describeCalibration(next, fitted);
    change.newCalibrationId = loaded_->config.site.calibrationId;
    /* The picture the points were marked in, so a court can check the marks. */
    const fs::path snapshot =
            fs::path(loaded_->config.device.stateDir) / "snapshots" / "snapshot-latest.jpg";
    std::error_code ec;
    if (fs::exists(snapshot, ec)) {
        std::ifstream in(snapshot, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        change.note =
                "marked in snapshot-latest.jpg sha256 " + evidence::toHex(evidence::sha256(bytes));
    } else {
        change.note = "marked without a saved snapshot";
    }
    change.note += "; TOML:\n" + text;
    evidence::Record record =
            pipeline::buildCalibrationRecord(change, assembler_->site(), captureContext());
    auto loaded = std::make_shared<std::unique_ptr<LoadedConfig>>(std::move(r.loaded));
    sealEssential(std::move(record), [this, text, change, loaded, technician,
                                      done](pipeline::Sealer::Result res) {
        if (!res.ok()) {
            done("error: calibration not recorded, nothing changed: " + res.error);
            return;
        }
        if (auto err = pipeline::writeFileDurably(loaded_->config.device.stateDir,
                                                  loaded_->cameraCalibrationFile, text)) {
            done("error: recorded as seq " + std::to_string(res.sealed->seq) +
                 " but not saved: " + *err);
            return;
        }
        securityLog("calibration camera.calibration by '" + technician + "': " + change.newValue);
        cameraDraft_.reset();
        adopt(std::move(*loaded), "camera calibration by '" + technician + "'");
        done("camera calibrated: " + change.newValue + "; sealed as record seq " +
             std::to_string(res.sealed->seq));
    });
}

void Daemon::calibrate(const std::string &what, const std::vector<std::string> &args,
                       const std::string &technician, Done done)
{
    if (what == "camera") {
        calibrateCamera(args, technician, std::move(done));
        return;
    }
    const DaemonConfig &c = loaded_->config;
    Calibration cal;
    if (auto errors = readCalibration(loaded_->calibrationFile, &cal); !errors.empty()) {
        done("error: " + errors.front().text());
        return;
    }
    auto number = [](const std::string &text, double *out) {
        try {
            std::size_t used = 0;
            *out = std::stod(text, &used);
            return used == text.size() && std::isfinite(*out);
        } catch (const std::exception &) {
            return false;
        }
    };
    pipeline::CalibrationChangeInfo change;
    change.technician = technician;
    std::string problem;
    double v = 0;
    auto laneEntry = [&](const std::string &approach, long long lane) -> Calibration::Lane & {
        for (Calibration::Lane &l : cal.lanes)
            if (l.approach == approach && l.lane == lane)
                return l;
        cal.lanes.push_back({approach, lane, std::nullopt, std::nullopt});
        return cal.lanes.back();
    };
    if (what == "radar-angle") {
        if (args.size() != 1 || !number(args[0], &v) || v < 0 || v > 45) {
            done("usage: calibrate radar-angle DEGREES (0 to 45)");
            return;
        }
        change.key = "school_zone.cosine_angle_deg";
        change.oldValue = fixed(c.schoolZone.cosineAngleDeg, 2);
        cal.radarAngleDeg = v;
    } else if (what == "stop-line" || what == "loop-spacing") {
        if (args.size() != 2 || !number(args[1], &v) || v < 0 || v > 100) {
            done("usage: calibrate " + what + " LANE METRES (LANE as APPROACH:N or N)");
            return;
        }
        if (what == "stop-line") {
            const DaemonConfig::RedLane *lane = findLane(c.redLight.lanes, args[0], &problem);
            if (!lane) {
                done("error: " + problem);
                return;
            }
            change.key = "red_light.lanes." + lane->approach + ":" + std::to_string(lane->lane) +
                         ".stop_line_from_entry_m";
            change.oldValue = fixed(lane->stopLineFromEntryM, 3);
            laneEntry(lane->approach, lane->lane).stopLineFromEntryM = v;
        } else {
            const DaemonConfig::LoopLane *lane = findLane(c.loops.lanes, args[0], &problem);
            if (!lane) {
                done("error: " + problem);
                return;
            }
            change.key = "loops.lanes." + lane->approach + ":" + std::to_string(lane->lane) +
                         ".spacing_m";
            change.oldValue = fixed(lane->spacingM, 3);
            laneEntry(lane->approach, lane->lane).loopSpacingM = v;
        }
    } else {
        done("unknown calibration '" + what + "': stop-line, loop-spacing, radar-angle or camera");
        return;
    }
    change.newValue = fixed(v, 3);
    cal.id = calibrationIdNow("cal");
    change.newCalibrationId = cal.id;
    LayerOverrides layers;
    layers.calibration = cal;
    LoadResult r = loadConfig(loaded_->mainFile, layers);
    if (!r.errors.empty()) {
        done("error: " + keyedMessage(r.errors.front()));
        return;
    }
    /* The record first: a calibration nobody can prove was made must not take effect. */
    evidence::Record record =
            pipeline::buildCalibrationRecord(change, assembler_->site(), captureContext());
    auto next = std::make_shared<std::unique_ptr<LoadedConfig>>(std::move(r.loaded));
    sealEssential(std::move(record), [this, cal, change, next, technician,
                                      done](pipeline::Sealer::Result res) {
        if (!res.ok()) {
            done("error: calibration not recorded, nothing changed: " + res.error);
            return;
        }
        if (auto err = pipeline::writeFileDurably(loaded_->config.device.stateDir,
                                                  loaded_->calibrationFile, calibrationText(cal))) {
            done("error: recorded as seq " + std::to_string(res.sealed->seq) +
                 " but not saved: " + *err);
            return;
        }
        securityLog("calibration " + change.key + " " + change.oldValue + " -> " + change.newValue +
                    " by '" + technician + "' (" + cal.id + ")");
        adopt(std::move(*next), "calibration by '" + technician + "'");
        done(change.key + " = " + change.newValue + " (was " + change.oldValue + "), calibration " +
             cal.id + ", sealed as record seq " + std::to_string(res.sealed->seq));
    });
}

void Daemon::selfTestRadar(const std::string &technician, Done done)
{
    if (!radar_) {
        done("the radar is disabled in the configuration");
        return;
    }
    if (pendingSelfTest_ || pendingFork_) {
        done("busy: a radar test is already running");
        return;
    }
    securityLog("radar self-test by '" + technician + "'");
    pendingSelfTest_ = std::move(done);
    radar_->runSelfCheck();
    radarTestTimer_.expires_after(kRadarTestTimeout);
    radarTestTimer_.async_wait([this](const boost::system::error_code &ec) {
        if (ec || !pendingSelfTest_)
            return;
        Done d = std::move(pendingSelfTest_);
        pendingSelfTest_ = nullptr;
        d("error: the radar gave no self-check result within 20 s");
    });
}

void Daemon::forkTest(double mph, const std::string &technician, Done done)
{
    if (!radar_) {
        done("the radar is disabled in the configuration");
        return;
    }
    if (pendingSelfTest_ || pendingFork_) {
        done("busy: a radar test is already running");
        return;
    }
    securityLog("fork test at " + fixed(mph, 1) + " mph by '" + technician + "'");
    pendingFork_ = std::move(done);
    radar_->runReferenceCheck(mph, static_cast<Nanos>(loaded_->config.radar.forkWindowS * kS));
    radarTestTimer_.expires_after(kRadarTestTimeout +
                                  std::chrono::milliseconds(static_cast<long long>(
                                          loaded_->config.radar.forkWindowS * 1000)));
    radarTestTimer_.async_wait([this](const boost::system::error_code &ec) {
        if (ec || !pendingFork_)
            return;
        Done d = std::move(pendingFork_);
        pendingFork_ = nullptr;
        d("error: the radar gave no fork-test result");
    });
}

void Daemon::snapshot(Done done)
{
    hal::FramePtr frame = ring_ ? ring_->nearest(monotonicNow()) : nullptr;
    if (!frame) {
        done("no camera frame available");
        return;
    }
    Nanos age = monotonicNow() - frame->stamp.sampleNs;
    std::string dir = (fs::path(loaded_->config.device.stateDir) / "snapshots").string();
    std::int64_t utc = clock_.monotonicToUtc(frame->stamp.sampleNs);
    asio::post(*workers_, [this, frame, age, dir, utc, done = std::move(done)]() mutable {
        std::string text = "frame " + std::to_string(frame->sequence) + " " +
                           std::to_string(frame->width) + "x" + std::to_string(frame->height) +
                           " captured " + utcText(utc) + " (" + std::to_string(age / kMs) +
                           " ms ago)";
        try {
            std::string jpeg = pipeline::encodeJpeg(pipeline::toBgr(*frame), 90);
            frame.reset();
            std::error_code ec;
            fs::create_directories(dir, ec);
            std::string path = dir + "/snapshot-latest.jpg";
            if (auto err = pipeline::writeFileDurably(dir, path, jpeg))
                text += "; not saved: " + *err;
            else
                text += ", saved " + path + " (" + std::to_string(jpeg.size()) + " bytes)";
        } catch (const std::exception &e) {
            text += "; cannot encode: " + std::string(e.what());
        }
        asio::post(io_, [text, done = std::move(done)] { done(text); });
    });
}

void Daemon::gpioWatch(bool on, std::function<void(std::string)> line)
{
    if (!on || !line) {
        gpioWatch_ = nullptr;
        lines_->tap = nullptr;
        return;
    }
    gpioWatch_ = std::move(line);
    Nanos start = monotonicNow();
    lines_->tap = [this, start](const hal::GpioEvent &e) {
        if (gpioWatch_)
            gpioWatch_(lines_->name(e.index) + " " + (e.active ? "1" : "0") + " at +" +
                       fixed(double(e.stamp.sampleNs - start) / kS, 3) + " s");
    };
}

void Daemon::securityLog(const std::string &event)
{
    log_->notice("security: " + event);
}

} /* namespace stopline::firmware */

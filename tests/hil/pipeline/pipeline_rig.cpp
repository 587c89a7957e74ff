#include "pipeline_rig.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>

#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "drivers/beacon/beacon_detector.h"
#include "drivers/gpio_driver.h"
#include "drivers/radar/ops243_driver.h"
#include "evidence/verify.h"
#include "hal/camera.h"
#include "hal/clock.h"
#include "hal/gpio.h"
#include "hal/serial.h"
#include "pipeline/evidence/radar_check.h"
#include "sim/renderer.h"
#include "sim/world.h"
#include "sim_calibration.h"
#include "sim_process.h"

namespace stopline::hil {

using namespace stopline::pipeline;
namespace ev = stopline::evidence;
namespace fs = std::filesystem;

int runCommand(const std::string &command, std::string *output)
{
    FILE *p = popen((command + " 2>&1").c_str(), "r");
    if (!p)
        return -1;
    char buf[4096];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        output->append(buf, n);
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void RigRun::finish(bool keep) const
{
    if (dir.empty())
        return;
    if (keep || getenv("STOPLINE_KEEP_HIL"))
        std::printf("kept %s\n", dir.c_str());
    else
        fs::remove_all(dir);
}

CameraCalibration scenarioCalibration(const std::string &scenarioPath)
{
    sim::World world(sim::loadScenario(scenarioPath));
    const sim::Scenario &sc = world.scenario();
    if (!sc.camera)
        throw std::runtime_error(scenarioPath + " has no camera");
    return testkit::markedCalibration(sc, sim::Renderer(sc, *sc.camera));
}

RigRun runRig(const RigConfig &config, const std::string &verifyBin)
{
    RigRun run;
    auto problem = [&](const std::string &what) { run.setupProblems.push_back(what); };
    char tmpl[] = "/tmp/stopline-pipeline-hil-XXXXXX";
    if (!mkdtemp(tmpl)) {
        problem("cannot create a folder under /tmp");
        return run;
    }
    run.dir = tmpl;
    fs::create_directories(run.dir / "records");
    fs::create_directories(run.dir / "keys");

    /* The simulator, waiting for this process to attach to every wire. */
    std::unique_ptr<SimProcess> simProcess;
    try {
        simProcess = std::make_unique<SimProcess>(
                config.scenario,
                std::vector<std::string>{"--wait-for", "gpio,camera,radar", "--wait-timeout", "60",
                                         "--start-delay", "1"});
    } catch (const std::exception &e) {
        problem(std::string("simulator did not start: ") + e.what());
        return run;
    }
    SimProcess &sim = *simProcess;
    const Json &w = sim.wires();

    boost::asio::io_context io;
    hal::Clock clock;
    const CivilTime today = civilTimeFromUtc(clock.utcNow());
    std::shared_ptr<const VehicleBinder> binder;
    SchoolZoneConfig schoolConfig = config.schoolZone(today);
    if (config.calibrated) {
        try {
            CameraCalibration calibration = scenarioCalibration(
                    config.calibrationScenario.empty() ? config.scenario
                                                       : config.calibrationScenario);
            binder = std::make_shared<const VehicleBinder>(calibration);
            run.calibration = calibration;
            schoolConfig.photoZoneFromM = calibration.speedZone.fromM;
            schoolConfig.photoZoneToM = calibration.speedZone.toM;
            /* Where the beam covers the approach, as an installer measures it: the
             * sensor's range limits projected onto the lanes. */
            const sim::Scenario sc = sim::loadScenario(config.scenario);
            if (sc.radar) {
                auto along = [&](double range) {
                    return sc.radar->positionM -
                           std::sqrt(std::max(0.0, range * range -
                                                           sc.radar->offsetM * sc.radar->offsetM));
                };
                schoolConfig.beamFarM = along(sc.radar->rangeMaxM);
                schoolConfig.beamNearM = along(sc.radar->rangeMinM);
            }
        } catch (const std::exception &e) {
            problem(std::string("camera calibration: ") + e.what());
            return run;
        }
    }
    RedLightRule redLight(config.redLight);
    redLight.setCameraDating(binder != nullptr);
    SchoolZoneRule school(schoolConfig);

    /* Evidence: ring, sealer on one worker, assembler, coordinator. */
    auto key = ev::SigningKey::generate();
    key->writeFiles((run.dir / "keys" / "hil.key").string(),
                    (run.dir / "keys" / "hil-dev.pub").string(), {{"device", "hil-dev"}});
    auto writer = std::make_unique<ev::ChainWriter>("hil-dev", key.get(), 0, std::string());
    auto persist = [&](const ev::Sealed &s, const ev::Record &) -> std::optional<std::string> {
        char name[32];
        std::snprintf(name, sizeof name, "%012llu.slr", static_cast<unsigned long long>(s.seq));
        std::ofstream(run.dir / "records" / name, std::ios::binary) << s.bytes;
        return std::nullopt;
    };
    {
        ev::Record genesis = ev::makeGenesis(*key, "SN-HIL");
        *genesis.mutable_created() = Sealer::systemNow();
        genesis.mutable_clock()->set_synchronized(true);
        persist(writer->seal(genesis), genesis);
    }
    boost::asio::thread_pool workers(1);
    Sealer sealer(std::move(writer), workers.get_executor(), persist);
    SiteIdentity site;
    site.deviceSerial = "SN-HIL";
    site.location.set_code("HIL-0001");
    site.location.set_direction(ev::NORTHBOUND);
    site.redLightStatute = "RCW 46.63.170";
    site.speedStatute = "RCW 46.61.440";
    site.calibrationId = "cal-hil";
    site.configHash = std::string(64, 'h');
    EvidenceAssembler assembler(io.get_executor(), workers.get_executor(), &sealer, site,
                                config.evidence, PlateLocator::Options{});
    assembler.setBinder(binder);
    run.fps = w["camera"]["fps"].get<double>();
    FrameRing::Options ringOptions;
    ringOptions.preTriggerSeconds = config.ringSeconds;
    ringOptions.fps = run.fps;
    FrameRing ring(ringOptions, io.get_executor());

    std::optional<ev::SelfCheck> latestSelfCheck;
    std::optional<ev::RadarIdentity> radarIdentity;
    CaptureCoordinator coordinator(
            &ring, &assembler,
            [&] {
                CaptureContext c;
                hal::ClockSync sync = clock.sync();
                c.clock.set_synchronized(sync.synchronized);
                c.clock.set_estimated_error_us(sync.estimatedErrorNs / 1000);
                c.clock.set_maximum_error_us(sync.maximumErrorNs / 1000);
                c.clock.set_source(sync.source);
                c.clock.set_boot_id(hal::Clock::bootId());
                c.utcMinusMonotonicNs = clock.utcOffset();
                c.radar = radarIdentity;
                c.latestSelfCheck = latestSelfCheck;
                return c;
            },
            [&](const Decision &d, const EvidenceAssembler::Result &r) {
                run.outcomes.push_back({d, r});
            });
    auto feed = [&](std::vector<Decision> ds) {
        for (const Decision &d : ds) {
            if (d.verdict == Decision::Verdict::Capture)
                run.captureLatencyUs.push_back((monotonicNow() - d.triggerNs) / 1000.0);
            else
                run.finals.push_back(d);
        }
        coordinator.handle(ds);
    };
    coordinator.setDated([&](const CameraCrossing &c) { feed(redLight.onCameraCrossing(c)); });

    /* GPIO: signal heads, loops, beacon, through the sim wire client. */
    hal::GpioConfig gpioConfig;
    gpioConfig.backend = "sim";
    gpioConfig.chip = w["gpio"]["chip"].get<std::string>();
    gpioConfig.simSocket = w["gpio"]["socket"].get<std::string>();
    for (const Json &l : w["gpio"]["lines"])
        gpioConfig.lines.push_back({l["name"].get<std::string>(), l["name"].get<std::string>(),
                                    false, hal::GpioLineConfig::Bias::AsIs});
    auto lines = hal::openGpioLines(io, gpioConfig);
    drivers::PhaseDecoder decoder(
            config.signal,
            drivers::SignalSink{[&](const drivers::PhaseChange &p) { redLight.onPhaseChange(p); },
                                [&](const drivers::SignalFault &f) { redLight.onSignalFault(f); },
                                {}});
    drivers::LoopTracker loops(config.loops, drivers::LoopSink{[&](const drivers::LoopPresence &p) {
                                                                   feed(redLight.onLoopPresence(p));
                                                               },
                                                               [&](const drivers::LoopCrossing &c) {
                                                                   feed(redLight.onLoopCrossing(c));
                                                               }});
    drivers::BeaconDetectorConfig beaconConfig;
    beaconConfig.beacons = {{"SZ", "BEACON_SZ"}};
    drivers::BeaconDetector beacon(beaconConfig,
                                   [&](const drivers::BeaconState &b) { school.onBeacon(b); });
    drivers::GpioDriver gpio(io, lines.get());
    gpio.add(&decoder);
    gpio.add(&loops);
    gpio.add(&beacon);
    std::vector<std::pair<Nanos, std::string>> wireErrors; /* (when, message) */
    gpio.start([&](const std::string &m) { wireErrors.push_back({monotonicNow(), m}); });

    /* Radar: the real OPS243 driver on the simulator's pty. */
    hal::SerialConfig serialConfig;
    serialConfig.device = w["radar"]["pty"].get<std::string>();
    serialConfig.baud = w["radar"]["baud"].get<unsigned>();
    hal::SerialPort port(io, serialConfig);
    drivers::radar::Ops243DriverConfig radarConfig;
    radarConfig.targets = config.radarTargets;
    drivers::radar::Ops243Driver radar(io, &port, radarConfig);
    int selfChecks = 0;
    radar.start(
            [&](const drivers::RadarReport &r) {
                redLight.onRadar(r);
                feed(school.onRadar(r, civilTimeFromUtc(clock.monotonicToUtc(r.at.sampleNs))));
            },
            [&](const drivers::radar::RadarSelfCheck &c) {
                ++selfChecks;
                if (c.kind == drivers::radar::RadarSelfCheck::Kind::Reset)
                    school.onRadarReset(c.at.sampleNs);
                else
                    school.onSelfCheck(c.passed, c.at.sampleNs);
                run.radarChecks.push_back(c);
                radarIdentity = toProto(radarInfoOf(c.radar));
                const SelfCheckResult result = selfCheckResultOf(c);
                CaptureContext ctx;
                ctx.utcMinusMonotonicNs = clock.utcOffset();
                ctx.radar = radarIdentity;
                latestSelfCheck = toProto(result, ctx);
                /* Every check is a record of the chain, a reset and its recovery too. */
                assembler.sealRecord(buildSelfCheckRecord(result, site, ctx),
                                     [&run, kind = c.kind](Sealer::Result r) {
                                         if (r.ok())
                                             run.sealedRadarChecks.push_back(kind);
                                     });
            },
            [&](const std::string &m) {
                wireErrors.push_back({monotonicNow(), "radar: " + m});
            });

    /* Camera: frames straight into the ring from the capture thread. */
    hal::CameraConfig cameraConfig;
    cameraConfig.backend = "sim";
    cameraConfig.device = w["camera"]["socket"].get<std::string>();
    cameraConfig.buffers = static_cast<unsigned>(ring.frameCap() + 80 + 9 * run.fps);
    auto camera = hal::openCamera(cameraConfig, &clock);
    camera->start([&](hal::FramePtr f) { ring.push(std::move(f)); });

    /* The rules' timers, and the end: the simulator exits when the scenario is over;
     * then the pending decisions get their settle time and the clips their second half,
     * and the assemblies finish. */
    boost::asio::steady_timer tick(io);
    Nanos backgroundAtNs = 0;
    std::optional<std::chrono::steady_clock::time_point> simEnded;
    std::function<void()> arm = [&] {
        tick.expires_after(std::chrono::milliseconds(100));
        tick.async_wait([&](const boost::system::error_code &ec) {
            if (ec)
                return;
            Nanos now = monotonicNow();
            if (now - backgroundAtNs >= kNanosPerSecond) {
                backgroundAtNs = now;
                assembler.learnBackground(ring.nearest(now));
            }
            feed(redLight.poll(now));
            feed(school.poll(now));
            if (!simEnded && sim.exited())
                simEnded = std::chrono::steady_clock::now();
            bool settled = coordinator.pending() == 0 && assembler.inFlight() == 0 &&
                           redLight.pendingCount() == 0 && !school.tracking();
            if (simEnded &&
                std::chrono::steady_clock::now() - *simEnded > std::chrono::seconds(2) && settled) {
                io.stop();
                return;
            }
            arm();
        });
    };
    arm();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
    while (!io.stopped() && std::chrono::steady_clock::now() < deadline)
        io.run_for(std::chrono::milliseconds(200));
    camera->stop();
    gpio.stop();
    port.close();
    tick.cancel();
    workers.join();
    io.restart();
    io.poll(); /* deliver results posted by the last seal */

    run.ran = true;
    if (!sim.exited())
        problem("the simulator did not finish");
    if (sim.exitStatus() != 0)
        problem("simulator failed: " + sim.stderrText());
    if (selfChecks < 1)
        problem("no radar self-check");
    if (!latestSelfCheck || !latestSelfCheck->passed())
        problem("radar self-check did not pass");
    run.truth = sim.truth();
    std::optional<Nanos> endNs;
    for (const Json &r : run.truth)
        if (r["type"] == "end") {
            endNs = r["t_ns"].get<Nanos>();
            /* Where frames went missing, so a refusal for a camera gap on a busy host
             * is told from a camera fault or a pipeline that fell behind. */
            std::printf("camera: %llu frames delivered; lost %llu (rig buffers), %llu (sim "
                        "queue), %llu (sim too busy to render)\n",
                        static_cast<unsigned long long>(camera->framesDelivered()),
                        static_cast<unsigned long long>(camera->framesDropped()),
                        r.value("camera_frames_dropped", 0ull),
                        r.value("camera_frames_skipped_behind", 0ull));
        }
    /* The wires close when the simulator ends; an error before that is a failure. */
    for (const auto &[at, message] : wireErrors)
        if (!endNs || at < *endNs - 500 * kNanosPerMilli)
            problem("wire error during the scenario: " + message);
    run.redLightCounts = redLight.counts();
    run.schoolZoneCounts = school.counts();

    /* Every sealed record (and the genesis) through the command-line verifier. */
    run.verifyStatus = runCommand(verifyBin + " -k " + (run.dir / "keys").string() + " " +
                                          (run.dir / "records").string(),
                                  &run.verifyOutput);
    run.recordsOnDisk = static_cast<std::size_t>(
            std::distance(fs::directory_iterator(run.dir / "records"), fs::directory_iterator()));
    return run;
}

} /* namespace stopline::hil */

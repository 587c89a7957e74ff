/* stopline-sim: plays a scenario file on the same wires a real intersection would use
 * (docs/architecture.md), for hardware-in-the-loop tests and the demo. See sim/README.md. */

#include <cstdio>
#include <sstream>

#include <CLI/CLI.hpp>
#include <opencv2/imgcodecs.hpp>

#include "sim/log.h"
#include "sim/renderer.h"
#include "sim/runner.h"
#include "sim/scenario.h"
#include "sim/world.h"

using namespace stopline::sim;
using stopline::Nanos;

namespace {

/* What --check prints: the plan a scenario author wants to see before running it. */
void printPlan(const World &world)
{
    const Scenario &sc = world.scenario();
    std::printf("scenario \"%s\": %.1f s, %zu vehicles, %zu GPIO lines, %zu edges\n",
                sc.name.c_str(), sc.durationS, sc.vehicles.size(), world.lines().size(),
                world.edges().size());
    for (const auto &rec : world.truth()) {
        const Json &r = rec.record;
        std::string type = r["type"];
        if (type == "crossing") {
            std::ostringstream os;
            os.setf(std::ios::fixed);
            os.precision(3);
            os << "  " << nanosToSeconds(rec.at) << " s  vehicle " << r["vehicle"].get<unsigned>()
               << " " << r["plate"].get<std::string>() << " (" << r["behaviour"].get<std::string>()
               << ", lane " << r["lane"].get<unsigned>() << ") crosses at "
               << r["speed_mph"].get<double>() << " mph";
            if (r.contains("phase") && !r["phase"].is_null()) {
                os << " on " << r["phase"].get<std::string>();
                if (!r["time_into_red_s"].is_null())
                    os << " +" << r["time_into_red_s"].get<double>() << " s into red";
            }
            if (r["stopped_before_line"].get<bool>())
                os << " after stopping";
            std::printf("%s\n", os.str().c_str());
        } else if (type == "vehicle_exit" && r.contains("in_beam")) {
            const Json &b = r["in_beam"];
            std::printf("  vehicle %u %s was in the radar beam %.3f-%.3f s at %.1f-%.1f mph, "
                        "beacon %s\n",
                        r["vehicle"].get<unsigned>(), r["plate"].get<std::string>().c_str(),
                        nanosToSeconds(b["from_ns_rel"].get<Nanos>()),
                        nanosToSeconds(b["to_ns_rel"].get<Nanos>()),
                        b["min_speed_mph"].get<double>(), b["max_speed_mph"].get<double>(),
                        b["beacon_active"].get<std::string>().c_str());
        }
    }
}

/* --snapshot: what the camera sees at a moment, for scenario authors. */
bool writeSnapshots(const World &world, const std::vector<std::string> &specs)
{
    const Scenario &sc = world.scenario();
    if (!sc.camera) {
        logLine("--snapshot: the scenario has no [camera]");
        return false;
    }
    Renderer renderer(sc, *sc.camera);
    for (const auto &spec : specs) {
        auto eq = spec.find('=');
        double t = 0;
        try {
            t = std::stod(spec.substr(0, eq));
        } catch (const std::exception &) {
            eq = std::string::npos;
        }
        if (eq == std::string::npos) {
            logLine("--snapshot wants SECONDS=FILE.png, got \"" + spec + "\"");
            return false;
        }
        std::string file = spec.substr(eq + 1);
        cv::Mat image(sc.camera->height, sc.camera->width, CV_8UC3);
        auto plates = renderer.render(world.sceneAt(secondsToNanos(t)), image);
        if (!cv::imwrite(file, image)) {
            logLine("--snapshot: cannot write " + file);
            return false;
        }
        std::printf("%s: t = %.3f s", file.c_str(), t);
        for (const auto &p : plates)
            std::printf(", plate %s at [%d, %d, %d, %d]", p.plate.c_str(), p.box.x, p.box.y,
                        p.box.width, p.box.height);
        std::printf("\n");
    }
    return true;
}

/* --calibration: what an installer would mark in a snapshot of this camera, as the
 * daemon's [camera.calibration] section. */
bool printCalibration(const World &world)
{
    const Scenario &sc = world.scenario();
    if (!sc.camera) {
        logLine("--calibration: the scenario has no [camera]");
        return false;
    }
    Renderer renderer(sc, *sc.camera);
    const Json g = renderer.geometry();
    std::printf("# Marked in a snapshot of stopline-sim %s (camera %s)\n", sc.source.c_str(),
                sc.camera->id.c_str());
    std::printf("# a rear plate readable (whole, >= 28 px) per lane: %s\n",
                g["plate_zone_by_lane_m"].dump().c_str());
    std::printf("[camera.calibration]\nid = \"%s-%s\"\nwidth = %d\nheight = %d\n",
                sc.camera->id.c_str(), sc.name.c_str(), sc.camera->width, sc.camera->height);
    if (g["plate_zone_m"].is_array()) {
        const double from = g["plate_zone_m"][0].get<double>(),
                     to = g["plate_zone_m"][1].get<double>();
        std::printf("red_light_zone_from_m = %.1f\nred_light_zone_to_m = %.1f\n", from, to);
        std::printf("speed_zone_from_m = %.1f\nspeed_zone_to_m = %.1f\n", from, to);
    }
    for (const Json &m : g["marks"])
        std::printf("\n[[camera.calibration.points]]\nalong_m = %.2f\nacross_m = %.2f\nx = "
                    "%.0f\ny = %.0f\n",
                    m[0].get<double>(), m[1].get<double>(), m[2].get<double>(), m[3].get<double>());
    for (const Json &l : g["lane_bands"])
        std::printf("\n[[camera.calibration.lanes]]\nlane = %u\nfrom_m = %.2f\nto_m = %.2f\n",
                    l["lane"].get<unsigned>(), l["from_m"].get<double>(), l["to_m"].get<double>());
    return true;
}

} /* namespace */

int main(int argc, char **argv)
{
    CLI::App app{"stopline-sim: a signalised intersection on the wires a real one uses "
                 "(OPS243 radar on a pty, GPIO and camera on Unix sockets), with ground truth"};
    std::string scenarioPath;
    RunOptions options;
    bool check = false;
    bool verbose = false;
    app.add_option("scenario", scenarioPath, "scenario file (TOML)")->required();
    app.add_option("--truth", options.truthPath, "write ground truth here (JSON lines)");
    app.add_option("--wires-json", options.wiresJsonPath,
                   "write the wire addresses here as JSON (atomically; rewritten with t0_ns "
                   "when the scenario starts)");
    app.add_option("--socket-dir", options.socketDir,
                   "directory for gpio.sock and camera.sock (default: a new /tmp/stopline-sim-*)");
    app.add_option("--gpio-socket", options.gpioSocket, "GPIO wire socket path");
    app.add_option("--camera-socket", options.cameraSocket, "camera wire socket path");
    app.add_option("--radar-link", options.radarLink,
                   "make a symlink here to the radar's pty (a fixed path for configs)");
    app.add_option("--wait-for", options.waitFor,
                   "start the scenario only once these clients are attached: gpio, camera, "
                   "radar (radar: the host sent a byte)")
            ->delimiter(',')
            ->check(CLI::IsMember({"gpio", "camera", "radar"}));
    app.add_option("--wait-timeout", options.waitTimeoutS,
                   "give up (exit 3) when --wait-for is not met within this many seconds")
            ->check(CLI::NonNegativeNumber);
    app.add_option("--start-delay", options.startDelayS,
                   "seconds between the clients being ready and the scenario start")
            ->check(CLI::Range(0.0, 3600.0));
    app.add_flag("--hold", options.hold,
                 "keep serving after the scenario ends (the signal keeps cycling) until killed");
    app.add_flag("--gpio-shared", options.gpioShared,
                 "let several clients request the same GPIO line (a real chip refuses)");
    app.add_flag("--check", check, "validate the scenario, print its plan and exit");
    std::vector<std::string> snapshots;
    app.add_option("--snapshot", snapshots,
                   "render the camera at SECONDS into FILE (PNG) and exit; repeatable");
    bool calibration = false;
    app.add_flag("--calibration", calibration,
                 "print the camera calibration an installer would mark (stoplined.toml's "
                 "[camera.calibration]) and exit");
    std::string radarFirmware;
    app.add_option("--radar-firmware", radarFirmware,
                   "answer as this OPS243 firmware generation whatever the scenario says "
                   "(2019: 1.3.x replies; 2025: current replies)")
            ->check(CLI::IsMember({"2019", "2025"}));
    app.add_flag("-v,--verbose", verbose, "log client connections and wire details");
    CLI11_PARSE(app, argc, argv);
    verboseLogging() = verbose;

    try {
        Scenario scenario = loadScenario(scenarioPath);
        if (!radarFirmware.empty() && scenario.radar)
            scenario.radar->firmware =
                    radarFirmware == "2019" ? RadarFirmware::Gen2019 : RadarFirmware::Gen2025;
        World world(std::move(scenario), options.hold ? 24 * 3600 * stopline::kNanosPerSecond : 0);
        for (const auto &w : world.warnings())
            logLine("warning: " + w);
        if (!snapshots.empty())
            return writeSnapshots(world, snapshots) ? kExitOk : kExitRuntime;
        if (calibration)
            return printCalibration(world) ? kExitOk : kExitRuntime;
        if (check) {
            printPlan(world);
            return kExitOk;
        }
        return runWorld(world, options);
    } catch (const ScenarioError &e) {
        for (const auto &p : e.problems())
            std::fprintf(stderr, "%s\n", p.c_str());
        std::fprintf(stderr, "stopline-sim: %zu problem(s) in the scenario; nothing was run\n",
                     e.problems().size());
        return kExitScenario;
    }
}

#include "firmware/stoplined/daemon_config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>
#include <stdexcept>

#include "firmware/console/password.h"
#include "firmware/stoplined/camera_calibration_config.h"

namespace fs = std::filesystem;

namespace stopline::firmware {

namespace {

std::string quote(const std::string &s)
{
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    return out + "\"";
}

std::string num(double v)
{
    std::ostringstream ss;
    ss.precision(15);
    ss << v;
    return ss.str();
}

std::string list(const std::vector<std::string> &v)
{
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i)
        s += (i ? ", " : "") + quote(v[i]);
    return s + "]";
}

std::optional<std::string> timezoneProblem(const std::string &tz)
{
    if (tz.empty())
        return std::nullopt;
    if (tz.find("..") != std::string::npos || tz.front() == '/')
        return quote(tz) + " is not a time zone name";
    if (!fs::exists(fs::path("/usr/share/zoneinfo") / tz))
        return quote(tz) + " is not a known time zone (see /usr/share/zoneinfo)";
    return std::nullopt;
}

std::optional<std::string> dateProblem(const std::string &text)
{
    if (!pipeline::parseDate(text))
        return quote(text) + " is not a date YYYY-MM-DD";
    return std::nullopt;
}

/* The line of a dotted key ("red_light.lanes[1].head") in a parsed document; 0 when it
 * is not there (then the element's or section's line, whichever is found last). */
int lineOfPath(const toml::table &doc, const std::string &path)
{
    const toml::node *node = &doc;
    int best = 0;
    std::size_t pos = 0;
    while (pos <= path.size() && node) {
        std::size_t dot = path.find('.', pos);
        std::string seg =
                path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
        std::optional<std::size_t> index;
        std::size_t bracket = seg.find('[');
        if (bracket != std::string::npos) {
            index = std::stoul(seg.substr(bracket + 1));
            seg = seg.substr(0, bracket);
        }
        const toml::table *t = node->as_table();
        node = t ? t->get(seg) : nullptr;
        if (node && index) {
            const toml::array *a = node->as_array();
            node = a && *index < a->size() ? a->get(*index) : nullptr;
        }
        if (node && node->source().begin.line)
            best = static_cast<int>(node->source().begin.line);
        if (dot == std::string::npos)
            break;
        pos = dot + 1;
    }
    return best;
}

/* Arrays of tables may only come from the main file: a second layer would append. */
void rejectTableArrays(const toml::table &table, const std::string &prefix,
                       const std::string &source, std::vector<ConfigError> *errors)
{
    for (auto &&[key, node] : table) {
        std::string path =
                prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
        if (const toml::array *a = node.as_array(); a && a->is_array_of_tables())
            errors->push_back({source, static_cast<int>(node.source().begin.line), path,
                               "lists of tables belong in the main configuration file"});
        else if (const toml::table *t = node.as_table())
            rejectTableArrays(*t, path, source, errors);
    }
}

std::string resolvePath(const std::string &value, const fs::path &base)
{
    if (value.empty() || fs::path(value).is_absolute())
        return value;
    return (base / value).lexically_normal().string();
}

} /* namespace */

ConfigSchema daemonSchema(DaemonConfig *c)
{
    ConfigSchema s;
    s.addString("device.id", &c->device.id, "device id: the chain's and the back-office's name");
    s.addString("device.serial", &c->device.serial, "hardware serial number");
    s.addString("device.key_file", &c->device.keyFile, "Ed25519 private key (mode 0600)");
    s.addString("device.state_dir", &c->device.stateDir, "spool, chain head, overrides");
    s.require("device.id");
    s.require("device.key_file");
    s.require("device.state_dir");

    s.addString("site.location_code", &c->site.locationCode, "agency location code");
    s.require("site.location_code");
    s.addString("site.description", &c->site.description);
    s.addChoice("site.direction", &c->site.direction,
                {"northbound", "southbound", "eastbound", "westbound"});
    s.addDouble("site.latitude", &c->site.latitude, -90, 90);
    s.addDouble("site.longitude", &c->site.longitude, -180, 180);
    s.addCheckedString("site.timezone", &c->site.timezone, timezoneProblem);
    s.addString("site.calibration_id", &c->site.calibrationId);

    s.addBool("clock.require_sync", &c->clock.requireSync,
              "suspend enforcement while the clock is not synchronized");
    s.addDouble("clock.max_error_ms", &c->clock.maxErrorMs, 0.001, 60000);

    s.addChoice("log.level", &c->log.level, {"error", "warning", "notice", "info", "debug"});

    s.addChoice("gpio.backend", &c->gpio.backend, {"gpiod", "sim"});
    s.addString("gpio.chip", &c->gpio.chip);
    s.addString("gpio.sim_socket", &c->gpio.simSocket);
    s.addString("gpio.consumer", &c->gpio.consumer);
    s.addDouble("gpio.grace_ms", &c->gpio.graceMs, 0, 1000);
    s.addTableArray("gpio.lines", [c](std::size_t) {
        c->gpio.lines.emplace_back();
        DaemonConfig::GpioLine &l = c->gpio.lines.back();
        ConfigSchema e;
        e.addString("name", &l.name);
        e.addString("line", &l.line);
        e.addBool("active_low", &l.activeLow);
        e.addChoice("bias", &l.bias, {"as_is", "disable", "pull_up", "pull_down"});
        e.require("name");
        return e;
    });

    s.addDouble("signal.debounce_ms", &c->signal.debounceMs, 1, 1000);
    s.addDouble("signal.flash_max_period_s", &c->signal.flashMaxPeriodS, 0.7, 5);
    s.addTableArray("signal.heads", [c](std::size_t) {
        c->signal.heads.emplace_back();
        DaemonConfig::Head &h = c->signal.heads.back();
        ConfigSchema e;
        e.addString("name", &h.name);
        e.addString("red", &h.red);
        e.addString("yellow", &h.yellow);
        e.addString("green", &h.green);
        e.addStringList("conflicting", &h.conflicting);
        e.require("name");
        return e;
    });

    s.addDouble("loops.debounce_ms", &c->loops.debounceMs, 1, 1000);
    s.addDouble("loops.max_travel_s", &c->loops.maxTravelS, 0.5, 600);
    s.addTableArray("loops.lanes", [c](std::size_t) {
        c->loops.lanes.emplace_back();
        DaemonConfig::LoopLane &l = c->loops.lanes.back();
        ConfigSchema e;
        e.addString("approach", &l.approach);
        e.addInt("lane", &l.lane, 1, 16);
        e.addString("entry_loop", &l.entryLoop);
        e.addString("exit_loop", &l.exitLoop);
        e.addDouble("spacing_m", &l.spacingM, 0.1, 100);
        e.addDouble("entry_length_m", &l.entryLengthM, 0.3, 30);
        e.addDouble("exit_length_m", &l.exitLengthM, 0.3, 30);
        for (const char *k : {"approach", "lane", "entry_loop", "exit_loop", "spacing_m"})
            e.require(k);
        return e;
    });

    s.addTableArray("beacons", [c](std::size_t) {
        c->beacons.emplace_back();
        DaemonConfig::Beacon &b = c->beacons.back();
        ConfigSchema e;
        e.addString("name", &b.name);
        e.addString("line", &b.line);
        e.require("name");
        e.require("line");
        return e;
    });

    s.addBool("radar.enabled", &c->radar.enabled);
    s.addString("radar.device", &c->radar.device, "serial device of the OPS243");
    s.addUnsigned("radar.baud", &c->radar.baud, 1200, 4000000);
    s.addChoice("radar.unit", &c->radar.unit, {"mph", "kmh", "mps", "fps", "cmps"});
    s.addUnsigned("radar.targets", &c->radar.targets, 1, 9);
    s.addDouble("radar.periodic_check_min", &c->radar.periodicCheckMin, 0, 1440);
    s.addDouble("radar.reference_tolerance_mph", &c->radar.referenceToleranceMph, 0.1, 5);
    s.addDouble("radar.fork_window_s", &c->radar.forkWindowS, 0.5, 30);

    s.addChoice("camera.backend", &c->camera.backend, {"libcamera", "opencv", "sim"});
    s.addString("camera.device", &c->camera.device);
    s.addInt("camera.width", &c->camera.width, 0, 10000);
    s.addInt("camera.height", &c->camera.height, 0, 10000);
    s.addChoice("camera.format", &c->camera.format, {"bgr888", "yuv420", "gray8"});
    s.addDouble("camera.fps", &c->camera.fps, 1, 240);
    s.addUnsigned("camera.buffers", &c->camera.buffers, 0, 4096);
    s.addDouble("camera.stall_ms", &c->camera.stallMs, 50, 600000);
    s.addDouble("camera.pre_trigger_s", &c->camera.preTriggerS, 0.5, 30);
    addCameraCalibration(s, &c->camera.calibration);

    s.addBool("red_light.enabled", &c->redLight.enabled);
    s.addDouble("red_light.grace_s", &c->redLight.graceS, 0, 1.0);
    s.addDouble("red_light.min_yellow_s", &c->redLight.minYellowS, 0, 10);
    s.addDouble("red_light.min_speed_mph", &c->redLight.minSpeedMph, 0, 100);
    s.addDouble("red_light.qualified_s", &c->redLight.qualifiedS, 0, 10);
    s.addDouble("red_light.continuation_s", &c->redLight.continuationS, 0.5, 30);
    s.addDouble("red_light.max_start_accel_mps2", &c->redLight.maxStartAccelMps2, 0.5, 10);
    s.addDouble("red_light.b_shot_delay_s", &c->redLight.bShotDelayS, 0.1, 5);
    s.addDouble("red_light.clip_before_s", &c->redLight.clipBeforeS, 0, 10);
    s.addDouble("red_light.clip_after_s", &c->redLight.clipAfterS, 0, 10);
    s.addString("red_light.statute", &c->redLight.statute);
    s.addString("red_light.statute_description", &c->redLight.statuteDescription);
    s.addTableArray("red_light.lanes", [c](std::size_t) {
        c->redLight.lanes.emplace_back();
        DaemonConfig::RedLane &l = c->redLight.lanes.back();
        ConfigSchema e;
        e.addString("approach", &l.approach);
        e.addInt("lane", &l.lane, 1, 16);
        e.addString("head", &l.head);
        e.addString("entry_loop", &l.entryLoop);
        e.addString("exit_loop", &l.exitLoop);
        e.addDouble("stop_line_from_entry_m", &l.stopLineFromEntryM, 0, 100);
        e.addBool("right_turn", &l.rightTurn);
        e.addChoice("turn_policy", &l.turnPolicy, {"cite", "cite_unless_stopped", "never"});
        e.addDouble("min_speed_mph", &l.minSpeedMph, 0, 100);
        e.addBool("radar_track", &l.radarTrack);
        for (const char *k : {"approach", "lane", "head", "stop_line_from_entry_m"})
            e.require(k);
        return e;
    });

    s.addBool("school_zone.enabled", &c->schoolZone.enabled);
    s.addDouble("school_zone.limit", &c->schoolZone.limit, 1, 200);
    s.addDouble("school_zone.threshold_over", &c->schoolZone.thresholdOver, 0, 50);
    s.addChoice("school_zone.unit", &c->schoolZone.unit, {"mph", "kmh"});
    s.addDouble("school_zone.cosine_angle_deg", &c->schoolZone.cosineAngleDeg, 0, 45);
    s.addDouble("school_zone.max_spread", &c->schoolZone.maxSpread, 0, 20);
    s.addString("school_zone.beacon", &c->schoolZone.beacon);
    s.addChoice("school_zone.direction", &c->schoolZone.direction, {"inbound", "outbound", "both"});
    s.addDouble("school_zone.self_check_max_age_min", &c->schoolZone.selfCheckMaxAgeMin, 1, 1440);
    s.addDouble("school_zone.track_gap_s", &c->schoolZone.trackGapS, 0.05, 5);
    s.addDouble("school_zone.pass_gap_s", &c->schoolZone.passGapS, 0.1, 30);
    s.addChoice("school_zone.multi_target", &c->schoolZone.multiTarget,
                {"discard_pass", "discard_reports"});
    s.addString("school_zone.statute", &c->schoolZone.statute);
    s.addString("school_zone.statute_description", &c->schoolZone.statuteDescription);
    s.addStringList("school_zone.windows", &c->schoolZone.windows);
    s.addStringList("school_zone.school_weekdays", &c->schoolZone.schoolWeekdays);
    s.addDouble("school_zone.b_shot_delay_s", &c->schoolZone.bShotDelayS, 0.1, 5);
    s.addDouble("school_zone.beam_far_m", &c->schoolZone.beamFarM, -500, 500,
                "far end of the radar's measuring stretch, metres along from the stop line");
    s.addDouble("school_zone.beam_near_m", &c->schoolZone.beamNearM, -500, 500);
    s.addDouble("school_zone.clip_before_s", &c->schoolZone.clipBeforeS, 0, 10);
    s.addDouble("school_zone.clip_after_s", &c->schoolZone.clipAfterS, 0, 10);
    s.addTableArray("school_zone.sessions", [c](std::size_t) {
        c->schoolZone.sessions.emplace_back();
        DaemonConfig::Session &x = c->schoolZone.sessions.back();
        ConfigSchema e;
        e.addCheckedString("first", &x.first, dateProblem);
        e.addCheckedString("last", &x.last, dateProblem);
        e.addString("name", &x.name);
        e.require("first");
        e.require("last");
        return e;
    });
    s.addTableArray("school_zone.no_school_days", [c](std::size_t) {
        c->schoolZone.noSchoolDays.emplace_back();
        DaemonConfig::NoSchoolDay &x = c->schoolZone.noSchoolDays.back();
        ConfigSchema e;
        e.addCheckedString("date", &x.date, dateProblem);
        e.addString("name", &x.name);
        e.require("date");
        return e;
    });

    s.addUnsigned("evidence.workers", &c->evidence.workers, 1, 16);
    s.addInt("evidence.worker_nice", &c->evidence.workerNice, 0, 19);
    s.addInt("evidence.shot_jpeg_quality", &c->evidence.shotJpegQuality, 10, 100);
    s.addDouble("evidence.clip_fps", &c->evidence.clipFps, 0, 120);
    s.addInt("evidence.clip_width", &c->evidence.clipWidth, 0, 10000);
    s.addInt("evidence.clip_jpeg_quality", &c->evidence.clipJpegQuality, 10, 100);
    s.addDouble("evidence.max_shot_offset_ms", &c->evidence.maxShotOffsetMs, 1, 5000);

    s.addDouble("spool.capacity_mb", &c->spool.capacityMb, 0.1, 1e7);
    s.addDouble("spool.reserve_mb", &c->spool.reserveMb, 0, 1e5);

    s.addBool("upload.enabled", &c->upload.enabled);
    s.addString("upload.url", &c->upload.url, "http(s)://host:port of the back-office");
    s.addString("upload.ca_file", &c->upload.caFile);
    s.addString("upload.client_cert", &c->upload.clientCert);
    s.addString("upload.client_key", &c->upload.clientKey);
    s.addString("upload.token", &c->upload.token);
    s.addString("upload.token_file", &c->upload.tokenFile);
    s.addString("upload.server_key", &c->upload.serverKey, "the back-office's server.pub");
    s.addDouble("upload.heartbeat_s", &c->upload.heartbeatS, 0.2, 86400);
    s.addDouble("upload.checkpoint_s", &c->upload.checkpointS, 1, 86400);
    s.addDouble("upload.backoff_base_ms", &c->upload.backoffBaseMs, 10, 600000);
    s.addDouble("upload.backoff_max_s", &c->upload.backoffMaxS, 0.1, 86400);
    s.addDouble("upload.timeout_s", &c->upload.timeoutS, 0.5, 600);

    s.addBool("console.enabled", &c->console.enabled);
    s.addString("console.device", &c->console.device, "serial line of the technician console");
    s.addUnsigned("console.baud", &c->console.baud, 1200, 4000000);
    s.addInt("console.max_failures", &c->console.maxFailures, 1, 100);
    s.addDouble("console.lockout_s", &c->console.lockoutS, 1, 86400);
    s.addDouble("console.idle_logout_s", &c->console.idleLogoutS, 10, 86400);
    s.addTableArray("console.users", [c](std::size_t) {
        c->console.users.emplace_back();
        DaemonConfig::ConsoleUser &u = c->console.users.back();
        ConfigSchema e;
        e.addString("name", &u.name);
        e.addCheckedString("password_hash", &u.passwordHash,
                           [](const std::string &h) { return passwordHashProblem(h); });
        e.require("name");
        e.require("password_hash");
        return e;
    });
    return s;
}

namespace {

/* Cross-references and whole-configuration rules the per-key schema cannot see. */
void checkWhole(const DaemonConfig &c, const toml::table &doc, const std::string &source,
                std::vector<ConfigError> *errors)
{
    auto err = [&](const std::string &key, const std::string &message) {
        errors->push_back({source, lineOfPath(doc, key), key, message});
    };
    std::set<std::string> lines;
    for (std::size_t i = 0; i < c.gpio.lines.size(); ++i) {
        const auto &l = c.gpio.lines[i];
        std::string key = "gpio.lines[" + std::to_string(i) + "]";
        if (!lines.insert(l.name).second)
            err(key + ".name", "line name '" + l.name + "' is used twice");
    }
    if (c.gpio.backend == "sim" && c.gpio.simSocket.empty())
        err("gpio.sim_socket", "the sim backend needs the simulator's socket path");
    auto needLine = [&](const std::string &key, const std::string &name, bool optional) {
        if (name.empty()) {
            if (!optional)
                err(key, "no GPIO line named");
            return;
        }
        if (!lines.count(name))
            err(key, "'" + name + "' is not one of the [[gpio.lines]] names");
    };
    std::set<std::string> heads;
    for (std::size_t i = 0; i < c.signal.heads.size(); ++i) {
        const auto &h = c.signal.heads[i];
        std::string key = "signal.heads[" + std::to_string(i) + "]";
        if (!heads.insert(h.name).second)
            err(key + ".name", "head '" + h.name + "' is defined twice");
        needLine(key + ".red", h.red, true);
        needLine(key + ".yellow", h.yellow, true);
        needLine(key + ".green", h.green, true);
        if (h.red.empty() && h.yellow.empty() && h.green.empty())
            err(key, "head '" + h.name + "' has no lamp lines (red, yellow, green)");
    }
    for (std::size_t i = 0; i < c.signal.heads.size(); ++i)
        for (const std::string &other : c.signal.heads[i].conflicting)
            if (!heads.count(other))
                err("signal.heads[" + std::to_string(i) + "].conflicting",
                    "'" + other + "' is not a signal head");
    std::map<std::pair<std::string, long long>, const DaemonConfig::LoopLane *> loopLanes;
    for (std::size_t i = 0; i < c.loops.lanes.size(); ++i) {
        const auto &l = c.loops.lanes[i];
        std::string key = "loops.lanes[" + std::to_string(i) + "]";
        needLine(key + ".entry_loop", l.entryLoop, false);
        needLine(key + ".exit_loop", l.exitLoop, false);
        if (!loopLanes.emplace(std::make_pair(l.approach, l.lane), &l).second)
            err(key + ".lane", "lane " + std::to_string(l.lane) + " of approach '" + l.approach +
                                       "' is listed twice");
    }
    std::set<std::string> beacons;
    for (std::size_t i = 0; i < c.beacons.size(); ++i) {
        needLine("beacons[" + std::to_string(i) + "].line", c.beacons[i].line, false);
        beacons.insert(c.beacons[i].name);
    }
    for (auto [key, needed] :
         {std::pair{"red_light.clip_before_s", c.redLight.enabled ? c.redLight.clipBeforeS : 0.0},
          std::pair{"school_zone.clip_before_s",
                    c.schoolZone.enabled ? c.schoolZone.clipBeforeS : 0.0}})
        if (needed > c.camera.preTriggerS)
            err("camera.pre_trigger_s", num(c.camera.preTriggerS) +
                                                " s of frames cannot hold the " + num(needed) +
                                                " s before the event that " + key + " asks for");
    if (c.camera.backend != "libcamera" && c.camera.device.empty())
        err("camera.device", "the " + c.camera.backend + " camera needs a device");

    if (c.redLight.enabled) {
        if (c.redLight.lanes.empty())
            err("red_light.enabled", "red-light enforcement needs [[red_light.lanes]]");
        for (std::size_t i = 0; i < c.redLight.lanes.size(); ++i) {
            const auto &l = c.redLight.lanes[i];
            std::string key = "red_light.lanes[" + std::to_string(i) + "]";
            if (!heads.count(l.head))
                err(key + ".head", "'" + l.head + "' is not one of the [[signal.heads]]");
            auto it = loopLanes.find({l.approach, l.lane});
            if (it == loopLanes.end()) {
                err(key + ".lane", "no [[loops.lanes]] entry for approach '" + l.approach +
                                           "' lane " + std::to_string(l.lane));
                continue;
            }
            if (l.stopLineFromEntryM > it->second->spacingM)
                err(key + ".stop_line_from_entry_m",
                    num(l.stopLineFromEntryM) + " m is past the exit loop (loop spacing " +
                            num(it->second->spacingM) +
                            " m): the exit loop must be at or past "
                            "the stop line");
        }
        if (errors->empty()) {
            for (const std::string &problem : pipeline::validate(redLightConfig(c))) {
                /* "lanes[1].head: ..." -> red_light.lanes[1].head */
                std::size_t colon = problem.find(':');
                std::string field = colon == std::string::npos ? "" : problem.substr(0, colon);
                std::string key = "red_light" + (field.empty() ? "" : "." + field);
                err(key, colon == std::string::npos ? problem : problem.substr(colon + 2));
            }
        }
    }
    for (const std::string &problem :
         cameraCalibrationProblems(c.camera.calibration, c.camera.width, c.camera.height)) {
        const std::size_t colon = problem.find(':');
        err(problem.substr(0, colon), problem.substr(colon + 2));
    }
    if (c.schoolZone.enabled) {
        if (!c.radar.enabled)
            err("school_zone.enabled", "school-zone enforcement needs the radar (radar.enabled)");
        if (!c.schoolZone.beacon.empty() && !beacons.count(c.schoolZone.beacon))
            err("school_zone.beacon",
                "'" + c.schoolZone.beacon + "' is not one of the [[beacons]]");
        if (c.beacons.empty())
            err("school_zone.enabled", "school-zone enforcement needs a [[beacons]] entry");
        for (const std::string &w : c.schoolZone.windows)
            if (!pipeline::parseWindow(w))
                err("school_zone.windows", "'" + w + "' is not a window HH:MM-HH:MM");
        static const std::vector<std::string> days{"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
        for (const std::string &d : c.schoolZone.schoolWeekdays)
            if (std::find(days.begin(), days.end(), d) == days.end())
                err("school_zone.school_weekdays", "'" + d + "' is not one of sun, mon, ... sat");
        if (c.schoolZone.windows.empty())
            err("school_zone.windows", "no enforcement windows: the zone would never be enforced");
        if (c.schoolZone.sessions.empty())
            err("school_zone.sessions", "no [[school_zone.sessions]]: school is never in session");
        for (std::size_t i = 0; i < c.schoolZone.sessions.size(); ++i) {
            auto a = pipeline::parseDate(c.schoolZone.sessions[i].first);
            auto b = pipeline::parseDate(c.schoolZone.sessions[i].last);
            if (a && b && *b < *a)
                err("school_zone.sessions[" + std::to_string(i) + "].last",
                    "the session ends before it begins");
        }
        if (errors->empty())
            for (const std::string &problem : pipeline::validate(schoolZoneConfig(c))) {
                std::size_t colon = problem.find(':');
                std::string field = colon == std::string::npos ? "" : problem.substr(0, colon);
                err("school_zone" + (field.empty() ? "" : "." + field),
                    colon == std::string::npos ? problem : problem.substr(colon + 2));
            }
    }
    if (!c.redLight.enabled && !c.schoolZone.enabled)
        err("red_light.enabled", "neither red_light nor school_zone enforcement is enabled");
    if (c.upload.enabled) {
        if (c.upload.url.empty())
            err("upload.url", "uploads are enabled but no back-office URL is given");
        else if (c.upload.url.rfind("http://", 0) != 0 && c.upload.url.rfind("https://", 0) != 0)
            err("upload.url", "'" + c.upload.url + "' is not an http:// or https:// URL");
        else if (c.upload.url.rfind("https://", 0) == 0 && c.upload.caFile.empty())
            err("upload.ca_file", "an https back-office needs the CA its certificate chains to");
        if (c.upload.serverKey.empty())
            err("upload.server_key", "receipts cannot be checked without the back-office's key");
        if (c.upload.clientCert.empty() != c.upload.clientKey.empty())
            err(c.upload.clientCert.empty() ? "upload.client_cert" : "upload.client_key",
                "a client certificate needs both client_cert and client_key");
        if (!c.upload.token.empty() && !c.upload.tokenFile.empty())
            err("upload.token", "give token or token_file, not both");
    }
    if (c.spool.reserveMb >= c.spool.capacityMb)
        err("spool.reserve_mb", num(c.spool.reserveMb) + " MB reserve leaves nothing of the " +
                                        num(c.spool.capacityMb) + " MB spool for violations");
    if (c.console.enabled) {
        if (c.console.device.empty())
            err("console.device", "the console is enabled but no serial device is given");
        if (c.console.users.empty())
            err("console.users", "the console is enabled but has no [[console.users]]");
    }
}

} /* namespace */

LoadResult loadConfig(const std::string &path, const LayerOverrides &layers)
{
    LoadResult result;
    auto loaded = std::make_unique<LoadedConfig>();
    loaded->mainFile = path;
    loaded->schema = daemonSchema(&loaded->config);
    toml::table doc;
    if (!fs::exists(path)) {
        result.errors.push_back({path, 0, "", "no such configuration file"});
        return result;
    }
    try {
        doc = toml::parse_file(path);
    } catch (const toml::parse_error &e) {
        result.errors.push_back({path, static_cast<int>(e.source().begin.line), "",
                                 "TOML syntax error: " + std::string(e.description())});
        return result;
    }
    result.errors = loaded->schema.apply(doc, path);
    DaemonConfig &c = loaded->config;
    const fs::path base = fs::absolute(path).parent_path();
    for (std::string *p :
         {&c.device.keyFile, &c.device.stateDir, &c.gpio.simSocket, &c.upload.caFile,
          &c.upload.clientCert, &c.upload.clientKey, &c.upload.tokenFile, &c.upload.serverKey,
          &c.radar.device, &c.console.device})
        *p = resolvePath(*p, base);
    if (c.camera.backend == "sim")
        c.camera.device = resolvePath(c.camera.device, base);

    /* The console's layers, kept in the state folder (/etc is read-only in service). */
    if (!c.device.stateDir.empty()) {
        loaded->overridesFile = (fs::path(c.device.stateDir) / "overrides.toml").string();
        loaded->calibrationFile = (fs::path(c.device.stateDir) / "calibration.toml").string();
        if (layers.overridesText || fs::exists(loaded->overridesFile)) {
            try {
                toml::table over = layers.overridesText
                                           ? toml::parse(*layers.overridesText,
                                                         std::string_view(loaded->overridesFile))
                                           : toml::parse_file(loaded->overridesFile);
                std::vector<ConfigError> arrays;
                rejectTableArrays(over, "", loaded->overridesFile, &arrays);
                if (arrays.empty()) {
                    for (const char *fixed : {"device", "upload", "console"})
                        if (over.contains(fixed))
                            arrays.push_back(
                                    {loaded->overridesFile,
                                     static_cast<int>(over.get(fixed)->source().begin.line), fixed,
                                     "may only be set in the main file"});
                }
                if (arrays.empty())
                    arrays = loaded->schema.apply(over, loaded->overridesFile);
                result.errors.insert(result.errors.end(), arrays.begin(), arrays.end());
            } catch (const toml::parse_error &e) {
                result.errors.push_back({loaded->overridesFile,
                                         static_cast<int>(e.source().begin.line), "",
                                         "TOML syntax error: " + std::string(e.description())});
            }
        }
        Calibration cal;
        std::vector<ConfigError> calErrors;
        if (layers.calibration)
            cal = *layers.calibration;
        else
            calErrors = readCalibration(loaded->calibrationFile, &cal);
        result.errors.insert(result.errors.end(), calErrors.begin(), calErrors.end());
        if (calErrors.empty())
            applyCalibration(cal, &c);
        loaded->cameraCalibrationFile =
                (fs::path(c.device.stateDir) / "camera_calibration.toml").string();
        if (layers.cameraCalibrationText || fs::exists(loaded->cameraCalibrationFile)) {
            const std::string &file = loaded->cameraCalibrationFile;
            try {
                toml::table t = layers.cameraCalibrationText
                                        ? toml::parse(*layers.cameraCalibrationText,
                                                      std::string_view(file))
                                        : toml::parse_file(file);
                c.camera.calibration = {};
                ConfigSchema only;
                addCameraCalibration(only, &c.camera.calibration);
                std::vector<ConfigError> errors = only.apply(t, file);
                result.errors.insert(result.errors.end(), errors.begin(), errors.end());
            } catch (const toml::parse_error &e) {
                result.errors.push_back({file, static_cast<int>(e.source().begin.line), "",
                                         "TOML syntax error: " + std::string(e.description())});
            }
        }
    }
    std::vector<ConfigError> missing = loaded->schema.missingRequired(path);
    result.errors.insert(result.errors.end(), missing.begin(), missing.end());
    if (result.errors.empty())
        checkWhole(c, doc, path, &result.errors);
    if (result.errors.empty())
        result.loaded = std::move(loaded);
    return result;
}

std::vector<ConfigError> readCalibration(const std::string &path, Calibration *out)
{
    *out = {};
    if (!fs::exists(path))
        return {};
    double angle = -1;
    struct LaneText
    {
        std::string approach;
        long long lane = 0;
        double stopLine = -1, spacing = -1;
    };
    std::vector<LaneText> lanes;
    ConfigSchema s;
    s.addString("id", &out->id);
    s.addDouble("radar_angle_deg", &angle, 0, 45);
    s.addTableArray("lanes", [&lanes](std::size_t) {
        lanes.emplace_back();
        LaneText &l = lanes.back();
        ConfigSchema e;
        e.addString("approach", &l.approach);
        e.addInt("lane", &l.lane, 1, 16);
        e.addDouble("stop_line_from_entry_m", &l.stopLine, 0, 100);
        e.addDouble("loop_spacing_m", &l.spacing, 0.1, 100);
        e.require("approach");
        e.require("lane");
        return e;
    });
    std::vector<ConfigError> errors = s.applyFile(path);
    if (angle >= 0)
        out->radarAngleDeg = angle;
    for (const LaneText &l : lanes) {
        Calibration::Lane lane{l.approach, l.lane, std::nullopt, std::nullopt};
        if (l.stopLine >= 0)
            lane.stopLineFromEntryM = l.stopLine;
        if (l.spacing >= 0)
            lane.loopSpacingM = l.spacing;
        out->lanes.push_back(lane);
    }
    return errors;
}

std::string calibrationText(const Calibration &cal)
{
    std::string out = "# Written by stoplined when a technician calibrates through the console.\n"
                      "# Each change is also a sealed calibration record in the evidence chain.\n";
    out += "id = " + quote(cal.id) + "\n";
    if (cal.radarAngleDeg)
        out += "radar_angle_deg = " + num(*cal.radarAngleDeg) + "\n";
    for (const Calibration::Lane &l : cal.lanes) {
        out += "\n[[lanes]]\napproach = " + quote(l.approach) +
               "\nlane = " + std::to_string(l.lane) + "\n";
        if (l.stopLineFromEntryM)
            out += "stop_line_from_entry_m = " + num(*l.stopLineFromEntryM) + "\n";
        if (l.loopSpacingM)
            out += "loop_spacing_m = " + num(*l.loopSpacingM) + "\n";
    }
    return out;
}

void applyCalibration(const Calibration &cal, DaemonConfig *c)
{
    if (!cal.id.empty())
        c->site.calibrationId = cal.id;
    if (cal.radarAngleDeg)
        c->schoolZone.cosineAngleDeg = *cal.radarAngleDeg;
    for (const Calibration::Lane &l : cal.lanes) {
        if (l.stopLineFromEntryM)
            for (auto &r : c->redLight.lanes)
                if (r.approach == l.approach && r.lane == l.lane)
                    r.stopLineFromEntryM = *l.stopLineFromEntryM;
        if (l.loopSpacingM)
            for (auto &r : c->loops.lanes)
                if (r.approach == l.approach && r.lane == l.lane)
                    r.spacingM = *l.loopSpacingM;
    }
}

std::string overrideLine(const std::string &key, const std::string &value)
{
    try {
        toml::table t = toml::parse("v = " + value);
        (void)t;
        return key + " = " + value + "\n";
    } catch (const toml::parse_error &) {
        return key + " = " + quote(value) + "\n";
    }
}

std::string LoadedConfig::effectiveText() const
{
    const DaemonConfig &c = config;
    std::string out = schema.dump();
    /* dump() leaves arrays of tables out; they are part of the identity too. */
    for (const auto &l : c.gpio.lines)
        out += "\n[[gpio.lines]]\nname = " + quote(l.name) + "\nline = " + quote(l.line) +
               "\nactive_low = " + (l.activeLow ? "true" : "false") + "\nbias = " + quote(l.bias) +
               "\n";
    for (const auto &h : c.signal.heads)
        out += "\n[[signal.heads]]\nname = " + quote(h.name) + "\nred = " + quote(h.red) +
               "\nyellow = " + quote(h.yellow) + "\ngreen = " + quote(h.green) +
               "\nconflicting = " + list(h.conflicting) + "\n";
    for (const auto &l : c.loops.lanes)
        out += "\n[[loops.lanes]]\napproach = " + quote(l.approach) +
               "\nlane = " + std::to_string(l.lane) + "\nentry_loop = " + quote(l.entryLoop) +
               "\nexit_loop = " + quote(l.exitLoop) + "\nspacing_m = " + num(l.spacingM) + "\n" +
               (l.entryLengthM > 0 ? "entry_length_m = " + num(l.entryLengthM) + "\n" : "") +
               (l.exitLengthM > 0 ? "exit_length_m = " + num(l.exitLengthM) + "\n" : "");
    for (const auto &b : c.beacons)
        out += "\n[[beacons]]\nname = " + quote(b.name) + "\nline = " + quote(b.line) + "\n";
    for (const auto &l : c.redLight.lanes)
        out += "\n[[red_light.lanes]]\napproach = " + quote(l.approach) +
               "\nlane = " + std::to_string(l.lane) + "\nhead = " + quote(l.head) +
               "\nentry_loop = " + quote(l.entryLoop) + "\nexit_loop = " + quote(l.exitLoop) +
               "\nstop_line_from_entry_m = " + num(l.stopLineFromEntryM) +
               "\nright_turn = " + (l.rightTurn ? "true" : "false") +
               "\nturn_policy = " + quote(l.turnPolicy) +
               "\nmin_speed_mph = " + num(l.minSpeedMph) +
               "\nradar_track = " + (l.radarTrack ? "true" : "false") + "\n";
    for (const auto &x : c.schoolZone.sessions)
        out += "\n[[school_zone.sessions]]\nfirst = " + quote(x.first) +
               "\nlast = " + quote(x.last) + "\nname = " + quote(x.name) + "\n";
    for (const auto &x : c.schoolZone.noSchoolDays)
        out += "\n[[school_zone.no_school_days]]\ndate = " + quote(x.date) +
               "\nname = " + quote(x.name) + "\n";
    for (const auto &u : c.console.users)
        out += "\n[[console.users]]\nname = " + quote(u.name) + "\n";
    return out;
}

hal::GpioConfig gpioConfig(const DaemonConfig &c)
{
    hal::GpioConfig g;
    g.backend = c.gpio.backend;
    g.chip = c.gpio.chip;
    g.simSocket = c.gpio.simSocket;
    g.consumer = c.gpio.consumer;
    for (const auto &l : c.gpio.lines) {
        hal::GpioLineConfig::Bias bias = hal::GpioLineConfig::Bias::AsIs;
        if (l.bias == "disable")
            bias = hal::GpioLineConfig::Bias::Disable;
        else if (l.bias == "pull_up")
            bias = hal::GpioLineConfig::Bias::PullUp;
        else if (l.bias == "pull_down")
            bias = hal::GpioLineConfig::Bias::PullDown;
        g.lines.push_back({l.name, l.line.empty() ? l.name : l.line, l.activeLow, bias});
    }
    return g;
}

drivers::PhaseDecoderConfig phaseDecoderConfig(const DaemonConfig &c)
{
    drivers::PhaseDecoderConfig d;
    for (const auto &h : c.signal.heads)
        d.heads.push_back({h.name, h.red, h.yellow, h.green});
    d.debounceNs = static_cast<Nanos>(c.signal.debounceMs * kNanosPerMilli);
    d.flashMaxPeriodNs = static_cast<Nanos>(c.signal.flashMaxPeriodS * kNanosPerSecond);
    return d;
}

drivers::LoopTrackerConfig loopTrackerConfig(const DaemonConfig &c)
{
    drivers::LoopTrackerConfig d;
    for (const auto &l : c.loops.lanes)
        d.lanes.push_back({l.approach, static_cast<unsigned>(l.lane), l.entryLoop, l.exitLoop,
                           l.spacingM, l.entryLengthM, l.exitLengthM});
    d.debounceNs = static_cast<Nanos>(c.loops.debounceMs * kNanosPerMilli);
    d.maxTravelNs = static_cast<Nanos>(c.loops.maxTravelS * kNanosPerSecond);
    return d;
}

drivers::BeaconDetectorConfig beaconConfig(const DaemonConfig &c)
{
    drivers::BeaconDetectorConfig d;
    for (const auto &b : c.beacons)
        d.beacons.push_back({b.name, b.line});
    return d;
}

drivers::SpeedUnit speedUnit(const std::string &name)
{
    if (name == "kmh")
        return drivers::SpeedUnit::Kmh;
    if (name == "mps")
        return drivers::SpeedUnit::MetersPerSecond;
    if (name == "fps")
        return drivers::SpeedUnit::FeetPerSecond;
    if (name == "cmps")
        return drivers::SpeedUnit::CentimetersPerSecond;
    return drivers::SpeedUnit::Mph;
}

hal::SerialConfig radarSerialConfig(const DaemonConfig &c)
{
    hal::SerialConfig s;
    s.device = c.radar.device;
    s.baud = c.radar.baud;
    return s;
}

drivers::radar::Ops243DriverConfig radarConfig(const DaemonConfig &c)
{
    drivers::radar::Ops243DriverConfig r;
    r.unit = speedUnit(c.radar.unit);
    r.targets = c.radar.targets;
    r.referenceToleranceMph = c.radar.referenceToleranceMph;
    r.periodicCheckNs = static_cast<Nanos>(c.radar.periodicCheckMin * 60 * kNanosPerSecond);
    return r;
}

hal::CameraConfig cameraConfig(const DaemonConfig &c)
{
    hal::CameraConfig k;
    k.backend = c.camera.backend;
    k.device = c.camera.device;
    k.width = static_cast<int>(c.camera.width);
    k.height = static_cast<int>(c.camera.height);
    k.format = c.camera.format == "yuv420"  ? hal::PixelFormat::YUV420
               : c.camera.format == "gray8" ? hal::PixelFormat::GRAY8
                                            : hal::PixelFormat::BGR888;
    k.fps = c.camera.fps;
    k.buffers = c.camera.buffers;
    return k;
}

namespace {

pipeline::CaptureTiming timing(double bShotS, double beforeS, double afterS)
{
    pipeline::CaptureTiming t;
    t.bShotDelayNs = static_cast<Nanos>(bShotS * kNanosPerSecond);
    t.clipBeforeNs = static_cast<Nanos>(beforeS * kNanosPerSecond);
    t.clipAfterNs = static_cast<Nanos>(afterS * kNanosPerSecond);
    return t;
}

} /* namespace */

pipeline::RedLightConfig redLightConfig(const DaemonConfig &c)
{
    pipeline::RedLightConfig r;
    const auto &x = c.redLight;
    r.graceNs = static_cast<Nanos>(x.graceS * kNanosPerSecond);
    r.minYellowNs = static_cast<Nanos>(x.minYellowS * kNanosPerSecond);
    r.minSpeedMph = x.minSpeedMph;
    r.qualifiedNs = static_cast<Nanos>(x.qualifiedS * kNanosPerSecond);
    r.continuationWindowNs = static_cast<Nanos>(x.continuationS * kNanosPerSecond);
    r.maxStartAccelMps2 = x.maxStartAccelMps2;
    /* No decision before the decoder could have recognised a fault begun at the crossing. */
    r.signalSettleNs = drivers::faultRecognitionLatency(phaseDecoderConfig(c));
    r.capture = timing(x.bShotDelayS, x.clipBeforeS, x.clipAfterS);
    /* A long car's 6.5 m plus where the calibration takes the B-shot. */
    r.capture.searchTravelM = 6.5 + c.camera.calibration.bShotRearPastLineM;
    for (const auto &h : c.signal.heads)
        r.heads.push_back({h.name, h.conflicting});
    for (const auto &l : x.lanes) {
        pipeline::LaneConfig lane;
        lane.approach = l.approach;
        lane.lane = static_cast<unsigned>(l.lane);
        lane.head = l.head;
        lane.entryLoop = l.entryLoop;
        lane.exitLoop = l.exitLoop;
        for (const auto &loop : c.loops.lanes)
            if (loop.approach == l.approach && loop.lane == l.lane) {
                if (lane.entryLoop.empty())
                    lane.entryLoop = loop.entryLoop;
                if (lane.exitLoop.empty())
                    lane.exitLoop = loop.exitLoop;
            }
        lane.stopLineFromEntryM = l.stopLineFromEntryM;
        lane.rightTurn = l.rightTurn;
        lane.turnPolicy =
                pipeline::parseTurnPolicy(l.turnPolicy).value_or(pipeline::TurnPolicy::Cite);
        lane.minSpeedMph = l.minSpeedMph;
        lane.radarTrack = l.radarTrack;
        r.lanes.push_back(lane);
    }
    return r;
}

pipeline::SchoolZoneConfig schoolZoneConfig(const DaemonConfig &c)
{
    pipeline::SchoolZoneConfig s;
    const auto &x = c.schoolZone;
    s.limit = x.limit;
    s.thresholdOver = x.thresholdOver;
    s.unit = speedUnit(x.unit);
    s.cosineAngleDeg = x.cosineAngleDeg;
    s.maxSpread = x.maxSpread;
    s.selfCheckMaxAgeNs = static_cast<Nanos>(x.selfCheckMaxAgeMin * 60 * kNanosPerSecond);
    s.trackGapNs = static_cast<Nanos>(x.trackGapS * kNanosPerSecond);
    s.passGapNs = static_cast<Nanos>(x.passGapS * kNanosPerSecond);
    s.multiTarget = pipeline::parseMultiTargetPolicy(x.multiTarget)
                            .value_or(pipeline::MultiTargetPolicy::DiscardPass);
    s.direction = x.direction == "outbound" ? pipeline::TravelDirection::Outbound
                  : x.direction == "both"   ? pipeline::TravelDirection::Both
                                            : pipeline::TravelDirection::Inbound;
    s.beacon = x.beacon;
    s.capture = timing(x.bShotDelayS, x.clipBeforeS, x.clipAfterS);
    s.beamFarM = x.beamFarM;
    s.beamNearM = x.beamNearM;
    if (!c.camera.calibration.points.empty()) {
        s.photoZoneFromM = c.camera.calibration.speedZone.fromM;
        s.photoZoneToM = c.camera.calibration.speedZone.toM;
    }
    static const std::vector<std::string> days{"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
    s.calendar.schoolWeekdays.fill(false);
    for (const std::string &d : x.schoolWeekdays) {
        auto it = std::find(days.begin(), days.end(), d);
        if (it == days.end())
            throw std::invalid_argument("school_weekdays: '" + d + "' is not a weekday");
        s.calendar.schoolWeekdays[it - days.begin()] = true;
    }
    for (const std::string &w : x.windows) {
        auto window = pipeline::parseWindow(w);
        if (!window)
            throw std::invalid_argument("windows: '" + w + "' is not HH:MM-HH:MM");
        s.calendar.windows.push_back(*window);
    }
    for (const auto &session : x.sessions) {
        auto a = pipeline::parseDate(session.first), b = pipeline::parseDate(session.last);
        if (!a || !b)
            throw std::invalid_argument("sessions: bad date in '" + session.name + "'");
        s.calendar.sessions.push_back({*a, *b, session.name});
    }
    for (const auto &day : x.noSchoolDays) {
        auto d = pipeline::parseDate(day.date);
        if (!d)
            throw std::invalid_argument("no_school_days: bad date '" + day.date + "'");
        s.calendar.noSchoolDays.push_back({*d, day.name});
    }
    return s;
}

pipeline::EvidenceOptions evidenceOptions(const DaemonConfig &c)
{
    pipeline::EvidenceOptions o;
    o.shotJpegQuality = static_cast<int>(c.evidence.shotJpegQuality);
    o.clipFps = c.evidence.clipFps;
    o.clipWidth = static_cast<int>(c.evidence.clipWidth);
    o.clipJpegQuality = static_cast<int>(c.evidence.clipJpegQuality);
    o.maxShotOffsetNs = static_cast<Nanos>(c.evidence.maxShotOffsetMs * kNanosPerMilli);
    return o;
}

pipeline::SiteIdentity siteIdentity(const DaemonConfig &c, const std::string &configHash)
{
    pipeline::SiteIdentity s;
    s.deviceSerial = c.device.serial.empty() ? c.device.id : c.device.serial;
    s.location.set_code(c.site.locationCode);
    s.location.set_description(c.site.description);
    s.location.set_latitude(c.site.latitude);
    s.location.set_longitude(c.site.longitude);
    const std::string &d = c.site.direction;
    s.location.set_direction(d == "southbound"  ? evidence::SOUTHBOUND
                             : d == "eastbound" ? evidence::EASTBOUND
                             : d == "westbound" ? evidence::WESTBOUND
                                                : evidence::NORTHBOUND);
    s.redLightStatute = c.redLight.statute;
    s.redLightDescription = c.redLight.statuteDescription;
    s.speedStatute = c.schoolZone.statute;
    s.speedDescription = c.schoolZone.statuteDescription;
    s.calibrationId = c.site.calibrationId;
    s.configHash = configHash;
    return s;
}

} /* namespace stopline::firmware */

#include "firmware/stoplined/health.h"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace stopline::firmware {

namespace {

std::string ms(Nanos ns)
{
    return std::to_string(ns / kNanosPerMilli) + " ms";
}

std::string joined(const std::vector<std::string> &parts, const char *sep)
{
    std::string out;
    for (const std::string &p : parts)
        out += (out.empty() ? "" : sep) + p;
    return out;
}

void addUnique(std::vector<std::string> *v, const std::string &s)
{
    if (std::find(v->begin(), v->end(), s) == v->end())
        v->push_back(s);
}

} /* namespace */

std::string HealthAssessment::reason() const
{
    std::vector<std::string> all;
    for (const std::string &r : redLightReasons)
        addUnique(&all, r);
    for (const std::string &r : schoolZoneReasons)
        addUnique(&all, r);
    return joined(all, "; ");
}

std::string HealthAssessment::causes(bool redLight) const
{
    std::vector<std::string> failing;
    if (stopping)
        failing.push_back("stopping");
    if (redLight ? !signalOk : !radarOk)
        failing.push_back(redLight ? "signal" : "radar");
    if (!cameraOk)
        failing.push_back("camera");
    if (!calibrationOk)
        failing.push_back("calibration");
    if (!clockOk)
        failing.push_back("clock");
    if (!spoolOk)
        failing.push_back("spool");
    return joined(failing, ",");
}

HealthAssessment assessHealth(const HealthInputs &in, const HealthPolicy &policy)
{
    HealthAssessment a;
    a.stopping = in.stopping;

    if (!in.gpioError.empty()) {
        a.signalOk = false;
        a.signalDetail = "signal sensing lost: " + in.gpioError;
    } else if (!in.signalFaults.empty()) {
        a.signalOk = false;
        a.signalDetail = "signal sensing fault: " + joined(in.signalFaults, ", ");
    }

    if (!in.cameraError.empty()) {
        a.cameraOk = false;
        a.cameraDetail = "camera stopped: " + in.cameraError;
    } else {
        Nanos since = in.lastFrameNs ? in.lastFrameNs : in.cameraStartNs;
        if (in.now - since > policy.cameraStallNs) {
            a.cameraOk = false;
            a.cameraDetail = in.lastFrameNs ? "camera stalled: no frame for " + ms(in.now - since)
                                            : "camera stalled: no frame since start (" +
                                                      ms(in.now - since) + ")";
        }
    }

    if (!in.calibrationProblem.empty()) {
        a.calibrationOk = false;
        a.calibrationDetail = "camera not calibrated: " + in.calibrationProblem;
    }

    if (in.radarEnabled) {
        if (!in.radarError.empty()) {
            a.radarOk = false;
            a.radarDetail = "radar failed: " + in.radarError;
        } else if (in.lastCheckPassed && !*in.lastCheckPassed) {
            a.radarOk = false;
            a.radarDetail = "radar self-check failed";
        } else if (!in.lastPassedCheckNs) {
            a.radarOk = false;
            a.radarDetail = "radar self-check not yet passed";
        } else if (in.now - *in.lastPassedCheckNs > policy.selfCheckMaxAgeNs) {
            a.radarOk = false;
            a.radarDetail = "radar self-check stale: last passed " +
                            std::to_string((in.now - *in.lastPassedCheckNs) / kNanosPerSecond) +
                            " s ago";
        } else if (!in.radarSpeedValid) {
            a.radarOk = false;
            a.radarDetail = "radar speeds not valid";
        }
    }

    if (policy.requireSync) {
        if (!in.clock.synchronized) {
            a.clockOk = false;
            a.clockDetail = "clock unsynchronized (" + in.clock.source + ")";
        } else if (in.clock.maximumErrorNs > policy.maxClockErrorNs) {
            a.clockOk = false;
            a.clockDetail = "clock error " + ms(in.clock.maximumErrorNs) + " exceeds " +
                            ms(policy.maxClockErrorNs);
        }
    }

    if (in.spoolFull) {
        a.spoolOk = false;
        a.spoolDetail = "spool full: " + std::to_string(in.spoolBytes) + " of " +
                        std::to_string(in.spoolCapacity) + " bytes awaiting upload";
    }

    auto common = [&](std::vector<std::string> *reasons) {
        if (in.stopping)
            reasons->push_back("stopping");
        if (!a.cameraOk)
            reasons->push_back(a.cameraDetail);
        if (!a.calibrationOk)
            reasons->push_back(a.calibrationDetail);
        if (!a.clockOk)
            reasons->push_back(a.clockDetail);
        if (!a.spoolOk)
            reasons->push_back(a.spoolDetail);
    };
    if (policy.redLight) {
        if (!a.signalOk)
            a.redLightReasons.push_back(a.signalDetail);
        common(&a.redLightReasons);
    }
    if (policy.schoolZone) {
        if (!a.radarOk)
            a.schoolZoneReasons.push_back(a.radarDetail);
        common(&a.schoolZoneReasons);
    }

    if (!a.spoolOk)
        a.alarms.push_back("spool.full");
    if (!a.signalOk && policy.redLight)
        a.alarms.push_back("signal.fault");
    if (!a.cameraOk)
        a.alarms.push_back("camera.stalled");
    if (!a.calibrationOk && (policy.redLight || policy.schoolZone))
        a.alarms.push_back("camera.uncalibrated");
    if (!a.radarOk && policy.schoolZone && in.lastCheckPassed && !*in.lastCheckPassed)
        a.alarms.push_back("radar.self_check_failed");
    if (!a.clockOk)
        a.alarms.push_back("clock.unsynchronized");
    return a;
}

std::string heartbeatJson(const HealthAssessment &h, const HeartbeatFacts &f)
{
    using Json = nlohmann::json;
    Json j;
    j["device_id"] = f.deviceId;
    j["time_utc_ns"] = f.timeUtcNs;
    j["software_version"] = f.softwareVersion;
    j["uptime_s"] = static_cast<std::int64_t>(f.uptimeS);
    j["signal_sensing"] = {{"ok", h.signalOk}, {"detail", h.signalDetail}};
    Json radar = {{"ok", h.radarOk}, {"detail", h.radarDetail}};
    if (f.lastSelfCheckUtcNs)
        radar["last_self_check_utc_ns"] = *f.lastSelfCheckUtcNs;
    j["radar"] = radar;
    j["camera"] = {{"ok", h.cameraOk}, {"fps", f.cameraFps}, {"detail", h.cameraDetail}};
    j["camera_calibration"] = {{"ok", h.calibrationOk}, {"detail", h.calibrationDetail}};
    j["spool"] = {{"depth", f.spoolDepth},
                  {"bytes", f.spoolBytes},
                  {"capacity_bytes", f.spoolCapacity},
                  {"full", !h.spoolOk}};
    j["disk_free_bytes"] = f.diskFreeBytes;
    j["clock"] = {{"synchronized", f.clock.synchronized},
                  {"estimated_error_us", f.clock.estimatedErrorNs / 1000},
                  {"maximum_error_us", f.clock.maximumErrorNs / 1000},
                  {"ok", h.clockOk}};
    j["enforcement"] = {{"suspended", h.suspended()},
                        {"reason", h.reason()},
                        {"red_light_suspended", h.redLightSuspended()},
                        {"school_zone_suspended", h.schoolZoneSuspended()}};
    Json alarms = Json::array();
    for (const std::string &a : h.alarms)
        alarms.push_back(a);
    if (!f.uploadAlarm.empty())
        alarms.push_back("upload.refused");
    j["alarms"] = alarms;
    j["upload"] = {{"alarm", f.uploadAlarm},
                   {"last_error", f.uploadError},
                   {"uploaded", f.uploaded},
                   {"captured", f.captured}};
    return j.dump();
}

} /* namespace stopline::firmware */

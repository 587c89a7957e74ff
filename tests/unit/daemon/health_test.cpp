/* Enforcement preconditions: which rule is suspended for which failing input, with the
 * reason a person reads, and the heartbeat body the back-office accepts (backoffice/API.md
 * field names and JSON types). Also the daemon's log line format. */
#include "firmware/stoplined/health.h"
#include "firmware/stoplined/log.h"

#include <regex>

#include <nlohmann/json.hpp>

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::firmware;
using Json = nlohmann::json;

namespace {

constexpr Nanos kS = kNanosPerSecond;
constexpr Nanos kMs = kNanosPerMilli;

HealthPolicy bothRules()
{
    HealthPolicy p;
    p.redLight = true;
    p.schoolZone = true;
    p.requireSync = true;
    p.maxClockErrorNs = 100 * kMs;
    p.cameraStallNs = 2 * kS;
    p.selfCheckMaxAgeNs = 15 * 60 * kS;
    return p;
}

/* Everything healthy, at t = 1000 s. */
HealthInputs healthy()
{
    HealthInputs in;
    in.now = 1000 * kS;
    in.cameraStartNs = 900 * kS;
    in.lastFrameNs = in.now - 60 * kMs;
    in.radarEnabled = true;
    in.radarSpeedValid = true;
    in.lastPassedCheckNs = in.now - 60 * kS;
    in.lastCheckPassed = true;
    in.clock.synchronized = true;
    in.clock.maximumErrorNs = 20 * kMs;
    in.clock.source = "adjtimex";
    return in;
}

bool has(const std::vector<std::string> &v, const std::string &needle)
{
    for (const std::string &s : v)
        if (s.find(needle) != std::string::npos)
            return true;
    return false;
}

} /* namespace */

TEST_GROUP(Health){};

TEST(Health, AllWellEnforcesBoth)
{
    HealthAssessment a = assessHealth(healthy(), bothRules());
    CHECK_FALSE(a.suspended());
    STRCMP_EQUAL("", a.reason().c_str());
    LONGS_EQUAL(0, a.alarms.size());
}

TEST(Health, SignalFaultSuspendsOnlyRedLight)
{
    HealthInputs in = healthy();
    in.signalFaults.push_back("NB conflict (red and green)");
    HealthAssessment a = assessHealth(in, bothRules());
    CHECK(a.redLightSuspended());
    CHECK_FALSE(a.schoolZoneSuspended());
    STRCMP_EQUAL("signal sensing fault: NB conflict (red and green)", a.reason().c_str());
    CHECK(has(a.alarms, "signal.fault"));

    in = healthy();
    in.gpioError = "simulator hung up";
    a = assessHealth(in, bothRules());
    CHECK(a.redLightSuspended());
    STRCMP_EQUAL("signal sensing lost: simulator hung up", a.reason().c_str());
}

TEST(Health, CameraStallSuspendsBothAfterTheThresholdOnly)
{
    HealthInputs in = healthy();
    in.lastFrameNs = in.now - 1900 * kMs;
    CHECK_FALSE(assessHealth(in, bothRules()).suspended());
    in.lastFrameNs = in.now - 2500 * kMs;
    HealthAssessment a = assessHealth(in, bothRules());
    CHECK(a.redLightSuspended() && a.schoolZoneSuspended());
    STRCMP_EQUAL("camera stalled: no frame for 2500 ms", a.reason().c_str());
    CHECK(has(a.alarms, "camera.stalled"));
    /* The causes, which decide when the log reports a suspension, do not change as the
     * stall goes on (the defect: a log line every 200 ms). */
    STRCMP_EQUAL("camera", a.causes(true).c_str());
    in.lastFrameNs = in.now - 2700 * kMs;
    STRCMP_EQUAL(a.causes(true).c_str(), assessHealth(in, bothRules()).causes(true).c_str());
    STRCMP_EQUAL("", assessHealth(healthy(), bothRules()).causes(false).c_str());

    /* No frame at all since the camera started. */
    in.lastFrameNs = 0;
    in.cameraStartNs = in.now - 3 * kS;
    CHECK(has(assessHealth(in, bothRules()).redLightReasons, "no frame since start"));
    in.cameraStartNs = in.now - 1 * kS; /* still starting: give it the threshold */
    CHECK_FALSE(assessHealth(in, bothRules()).suspended());
}

TEST(Health, RadarSelfCheckFailedOrStaleSuspendsOnlySpeed)
{
    HealthInputs in = healthy();
    in.lastCheckPassed = false;
    HealthAssessment a = assessHealth(in, bothRules());
    CHECK(a.schoolZoneSuspended());
    CHECK_FALSE(a.redLightSuspended());
    STRCMP_EQUAL("radar self-check failed", a.reason().c_str());
    CHECK(has(a.alarms, "radar.self_check_failed"));

    in = healthy();
    in.lastPassedCheckNs = in.now - 16 * 60 * kS;
    a = assessHealth(in, bothRules());
    CHECK(a.schoolZoneSuspended());
    STRCMP_EQUAL("radar self-check stale: last passed 960 s ago", a.reason().c_str());

    in = healthy();
    in.lastPassedCheckNs.reset();
    in.lastCheckPassed.reset();
    CHECK(has(assessHealth(in, bothRules()).schoolZoneReasons, "not yet passed"));
}

TEST(Health, ClockRequirementFollowsThePolicy)
{
    HealthInputs in = healthy();
    in.clock.synchronized = false;
    HealthAssessment a = assessHealth(in, bothRules());
    CHECK(a.redLightSuspended() && a.schoolZoneSuspended());
    STRCMP_EQUAL("clock unsynchronized (adjtimex)", a.reason().c_str());

    in = healthy();
    in.clock.maximumErrorNs = 250 * kMs;
    STRCMP_EQUAL("clock error 250 ms exceeds 100 ms",
                 assessHealth(in, bothRules()).reason().c_str());

    /* The simulator's configuration says it does not need sync. */
    HealthPolicy relaxed = bothRules();
    relaxed.requireSync = false;
    in.clock.synchronized = false;
    CHECK_FALSE(assessHealth(in, relaxed).suspended());
}

TEST(Health, SpoolFullSuspendsWithAnAlarm)
{
    HealthInputs in = healthy();
    in.spoolFull = true;
    in.spoolBytes = 1900000;
    in.spoolCapacity = 2000000;
    HealthAssessment a = assessHealth(in, bothRules());
    CHECK(a.redLightSuspended() && a.schoolZoneSuspended());
    STRCMP_EQUAL("spool full: 1900000 of 2000000 bytes awaiting upload", a.reason().c_str());
    CHECK(has(a.alarms, "spool.full"));
}

TEST(Health, ReasonsAreListedOnceEach)
{
    HealthInputs in = healthy();
    in.spoolFull = true;
    in.clock.synchronized = false;
    in.signalFaults.push_back("NB dark");
    HealthAssessment a = assessHealth(in, bothRules());
    LONGS_EQUAL(3, a.redLightReasons.size());
    LONGS_EQUAL(2, a.schoolZoneReasons.size());
    /* Distinct reasons, each once. */
    std::string r = a.reason();
    CHECK(r.find("signal sensing fault: NB dark") != std::string::npos);
    CHECK(r.find("clock unsynchronized") == r.rfind("clock unsynchronized"));
    CHECK(r.find("spool full") == r.rfind("spool full"));
}

TEST(Health, DisabledRulesAreNeverSuspended)
{
    HealthPolicy p = bothRules();
    p.schoolZone = false;
    HealthInputs in = healthy();
    in.radarEnabled = false;
    in.lastCheckPassed = false;
    HealthAssessment a = assessHealth(in, p);
    CHECK_FALSE(a.suspended());
}

TEST(Health, HeartbeatHasTheApiFieldsAndTypes)
{
    HealthInputs in = healthy();
    in.spoolFull = true;
    HealthAssessment a = assessHealth(in, bothRules());
    HeartbeatFacts f;
    f.deviceId = "dev-1";
    f.timeUtcNs = 1763900000000000000;
    f.softwareVersion = "0.1.0+test";
    f.uptimeS = 86400.7;
    f.lastSelfCheckUtcNs = 1763899000000000000;
    f.cameraFps = 14.9;
    f.spoolDepth = 3;
    f.spoolBytes = 612000;
    f.spoolCapacity = 2000000;
    f.diskFreeBytes = 12500000000ull;
    f.clock.synchronized = true;
    f.clock.estimatedErrorNs = 800000;
    f.clock.maximumErrorNs = 12000000;
    f.uploadAlarm = "record refused: HTTP 422";
    Json j = Json::parse(heartbeatJson(a, f));
    STRCMP_EQUAL("dev-1", j["device_id"].get<std::string>().c_str());
    CHECK(j["time_utc_ns"].is_number_integer());
    LONGS_EQUAL(86400, j["uptime_s"].get<long>());
    CHECK(j["signal_sensing"]["ok"].is_boolean());
    CHECK(j["signal_sensing"]["detail"].is_string());
    CHECK(j["radar"]["last_self_check_utc_ns"].is_number_integer());
    DOUBLES_EQUAL(14.9, j["camera"]["fps"].get<double>(), 1e-9);
    LONGS_EQUAL(3, j["spool"]["depth"].get<long>());
    CHECK(j["spool"]["capacity_bytes"].is_number_integer());
    CHECK(j["disk_free_bytes"].is_number_integer());
    LONGS_EQUAL(800, j["clock"]["estimated_error_us"].get<long>());
    LONGS_EQUAL(12000, j["clock"]["maximum_error_us"].get<long>());
    CHECK(j["enforcement"]["suspended"].get<bool>());
    CHECK(j["enforcement"]["reason"].get<std::string>().find("spool full") != std::string::npos);
    CHECK(j["alarms"].is_array());
    bool spoolAlarm = false, uploadAlarm = false;
    for (const Json &x : j["alarms"]) {
        spoolAlarm |= x == "spool.full";
        uploadAlarm |= x == "upload.refused";
    }
    CHECK(spoolAlarm && uploadAlarm);
}

TEST_GROUP(Log){};

TEST(Log, JournalLinesCarryThePriorityPrefix)
{
    std::string out;
    Logger log([&](std::string_view line) { out += line; });
    log.setJournal(true);
    log.notice("captured seq=7");
    log.debug("hidden at info");
    log.error("device: serial port '/dev/ttyACM0': cannot open");
    STRCMP_EQUAL("<5>captured seq=7\n<3>device: serial port '/dev/ttyACM0': cannot open\n",
                 out.c_str());
}

TEST(Log, TerminalLinesCarryATimeAndTheLevel)
{
    std::string out;
    Logger log([&](std::string_view line) { out += line; });
    log.setJournal(false);
    log.setLevel(LogLevel::Debug);
    log.warning("spool full");
    CHECK(std::regex_search(out, std::regex("^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} "
                                            "warning: spool full\n$")));
    CHECK(parseLogLevel("notice") == LogLevel::Notice);
    CHECK_FALSE(parseLogLevel("verbose").has_value());
}

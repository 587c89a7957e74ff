/* HIL (issue 6): a spool capped small (1.2 MB, 0.4 MB of it reserve: room for one
 * violation record) while the back-office is unreachable. After the first violation
 * enforcement suspends ("spool full"), later crossings are refused with
 * enforcement_suspended rather than captured and lost, and once the back-office is back
 * it sees heartbeats carrying the spool.full alarm; the spool drains, enforcement
 * resumes, later violations are captured, and everything captured arrives and verifies. */
#include <chrono>
#include <string>
#include <thread>

#include "daemon_hil.h"
#include "sim_process.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::hil;

namespace {
constexpr Nanos kS = kNanosPerSecond;

bool hasAlarm(const Json &body, const std::string &name)
{
    if (!body.contains("alarms"))
        return false;
    for (const Json &a : body["alarms"])
        if (a == name)
            return true;
    return false;
}
} /* namespace */

TEST_GROUP(DaemonSpoolFullHil){};

TEST(DaemonSpoolFullHil, SuspendsWithAnAlarmDropsNothingAndResumesOnceDrained)
{
    WorkDir work("daemon-spool-hil");
    BackOffice backoffice(work.path() / "backoffice");
    DaemonSetup setup = enrolledSetup(work.path(), backoffice, "HIL spool");
    /* Down again at once: the spool has to fill. Starting it once fixed the port the
     * configuration names. */
    backoffice.stop();
    setup.settings["spool"]["capacity_mb"] = "1.2";
    setup.settings["spool"]["reserve_mb"] = "0.4";
    /* Heartbeats every second; record retries back off to 3-6 s, so the back-office
     * sees the full spool in a heartbeat before the records drain it. */
    setup.settings["upload"]["heartbeat_s"] = "1";
    setup.settings["upload"]["backoff_base_ms"] = "3000";
    setup.settings["upload"]["backoff_max_s"] = "6";

    SimProcess sim("demo.toml", kSimWaitsForDaemon);
    setup.wires = sim.wires();
    Stoplined daemon(writeDaemonConfig(setup), work.path() / "stoplined.log");
    daemon.start();

    auto full = daemon.waitForLog("suspended: spool full", 0, 90 * kS);
    CHECK_TEXT(full.has_value(), ("never suspended for a full spool:\n" + daemon.log()).c_str());
    auto refused = daemon.waitForLog(": enforcement_suspended", *full, 60 * kS);
    CHECK_TEXT(refused.has_value(), "no crossing was refused while the spool was full");
    /* Stay down until two of the demo's red-light runners (17.5 s and 24.5 s) have
     * crossed while enforcement was suspended. */
    bool runnersPassed = waitUntil(
            [&] {
                for (const Json &c : sim.truth("crossing"))
                    if (c["plate"] == "5KDR221")
                        return true;
                return false;
            },
            90 * kS);
    CHECK(runnersPassed);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::size_t capturedWhileFull = daemon.captured().size();

    backoffice.start();
    bool sawFull = false, sawResumed = false;
    std::string lastBody;
    waitUntil(
            [&] {
                Json d = backoffice.device(setup.deviceId);
                if (d.is_null() || d["heartbeat"].is_null())
                    return false;
                const Json &body = d["heartbeat"]["body"];
                lastBody = body.dump();
                if (hasAlarm(body, "spool.full") && body["enforcement"]["suspended"] == true &&
                    body["enforcement"]["reason"].get<std::string>().find("spool full") !=
                            std::string::npos &&
                    body["spool"]["depth"].get<int>() >= 1)
                    sawFull = true;
                if (sawFull && !hasAlarm(body, "spool.full") &&
                    body["enforcement"]["suspended"] == false)
                    sawResumed = true;
                return sawResumed;
            },
            60 * kS);
    CHECK_TEXT(
            sawFull,
            ("the back-office never saw the spool.full alarm; last heartbeat " + lastBody).c_str());
    CHECK_TEXT(sawResumed, ("enforcement did not resume in a heartbeat: " + lastBody).c_str());

    LONGS_EQUAL_TEXT(0, sim.wait(120 * kS), sim.stderrText().c_str());
    bool drained = spoolDrains(work.path(), 60 * kS);
    int stopped = daemon.stop();
    std::string log = daemon.log();
    if (!drained || stopped != 0)
        work.keep();
    CHECK(drained);
    LONGS_EQUAL(0, stopped);
    CHECK_TEXT(log.find("NOT captured") == std::string::npos, "a sealed violation was lost");

    /* Resumed in the log, and violations captured after that. */
    std::size_t resumed = log.find("active (resumed)", *refused);
    CHECK_TEXT(resumed != std::string::npos, "no 'active (resumed)' after the suspension");
    std::vector<std::uint64_t> captured = daemon.captured();
    CHECK_TEXT(captured.size() > capturedWhileFull, "nothing was captured after the spool drained");

    /* Violations that happened while suspended were not captured (and not half-built
     * and lost either: nothing was started for them). */
    Expected expected = expectedViolations(sim.truth());
    CHECK_TEXT(captured.size() < expected.red.size() + expected.speed.size(),
               "every violation was captured: the spool never stopped enforcement");
    CHECK_TEXT(captured.size() >= capturedWhileFull + 2,
               "fewer than two violations captured after the spool drained");

    Arrived arrived = fetchArrived(backoffice, setup.deviceId);
    STRCMP_EQUAL("", arrived.problemText().c_str());
    LONGS_EQUAL(arrived.highestSeq + 1, static_cast<long>(arrived.records));
    for (std::uint64_t seq : captured)
        CHECK_TEXT(arrived.bySeq.count(seq) && arrived.bySeq.at(seq).has_violation(),
                   ("captured seq " + std::to_string(seq) + " did not arrive").c_str());
    std::string verify;
    int rc = backoffice.verifyStore(&verify);
    std::printf("\n%zu captured (%zu before the back-office came back)\n%s", captured.size(),
                capturedWhileFull, verify.c_str());
    LONGS_EQUAL_TEXT(0, rc, verify.c_str());
}

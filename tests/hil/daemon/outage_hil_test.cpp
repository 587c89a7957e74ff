/* HIL (issue 6): the back-office is down (kill -9) for 60 s while the demo scenario's
 * violations happen. The daemon keeps capturing into its spool, retries with backoff, and
 * once the back-office is back every violation arrives, exactly once, and verifies. */
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "daemon_hil.h"
#include "sim_process.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::hil;

namespace {
constexpr Nanos kS = kNanosPerSecond;
}

TEST_GROUP(DaemonOutageHil){};

TEST(DaemonOutageHil, AllArriveAfterSixtySecondsDownWithoutDuplicates)
{
    WorkDir work("daemon-outage-hil");
    BackOffice backoffice(work.path() / "backoffice");
    DaemonSetup setup = enrolledSetup(work.path(), backoffice, "HIL outage");

    SimProcess sim("demo.toml", kSimWaitsForDaemon);
    setup.wires = sim.wires();
    Stoplined daemon(writeDaemonConfig(setup), work.path() / "stoplined.log");
    daemon.start();

    /* Down as soon as the chain's first records are in: the demo's violations come
     * from 12 s to 49 s into the scenario, all inside the outage. */
    CHECK(daemon.waitForLog("uploaded seq=1 ", 0, 60 * kS).has_value());
    backoffice.kill9();
    Nanos downAt = monotonicNow();
    std::size_t peak = 0;
    while (monotonicNow() - downAt < 60 * kS) {
        std::size_t depth = 0;
        for ([[maybe_unused]] const auto &e :
             fs::directory_iterator(work.path() / "state/spool/records"))
            ++depth;
        peak = std::max(peak, depth);
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    std::printf("\nback-office down 60 s; the spool held up to %zu records\n", peak);
    CHECK_TEXT(peak >= 6, "the violations were not spooled during the outage");
    backoffice.start();

    LONGS_EQUAL_TEXT(0, sim.wait(120 * kS), sim.stderrText().c_str());
    bool drained = spoolDrains(work.path(), 90 * kS);
    int stopped = daemon.stop();
    std::string log = daemon.log();
    if (!drained || stopped != 0)
        work.keep();
    CHECK_TEXT(drained, "the spool did not drain once the back-office was back");
    LONGS_EQUAL(0, stopped);
    CHECK(log.find("upload: failing") != std::string::npos);
    CHECK(log.find("upload: back-office reachable again") != std::string::npos);

    Expected expected = expectedViolations(sim.truth());
    Arrived arrived = fetchArrived(backoffice, setup.deviceId);
    STRCMP_EQUAL("", arrived.problemText().c_str());
    LONGS_EQUAL(arrived.highestSeq + 1, static_cast<long>(arrived.records));

    std::map<std::string, int> cited;
    for (const auto &[seq, rec] : arrived.bySeq)
        if (rec.has_violation())
            ++cited[expected.plateOf(rec)];
    std::set<std::string> want = expected.red;
    want.insert(expected.speed.begin(), expected.speed.end());
    std::set<std::string> got;
    for (const auto &[plate, n] : cited) {
        LONGS_EQUAL_TEXT(1, n, ("'" + plate + "' arrived " + std::to_string(n) + " times").c_str());
        got.insert(plate);
    }
    STRCMP_EQUAL(joined(want).c_str(), joined(got).c_str());
    for (std::uint64_t seq : daemon.captured())
        CHECK_TEXT(arrived.bySeq.count(seq),
                   ("captured seq " + std::to_string(seq) + " did not arrive").c_str());

    std::string verify;
    int rc = backoffice.verifyStore(&verify);
    std::printf("%s", verify.c_str());
    LONGS_EQUAL_TEXT(0, rc, verify.c_str());
}

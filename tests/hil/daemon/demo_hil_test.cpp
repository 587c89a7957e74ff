/* HIL (issue 6): the real stoplined, configured from the shipped simulator example,
 * against stopline-sim playing the demo scenario and the real back-office. Every
 * violation the ground truth implies arrives exactly once, verifies, and the chain in
 * the back-office has no gaps; every record the daemon logged as captured is there. */
#include <map>
#include <set>
#include <string>

#include "daemon_hil.h"
#include "sim_process.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::hil;

TEST_GROUP(DaemonDemoHil){};

TEST(DaemonDemoHil, EveryGroundTruthViolationArrivesOnceAndVerifies)
{
    WorkDir work("daemon-demo-hil");
    BackOffice backoffice(work.path() / "backoffice");
    DaemonSetup setup = enrolledSetup(work.path(), backoffice, "HIL demo");

    SimProcess sim("demo.toml", kSimWaitsForDaemon);
    setup.wires = sim.wires();
    Stoplined daemon(writeDaemonConfig(setup), work.path() / "stoplined.log");
    daemon.start();

    LONGS_EQUAL_TEXT(0, sim.wait(180 * kNanosPerSecond), sim.stderrText().c_str());
    /* The last captures finish (continuation, B-shot, clip) and the spool drains. */
    bool drained = spoolDrains(work.path(), 60 * kNanosPerSecond);
    int stopped = daemon.stop();
    std::string log = daemon.log();
    if (!drained || stopped != 0)
        work.keep();
    CHECK_TEXT(drained, ("the spool did not drain:\n" + log).c_str());
    LONGS_EQUAL_TEXT(0, stopped, log.c_str());

    Expected expected = expectedViolations(sim.truth());
    CHECK_TEXT(expected.red.size() == 3 && expected.speed.size() == 3,
               ("the demo should imply 3 + 3 violations, got red {" + joined(expected.red) +
                "} speed {" + joined(expected.speed) + "}")
                       .c_str());

    Arrived arrived = fetchArrived(backoffice, setup.deviceId);
    STRCMP_EQUAL("", arrived.problemText().c_str());
    /* No gaps: the back-office holds seq 0..head, each once. */
    LONGS_EQUAL(arrived.highestSeq + 1, static_cast<long>(arrived.records));
    CHECK(arrived.bySeq.count(0) && arrived.bySeq.at(0).has_genesis());

    std::map<std::string, int> red, speed;
    std::string unmatched;
    bool selfCheck = false;
    for (const auto &[seq, rec] : arrived.bySeq) {
        selfCheck |=
                rec.has_self_check() && rec.self_check().kind() == evidence::SELF_CHECK_POWER_ON;
        if (!rec.has_violation())
            continue;
        std::string plate = expected.plateOf(rec);
        if (plate.empty())
            unmatched += " seq " + std::to_string(seq);
        else if (rec.violation().type() == evidence::RED_LIGHT)
            ++red[plate];
        else
            ++speed[plate];
    }
    CHECK_TEXT(selfCheck, "no power-on radar self-check record in the chain");
    STRCMP_EQUAL_TEXT("", unmatched.c_str(), "violation records matching no true violation");
    std::set<std::string> gotRed, gotSpeed;
    for (const auto &[p, n] : red) {
        LONGS_EQUAL_TEXT(1, n, ("red light cited " + std::to_string(n) + " times: " + p).c_str());
        gotRed.insert(p);
    }
    for (const auto &[p, n] : speed) {
        LONGS_EQUAL_TEXT(1, n, ("speed cited " + std::to_string(n) + " times: " + p).c_str());
        gotSpeed.insert(p);
    }
    STRCMP_EQUAL(joined(expected.red).c_str(), joined(gotRed).c_str());
    STRCMP_EQUAL(joined(expected.speed).c_str(), joined(gotSpeed).c_str());

    /* Every record the daemon called captured is in the back-office as a violation. */
    std::vector<std::uint64_t> captured = daemon.captured();
    LONGS_EQUAL(6, captured.size());
    for (std::uint64_t seq : captured)
        CHECK_TEXT(arrived.bySeq.count(seq) && arrived.bySeq.at(seq).has_violation(),
                   ("captured seq " + std::to_string(seq) + " is not in the back-office").c_str());

    /* The back-office re-verifies every stored record and the latest checkpoint. */
    std::string verify;
    int rc = backoffice.verifyStore(&verify);
    std::printf("%s", verify.c_str());
    LONGS_EQUAL_TEXT(0, rc, verify.c_str());
    CHECK(verify.find(setup.deviceId + ": " + std::to_string(arrived.records) +
                      " records, all verify") != std::string::npos);
    if (getenv("STOPLINE_HIL_VERBOSE"))
        std::printf("%s", log.c_str());
}

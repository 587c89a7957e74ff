/* HIL (issue 6): 30 `kill -9`s of stoplined at random moments while the simulator plays a
 * violation-heavy scenario (kill9.toml), each followed at once by a restart. A third of
 * the kills land at a random instant of the process's life, a third up to 4 s after a
 * violation was cited (evidence being built, sealed, fsynced, renamed), a third just after
 * one was logged as captured (upload and receipt in flight). Afterwards every violation
 * the daemon logged as captured is in the back-office exactly once, the chain there has
 * no gap, every stored record verifies (so no half record was accepted), and no vehicle
 * was cited twice. */
#include <chrono>
#include <map>
#include <random>
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
constexpr int kKills = 30;

void sleepFor(double seconds)
{
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<long long>(seconds * 1e6)));
}

} /* namespace */

TEST_GROUP(DaemonKill9Hil){};

TEST(DaemonKill9Hil, EveryCapturedViolationArrivesExactlyOnceAfterThirtyKills)
{
    WorkDir work("daemon-kill9-hil");
    BackOffice backoffice(work.path() / "backoffice");
    DaemonSetup setup = enrolledSetup(work.path(), backoffice, "HIL kill -9");
    /* Restarted daemons must reach the back-office again quickly. */
    setup.settings["upload"]["backoff_max_s"] = "2";
    setup.settings["upload"]["heartbeat_s"] = "2";

    SimProcess sim(std::string(DAEMON_HIL_DIR) + "/kill9.toml", kSimWaitsForDaemon);
    setup.wires = sim.wires();
    Stoplined daemon(writeDaemonConfig(setup), work.path() / "stoplined.log");

    unsigned seed = std::random_device{}();
    std::printf("\nkill -9 schedule seed %u\n", seed);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const Nanos scenarioEnd = monotonicNow() + 166 * kS; /* about: the sim waits for us */
    int kills = 0;
    std::map<std::string, int> kinds;
    std::size_t offset = 0;
    while (kills < kKills) {
        offset = daemon.log().size();
        daemon.start();
        std::optional<std::size_t> up = daemon.waitForLog("running as", offset, 60 * kS);
        CHECK_TEXT(up.has_value(),
                   ("stoplined did not start:\n" + daemon.log().substr(offset)).c_str());
        Nanos left = scenarioEnd - monotonicNow();
        int mode = static_cast<int>(rng() % 3);
        /* The kills must be done while the simulator still plays: the long waits (for a
         * citation, which is final about 5 s after its crossing, or a capture) only while
         * the time left allows them for the kills still to come. */
        if (left < 20 * kS || left < (kKills - kills) * 3 * kS)
            mode = 0;
        if (mode == 0) {
            sleepFor(0.2 + unit(rng) * (left < 20 * kS ? 0.8 : 3.8));
            ++kinds["random"];
        } else if (mode == 1) {
            /* A citation is final once the signal has had time to show a fault (about
             * 6.5 s after the crossing); evidence is built once the clip's last frame
             * arrived, then sealed and fsynced: somewhere in the next 4 s. */
            if (daemon.waitForLog("cited ", *up, 12 * kS))
                ++kinds["while sealing"];
            sleepFor(unit(rng) * 4.0);
        } else {
            if (daemon.waitForLog("captured seq=", *up, 12 * kS))
                ++kinds["while uploading"];
            sleepFor(unit(rng) * 0.3);
        }
        daemon.kill9();
        ++kills;
    }
    std::printf("%d kills: %d at random, %d just after a citation, %d just after a capture\n",
                kills, kinds["random"], kinds["while sealing"], kinds["while uploading"]);
    CHECK_TEXT(!sim.exited(), "the simulator ended before the 30 kills were done");

    /* The last life runs to the end of the scenario and drains the spool. */
    offset = daemon.log().size();
    daemon.start();
    CHECK(daemon.waitForLog("running as", offset, 60 * kS).has_value());
    LONGS_EQUAL_TEXT(0, sim.wait(300 * kS), sim.stderrText().c_str());
    bool drained = spoolDrains(work.path(), 90 * kS);
    int stopped = daemon.stop();
    std::string log = daemon.log();
    CHECK_TEXT(drained, "the spool did not drain after the last restart");
    LONGS_EQUAL(0, stopped);

    std::vector<std::uint64_t> captured = daemon.captured();
    std::printf("%zu violations logged as captured across %d lives\n", captured.size(), kills + 1);
    CHECK_TEXT(captured.size() >= 5, "too few captures to say anything");

    Arrived arrived = fetchArrived(backoffice, setup.deviceId);
    STRCMP_EQUAL("", arrived.problemText().c_str());
    LONGS_EQUAL(arrived.highestSeq + 1, static_cast<long>(arrived.records));

    std::set<std::uint64_t> seqs(captured.begin(), captured.end());
    LONGS_EQUAL_TEXT(captured.size(), seqs.size(), "a sequence number was logged captured twice");
    for (std::uint64_t seq : captured)
        CHECK_TEXT(arrived.bySeq.count(seq) && arrived.bySeq.at(seq).has_violation(),
                   ("captured seq " + std::to_string(seq) + " is not in the back-office").c_str());

    /* No vehicle twice, and every violation record is about a real violation. */
    Expected expected = expectedViolations(sim.truth());
    std::map<std::string, int> cited;
    std::string unmatched;
    std::size_t violations = 0;
    for (const auto &[seq, rec] : arrived.bySeq) {
        if (!rec.has_violation())
            continue;
        ++violations;
        std::string plate = expected.plateOf(rec);
        if (plate.empty() || (!expected.red.count(plate) && !expected.speed.count(plate)))
            unmatched += " seq " + std::to_string(seq) + (plate.empty() ? "" : " " + plate);
        else
            ++cited[plate];
    }
    STRCMP_EQUAL_TEXT("", unmatched.c_str(), "violation records matching no true violation");
    for (const auto &[plate, n] : cited)
        LONGS_EQUAL_TEXT(1, n, (plate + " is in the back-office more than once").c_str());
    /* Records sealed by a process killed before it could log them are fine (they are
     * durable and were uploaded); what was logged captured must all be there. */
    CHECK(violations >= captured.size());

    std::string verify;
    int rc = backoffice.verifyStore(&verify);
    std::printf("%s", verify.c_str());
    LONGS_EQUAL_TEXT(0, rc, verify.c_str());
    CHECK(verify.find("all verify") != std::string::npos);
    if (rc != 0 || !drained)
        work.keep();
}

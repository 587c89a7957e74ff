/* HIL (issue 6): the technician console on a pseudo-terminal, as a laptop on the
 * cabinet's serial port would use it, with the daemon attached to the simulator and the
 * real back-office: login with the configured password hash, lockout after repeated
 * failures (even the right password is refused while locked), an invalid `set` rejected
 * with a message naming the key and the range, a valid one saved to the overrides file,
 * and a fork test and a radar-angle calibration that appear in the back-office as
 * sealed records of the chain that verify. The same run checks what systemd sees: the
 * sd_notify messages (READY, WATCHDOG from the event loop, STATUS, STOPPING) on a fake
 * NOTIFY_SOCKET, journald priority prefixes when stderr is the journal's stream, and
 * SIGHUP re-reading the file (a broken file refused, the daemon running on). */
#include <atomic>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <mutex>
#include <poll.h>
#include <pty.h>
#include <regex>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

#include "daemon_hil.h"
#include "sim_process.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::hil;

namespace {

constexpr Nanos kS = kNanosPerSecond;

/* The laptop's end of the serial line. */
class Terminal
{
public:
    Terminal()
    {
        if (::openpty(&master_, &slave_, nullptr, nullptr, nullptr) != 0)
            throw std::runtime_error("openpty failed");
        path_ = ::ttyname(slave_);
        ::fcntl(master_, F_SETFL, ::fcntl(master_, F_GETFL) | O_NONBLOCK);
    }
    ~Terminal()
    {
        ::close(master_);
        ::close(slave_);
    }
    const std::string &path() const { return path_; }

    void type(const std::string &text) { (void)!::write(master_, text.data(), text.size()); }

    /* Reads until `needle` appears after the cursor; returns the text up to and including
     * it and moves the cursor past it, or throws with everything seen. */
    std::string expect(const std::string &needle, Nanos timeout = 30 * kS)
    {
        Nanos deadline = monotonicNow() + timeout;
        for (;;) {
            std::size_t at = seen_.find(needle, cursor_);
            if (at != std::string::npos) {
                std::string out = seen_.substr(cursor_, at + needle.size() - cursor_);
                cursor_ = at + needle.size();
                return out;
            }
            if (monotonicNow() > deadline)
                throw std::runtime_error("console: no '" + needle + "' in:\n" +
                                         seen_.substr(cursor_));
            pollfd p{master_, POLLIN, 0};
            if (::poll(&p, 1, 100) > 0) {
                char buf[4096];
                ssize_t n = ::read(master_, buf, sizeof buf);
                if (n > 0)
                    seen_.append(buf, static_cast<std::size_t>(n));
            }
        }
    }

    const std::string &transcript() const { return seen_; }

private:
    int master_ = -1, slave_ = -1;
    std::string path_;
    std::string seen_;
    std::size_t cursor_ = 0;
};

/* systemd's end of NOTIFY_SOCKET: a datagram socket read all the time (as systemd
 * does: a sender blocks once a few datagrams wait unread). */
class NotifySocket
{
public:
    explicit NotifySocket(const fs::path &path)
    {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
        if (::bind(fd_, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0)
            throw std::runtime_error("cannot bind " + path.string());
        reader_ = std::thread([this] {
            while (!done_) {
                pollfd p{fd_, POLLIN, 0};
                if (::poll(&p, 1, 100) <= 0)
                    continue;
                char buf[4096];
                ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
                if (n > 0) {
                    std::lock_guard<std::mutex> guard(lock_);
                    messages_.emplace_back(buf, static_cast<std::size_t>(n));
                }
            }
        });
    }
    ~NotifySocket()
    {
        done_ = true;
        reader_.join();
        ::close(fd_);
    }
    /* Messages that contain `assignment` as one of their lines' start. */
    std::size_t count(const std::string &assignment)
    {
        std::lock_guard<std::mutex> guard(lock_);
        std::size_t n = 0;
        for (const std::string &m : messages_)
            n += m.rfind(assignment, 0) == 0 || m.find("\n" + assignment) != std::string::npos;
        return n;
    }

private:
    int fd_ = -1;
    std::atomic<bool> done_{false};
    std::thread reader_;
    std::mutex lock_;
    std::vector<std::string> messages_;
};

} /* namespace */

TEST_GROUP(DaemonConsoleHil){};

TEST(DaemonConsoleHil, LoginLockoutSetAndSealedForkTestOverAPty)
{
    WorkDir work("daemon-console-hil");
    BackOffice backoffice(work.path() / "backoffice");
    DaemonSetup setup = enrolledSetup(work.path(), backoffice, "HIL console");

    std::string hash;
    LONGS_EQUAL(0, runCommand("echo 'fork-and-ladder' | " + std::string(STOPLINED_BIN) +
                                      " --hash-password",
                              &hash));
    hash.erase(hash.find_last_not_of("\r\n") + 1);
    Terminal term;
    setup.settings["console"]["enabled"] = "true";
    setup.settings["console"]["device"] = "\"" + term.path() + "\"";
    setup.settings["console"]["max_failures"] = "3";
    setup.settings["console"]["lockout_s"] = "4";
    setup.extra = "\n[[console.users]]\nname = \"tech\"\npassword_hash = \"" + hash + "\"\n";

    SimProcess sim("demo.toml", kSimWaitsForDaemon);
    setup.wires = sim.wires();
    fs::path config = writeDaemonConfig(setup);
    Stoplined daemon(config, work.path() / "stoplined.log");
    NotifySocket notify(work.path() / "notify.sock");
    std::ofstream(work.path() / "stoplined.log").close();
    struct stat logStat;
    ::stat((work.path() / "stoplined.log").c_str(), &logStat);
    daemon.env = {"NOTIFY_SOCKET=" + (work.path() / "notify.sock").string(),
                  "WATCHDOG_USEC=1000000",
                  "JOURNAL_STREAM=" + std::to_string(logStat.st_dev) + ":" +
                          std::to_string(logStat.st_ino)};
    daemon.start();

    try {
        term.expect("login: ", 60 * kS);
        /* Three wrong passwords lock the console; then even the right one is refused. */
        for (int i = 1; i <= 3; ++i) {
            term.type("tech\r");
            term.expect("password: ");
            term.type("wrong-" + std::to_string(i) + "\r");
            std::string answer = term.expect("login: ");
            CHECK_TEXT(answer.find(i < 3 ? "login incorrect\r\n" : "console locked for 4 s") !=
                               std::string::npos,
                       answer.c_str());
            CHECK(answer.find("wrong-") == std::string::npos); /* passwords are not echoed */
        }
        term.type("tech\rfork-and-ladder\r");
        std::string locked = term.expect("login: ");
        CHECK_TEXT(locked.find("console locked after repeated failures") != std::string::npos,
                   locked.c_str());
        std::this_thread::sleep_for(std::chrono::milliseconds(4500)); /* the lockout */
        term.type("tech\rfork-and-ladder\r");
        term.expect("welcome, tech.");
        term.expect("tech@stopline> ");

        /* An invalid set names the key and the range; nothing is saved. */
        term.type("set red_light.grace_s 9\r");
        std::string refused = term.expect("tech@stopline> ");
        CHECK_TEXT(refused.find("error: red_light.grace_s: 9.0 is out of range 0.0..1.0") !=
                           std::string::npos,
                   refused.c_str());
        CHECK_FALSE(fs::exists(work.path() / "state/overrides.toml"));
        term.type("set device.id someone-else\r");
        refused = term.expect("tech@stopline> ");
        CHECK_TEXT(refused.find("can only be changed in") != std::string::npos, refused.c_str());
        term.type("set red_ligth.grace_s 0.4\r");
        refused = term.expect("tech@stopline> ");
        CHECK_TEXT(refused.find("did you mean 'red_light.grace_s'") != std::string::npos,
                   refused.c_str());
        /* A valid one is saved (atomically) and applies. */
        term.type("set red_light.grace_s 0.4\r");
        CHECK(term.expect("tech@stopline> ").find("red_light.grace_s = 0.4 (saved)") !=
              std::string::npos);
        CHECK(slurp(work.path() / "state/overrides.toml").find("red_light.grace_s = 0.4\n") !=
              std::string::npos);

        /* The fork test's result is sealed into the chain, whatever it says. */
        term.type("forktest 35\r");
        term.expect("hold the fork in front of the radar...");
        std::string fork = term.expect("tech@stopline> ", 60 * kS);
        std::smatch m;
        CHECK_TEXT(std::regex_search(fork, m, std::regex("radar fork self-check (passed|FAILED)")),
                   fork.c_str());
        CHECK_TEXT(std::regex_search(fork, m, std::regex("sealed as record seq ([0-9]+)")),
                   fork.c_str());
        std::uint64_t forkSeq = std::stoull(m[1]);

        term.type("calibrate radar-angle 12.5\r");
        std::string cal = term.expect("tech@stopline> ", 30 * kS);
        CHECK_TEXT(std::regex_search(cal, m, std::regex("sealed as record seq ([0-9]+)")),
                   cal.c_str());
        std::uint64_t calSeq = std::stoull(m[1]);
        CHECK(cal.find("school_zone.cosine_angle_deg = 12.500 (was 12.00") != std::string::npos);

        /* The camera: a snapshot, marked points (the demo camera's stop-line ends and loop
         * corners), a mis-click named, then a fit that is sealed and kept. */
        term.type("snapshot\r");
        CHECK(term.expect("tech@stopline> ", 30 * kS).find("snapshot-latest.jpg") !=
              std::string::npos);
        const char *points[] = {"0 0 1201 451",   "0 3.6 640 451",  "0 7.2 79 451",
                                "-4 0.9 1191 650", "-4 2.7 824 650", "1 0.9 1037 416",
                                "2.8 6.3 279 361", "-4 4.5 456 650"};
        term.type("calibrate camera point 1 2.7 812 416\r"); /* 40 px off: (1, 2.7) is at 772 */
        term.expect("tech@stopline> ");
        for (const char *p : points) {
            term.type(std::string("calibrate camera point ") + p + "\r");
            term.expect("tech@stopline> ");
        }
        term.type("calibrate camera apply\r");
        std::string misfit = term.expect("tech@stopline> ");
        CHECK_TEXT(misfit.find("not applied: the marked points do not fit one road plane: point 1") !=
                           std::string::npos,
                   misfit.c_str());
        term.type("calibrate camera clear\r");
        term.expect("tech@stopline> ");
        for (const char *p : points) {
            term.type(std::string("calibrate camera point ") + p + "\r");
            term.expect("tech@stopline> ");
        }
        term.type("calibrate camera apply\r");
        std::string camera = term.expect("tech@stopline> ", 30 * kS);
        CHECK_TEXT(camera.find("camera calibrated: ") != std::string::npos &&
                           std::regex_search(camera, m, std::regex("sealed as record seq ([0-9]+)")),
                   camera.c_str());
        CHECK(slurp(work.path() / "state/camera_calibration.toml").find("[[camera.calibration.points]]") !=
              std::string::npos);

        term.type("status\r");
        std::string status = term.expect("tech@stopline> ");
        CHECK_TEXT(status.find("enforcement") != std::string::npos &&
                           status.find("spool:") != std::string::npos,
                   status.c_str());
        term.type("logout\r");
        term.expect("logged out (by request)");

        /* SIGHUP: a broken file is refused and the daemon runs on; a good one applies,
         * and what needs a restart says so. */
        std::string good = slurp(config);
        std::ofstream(config) << setTomlKey(good, "red_light", "min_yellow_s", "\"long\"");
        std::size_t from = daemon.log().size();
        daemon.signal(SIGHUP);
        CHECK(daemon.waitForLog("red_light.min_yellow_s: expected a number, got a string", from,
                                30 * kS)
                      .has_value());
        CHECK(daemon.waitForLog(
                            "SIGHUP: configuration refused; still running with the previous one",
                            from, 30 * kS)
                      .has_value());
        std::ofstream(config) << setTomlKey(setTomlKey(good, "red_light", "min_yellow_s", "3.2"),
                                            "camera", "fps", "10");
        from = daemon.log().size();
        daemon.signal(SIGHUP);
        auto changed = daemon.waitForLog("SIGHUP: changed ", from, 30 * kS);
        CHECK(changed.has_value());
        std::string after = daemon.log().substr(from);
        CHECK_TEXT(after.find("camera.fps") != std::string::npos &&
                           after.find("red_light.min_yellow_s") != std::string::npos,
                   after.c_str());
        CHECK(daemon.waitForLog("SIGHUP: takes effect after a restart: camera.fps", from, 30 * kS)
                      .has_value());
        CHECK(daemon.running());

        /* Both records reach the back-office and verify there. */
        std::string last = "uploaded seq=" + std::to_string(std::max(forkSeq, calSeq)) + " ";
        CHECK(daemon.waitForLog(last, 0, 60 * kS).has_value());
        std::string log = daemon.log();
        CHECK(log.find("security: console login failed for 'tech' (3 in a row)") !=
              std::string::npos);
        CHECK(log.find("security: console locked for 4 s") != std::string::npos);
        CHECK(log.find("security: set red_light.grace_s = 0.4 by 'tech'") != std::string::npos);

        std::optional<std::string> bytes = backoffice.record(setup.deviceId, forkSeq);
        CHECK(bytes.has_value());
        evidence::SealedRecord sealed;
        evidence::Record rec;
        CHECK(sealed.ParseFromString(*bytes) && rec.ParseFromString(sealed.record()));
        CHECK(rec.has_self_check());
        LONGS_EQUAL(evidence::SELF_CHECK_FORK, rec.self_check().kind());
        DOUBLES_EQUAL(35.0, rec.self_check().reference_speed(), 1e-9);
        bytes = backoffice.record(setup.deviceId, calSeq);
        CHECK(bytes.has_value());
        CHECK(sealed.ParseFromString(*bytes) && rec.ParseFromString(sealed.record()));
        CHECK(rec.has_calibration());
        STRCMP_EQUAL("tech", rec.calibration().technician().c_str());
        STRCMP_EQUAL(rec.calibration().new_calibration_id().c_str(), rec.calibration_id().c_str());
        if (getenv("STOPLINE_HIL_VERBOSE"))
            std::printf("\n%s\n", term.transcript().c_str());
    } catch (const std::exception &e) {
        work.keep();
        FAIL(e.what());
    }
    LONGS_EQUAL(0, daemon.stop());
    /* What systemd would have seen. */
    CHECK_EQUAL(1u, notify.count("READY=1"));
    CHECK_TEXT(notify.count("WATCHDOG=1") >= 5, "the event loop did not pet the watchdog");
    CHECK(notify.count("STATUS=enforc") >= 1);
    CHECK(notify.count("STOPPING=1") >= 1);
    /* Under the journal each line carries its priority instead of a time. */
    std::string log = daemon.log();
    CHECK(log.find("\n<5>security: console locked for 4 s\n") != std::string::npos);
    CHECK(log.find("\n<6>watchdog: petting every 500 ms\n") != std::string::npos);
    std::string verify;
    int rc = backoffice.verifyStore(&verify);
    std::printf("\n%s", verify.c_str());
    LONGS_EQUAL_TEXT(0, rc, verify.c_str());
}

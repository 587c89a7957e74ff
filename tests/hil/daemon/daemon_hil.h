#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <sys/types.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "evidence.pb.h"
#include "hal/time.h"

/* The real stoplined, stopline-sim and stopline-backoffice as child processes, for the
 * daemon's end-to-end tests (issue 6): a private work folder laid out as the shipped
 * firmware/examples/sim.toml expects, the back-office's view of what arrived, and the
 * ground truth's view of what should have. */
namespace stopline::hil {

using Json = nlohmann::json;
namespace fs = std::filesystem;

/* A child process whose stdout and stderr go to a file (appended, so one log holds
 * every restart); killed with SIGKILL if still running when destroyed. */
class Child
{
public:
    Child() = default;
    ~Child();
    Child(const Child &) = delete;
    Child &operator=(const Child &) = delete;

    /* `env` entries ("NAME=value") are added to the child's environment. */
    void start(const std::vector<std::string> &argv, const fs::path &log,
               const std::vector<std::string> &env = {});
    void signal(int sig);
    /* Exit status (128 + signal when killed), or -1 when still running at the timeout. */
    int wait(Nanos timeout);
    bool running();
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
    int status_ = -1;
};

std::string slurp(const fs::path &path);
/* Runs a shell command; returns its exit status, output in `out`. */
int runCommand(const std::string &command, std::string *out);
/* A TCP port nobody listens on right now (bind to 0, read it, close). */
std::uint16_t freePort();
/* Polls `done` every 50 ms until it holds or `timeout` passes. */
bool waitUntil(const std::function<bool()> &done, Nanos timeout);

/* stopline-backoffice on SQLite in `dir`, with the demo accounts, on a fixed port so it
 * can be stopped and started again where the daemon expects it. */
class BackOffice
{
public:
    explicit BackOffice(const fs::path &dir);
    ~BackOffice();

    /* Enrols a device's .pub; returns the upload token. */
    std::string enroll(const fs::path &pub, const std::string &site);
    void start();
    void kill9();
    void stop();
    bool running() { return server_.running(); }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    fs::path serverPub() const { return dir_ / "server.pub"; }
    const fs::path &dataDir() const { return dir_; }

    /* GET as the demo supervisor; throws on transport errors. */
    Json getJson(const std::string &target);
    /* The device's entry of GET /api/v1/devices (null when unknown). */
    Json device(const std::string &deviceId);
    /* The exact stored bytes of one record, or nullopt (404). */
    std::optional<std::string> record(const std::string &deviceId, std::uint64_t seq);
    /* `stopline-backoffice verify-store`: exit status, output in `out`. */
    int verifyStore(std::string *out);

private:
    std::string cookie();

    fs::path dir_;
    std::uint16_t port_ = 0;
    Child server_;
    std::string cookie_;
};

/* Everything the daemon's configuration is made from: the shipped simulator example
 * with the wires of this run, the back-office of this run, and per-test settings
 * (section -> key -> TOML value, replacing or adding keys). */
struct DaemonSetup
{
    fs::path work;
    std::string deviceId = "hil-unit-1";
    Json wires;
    std::string url;
    fs::path serverPub;
    std::string token;
    std::map<std::string, std::map<std::string, std::string>> settings;
    std::string extra; /* appended as is (e.g. [[console.users]]) */
};

/* Makes WORK/keys/ID.key and ID.pub with stopline-keygen (once); returns the .pub. */
fs::path makeDeviceKey(const fs::path &work, const std::string &deviceId);

/* Writes WORK/stoplined.toml (and the token file) for `setup`. */
fs::path writeDaemonConfig(const DaemonSetup &setup);

/* A setup in `work` whose device is enrolled at `backoffice` as `site`. Starts the
 * back-office: its port is fixed on first start, and the configuration names it. */
DaemonSetup enrolledSetup(const fs::path &work, BackOffice &backoffice, const std::string &site);

/* stopline-sim arguments holding the scenario until stoplined has opened the GPIO,
 * camera and radar wires, then starting it a second later. */
inline const std::vector<std::string> kSimWaitsForDaemon = {
        "--wait-for", "gpio,camera,radar", "--wait-timeout", "60", "--start-delay", "1"};

/* After the scenario: waits 6 s for the last captures to finish (continuation, B-shot,
 * clip), then up to `timeout` for WORK's spool to drain. */
bool spoolDrains(const fs::path &work, Nanos timeout);

/* A fresh folder under /tmp; removed on destruction unless the test failed or
 * STOPLINE_HIL_KEEP is set (then its path is printed). */
class WorkDir
{
public:
    explicit WorkDir(const std::string &name);
    ~WorkDir();
    const fs::path &path() const { return path_; }
    void keep() { keep_ = true; }

private:
    fs::path path_;
    bool keep_ = false;
};

/* The text of firmware/examples/sim.toml with `key = value` set in [section]. */
std::string setTomlKey(const std::string &text, const std::string &section, const std::string &key,
                       const std::string &value);

/* stoplined as a child; its log accumulates across restarts. */
class Stoplined
{
public:
    Stoplined(fs::path config, fs::path log) : config_(std::move(config)), log_(std::move(log)) {}

    void start();
    void kill9();
    void signal(int sig) { child_.signal(sig); }
    /* Extra environment for the next start() ("NOTIFY_SOCKET=...", ...). */
    std::vector<std::string> env;
    /* SIGTERM and wait for a clean exit; returns the exit status. */
    int stop(Nanos timeout = 30 * kNanosPerSecond);
    bool running() { return child_.running(); }
    pid_t pid() const { return child_.pid(); }

    std::string log() const { return slurp(log_); }
    /* Waits until the log (from byte `from`) contains `needle`; returns its end offset. */
    std::optional<std::size_t> waitForLog(const std::string &needle, std::size_t from,
                                          Nanos timeout) const;
    /* Every "captured seq=N" the log holds, in order. */
    std::vector<std::uint64_t> captured() const;

private:
    fs::path config_;
    fs::path log_;
    Child child_;
};

/* What the ground truth says must be cited under the simulator example's rules (grace
 * 0.3 s, minimum yellow 3.0 s, 15 mph at the line, 5 mph in the kerb right-turn lane
 * whose policy is cite_unless_stopped; speed above 25 + 10 mph, beacon flashing, one
 * vehicle in the beam), and how to recognise a record of each. */
struct Expected
{
    Nanos t0 = 0;
    std::set<std::string> red, speed;
    std::map<std::string, Json> redTruth;   /* plate -> crossing */
    std::map<std::string, Json> speedTruth; /* plate -> vehicle_exit */

    /* The plate a violation record is about ("" when it matches no vehicle). */
    std::string plateOf(const evidence::Record &record) const;
};
Expected expectedViolations(const std::vector<Json> &truth);

/* What the back-office holds for a device: every record from seq 0 to its head. */
struct Arrived
{
    std::uint64_t records = 0; /* as counted by the back-office */
    std::int64_t highestSeq = -1;
    std::map<std::uint64_t, evidence::Record> bySeq; /* parsed, of the exact stored bytes */
    std::vector<std::string> problems;               /* unparsable or missing records */

    /* The problems one per line ("" when none), for a single STRCMP_EQUAL. */
    std::string problemText() const;
};
Arrived fetchArrived(BackOffice &backoffice, const std::string &deviceId);

std::string joined(const std::set<std::string> &s);

} /* namespace stopline::hil */

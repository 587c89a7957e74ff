#include "daemon_hil.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backoffice/client.h"

namespace stopline::hil {

/* ---- processes --------------------------------------------------------------------- */

Child::~Child()
{
    if (running()) {
        ::kill(pid_, SIGKILL);
        wait(10 * kNanosPerSecond);
    }
}

void Child::start(const std::vector<std::string> &args, const fs::path &log,
                  const std::vector<std::string> &env)
{
    std::vector<char *> argv;
    for (const std::string &a : args)
        argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);
    status_ = -1;
    pid_ = ::fork();
    if (pid_ < 0)
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid_ == 0) {
        int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            ::dup2(fd, 1);
            ::dup2(fd, 2);
        }
        for (const std::string &e : env)
            ::putenv(const_cast<char *>(e.c_str()));
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
}

void Child::signal(int sig)
{
    if (running())
        ::kill(pid_, sig);
}

bool Child::running()
{
    if (pid_ <= 0 || status_ >= 0)
        return false;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return false;
    }
    return true;
}

int Child::wait(Nanos timeout)
{
    Nanos deadline = monotonicNow() + timeout;
    while (running()) {
        if (monotonicNow() > deadline)
            return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return status_;
}

std::string slurp(const fs::path &path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

int runCommand(const std::string &command, std::string *out)
{
    FILE *p = popen((command + " 2>&1").c_str(), "r");
    if (!p)
        return -1;
    char buf[4096];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        out->append(buf, n);
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::uint16_t freePort()
{
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("cannot find a free port");
    }
    ::close(fd);
    return ntohs(a.sin_port);
}

bool waitUntil(const std::function<bool()> &done, Nanos timeout)
{
    Nanos deadline = monotonicNow() + timeout;
    while (!done()) {
        if (monotonicNow() > deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
}

/* ---- back-office ------------------------------------------------------------------- */

namespace {

std::string mustRun(const std::string &command)
{
    std::string out;
    if (int rc = runCommand(command, &out); rc != 0)
        throw std::runtime_error("command failed (" + std::to_string(rc) + "): " + command + "\n" +
                                 out);
    return out;
}

} /* namespace */

BackOffice::BackOffice(const fs::path &dir) : dir_(dir)
{
    mustRun(std::string(BACKOFFICE_BIN) + " init --data " + dir_.string());
    mustRun(std::string(BACKOFFICE_BIN) + " demo-users --data " + dir_.string());
}

BackOffice::~BackOffice()
{
    kill9();
}

std::string BackOffice::enroll(const fs::path &pub, const std::string &site)
{
    std::string out = mustRun(std::string(BACKOFFICE_BIN) + " enroll-device --data " +
                              dir_.string() + " --pub " + pub.string() + " --site '" + site + "'");
    std::smatch m;
    if (!std::regex_search(out, m, std::regex("token ([0-9a-f]{64})")))
        throw std::runtime_error("enroll-device printed no token: " + out);
    return m[1];
}

void BackOffice::start()
{
    if (!port_)
        port_ = freePort();
    fs::path log = dir_ / "serve.log";
    std::size_t before = slurp(log).size();
    server_.start({BACKOFFICE_BIN, "serve", "--data", dir_.string(), "--listen",
                   "127.0.0.1:" + std::to_string(port_), "--threads", "2"},
                  log);
    /* Generous: a loaded two-core machine. The port may still be in TIME_WAIT use by
     * the previous instance's connections; the server sets SO_REUSEADDR. */
    bool up = waitUntil(
            [&] {
                return slurp(log).find("serving http://", before) != std::string::npos ||
                       !server_.running();
            },
            60 * kNanosPerSecond);
    if (!up || !server_.running())
        throw std::runtime_error("stopline-backoffice did not start:\n" +
                                 slurp(log).substr(before));
    cookie_.clear();
}

void BackOffice::kill9()
{
    if (server_.running()) {
        server_.signal(SIGKILL);
        server_.wait(30 * kNanosPerSecond);
    }
}

void BackOffice::stop()
{
    if (server_.running()) {
        server_.signal(SIGTERM);
        if (server_.wait(30 * kNanosPerSecond) < 0)
            kill9();
    }
}

std::string BackOffice::cookie()
{
    if (!cookie_.empty())
        return cookie_;
    backoffice::HttpClient c("127.0.0.1", port_);
    backoffice::ClientResponse r = c.request(
            "POST", "/api/v1/login", R"({"username": "supervisor", "password": "demo-password"})",
            {{"Content-Type", "application/json"}});
    if (r.status != 200)
        throw std::runtime_error("login as supervisor: HTTP " + std::to_string(r.status) + " " +
                                 r.body);
    cookie_ = r.header("set-cookie");
    cookie_ = cookie_.substr(0, cookie_.find(';'));
    return cookie_;
}

Json BackOffice::getJson(const std::string &target)
{
    backoffice::HttpClient c("127.0.0.1", port_);
    backoffice::ClientResponse r = c.request("GET", target, "", {{"Cookie", cookie()}});
    if (r.status != 200)
        throw std::runtime_error("GET " + target + ": HTTP " + std::to_string(r.status) + " " +
                                 r.body);
    return Json::parse(r.body);
}

Json BackOffice::device(const std::string &deviceId)
{
    Json all = getJson("/api/v1/devices"); /* not a temporary: the loop keeps a reference */
    for (const Json &d : all["devices"])
        if (d["device_id"] == deviceId)
            return d;
    return nullptr;
}

std::optional<std::string> BackOffice::record(const std::string &deviceId, std::uint64_t seq)
{
    backoffice::HttpClient c("127.0.0.1", port_);
    backoffice::ClientResponse r =
            c.request("GET", "/api/v1/records/" + deviceId + "/" + std::to_string(seq), "",
                      {{"Cookie", cookie()}});
    if (r.status == 404)
        return std::nullopt;
    if (r.status != 200)
        throw std::runtime_error("GET record " + std::to_string(seq) + ": HTTP " +
                                 std::to_string(r.status));
    return r.body;
}

int BackOffice::verifyStore(std::string *out)
{
    return runCommand(std::string(BACKOFFICE_BIN) + " verify-store --data " + dir_.string(), out);
}

/* ---- daemon ------------------------------------------------------------------------ */

std::string setTomlKey(const std::string &text, const std::string &section, const std::string &key,
                       const std::string &value)
{
    std::istringstream in(text);
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line))
        lines.push_back(line);
    std::string header = "[" + section + "]";
    std::size_t start = lines.size();
    for (std::size_t i = 0; i < lines.size(); ++i)
        if (lines[i] == header)
            start = i;
    if (start == lines.size()) {
        lines.push_back("");
        lines.push_back(header);
        lines.push_back(key + " = " + value);
    } else {
        std::size_t end = start + 1;
        while (end < lines.size() && (lines[end].empty() || lines[end][0] != '['))
            ++end;
        bool replaced = false;
        for (std::size_t i = start + 1; i < end; ++i)
            if (lines[i].rfind(key + " = ", 0) == 0) {
                lines[i] = key + " = " + value;
                replaced = true;
            }
        if (!replaced)
            lines.insert(lines.begin() + static_cast<long>(start) + 1, key + " = " + value);
    }
    std::string out;
    for (const std::string &l : lines)
        out += l + "\n";
    return out;
}

WorkDir::WorkDir(const std::string &name)
{
    std::string tmpl = "/tmp/stopline-" + name + "-XXXXXX";
    if (!::mkdtemp(tmpl.data()))
        throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

WorkDir::~WorkDir()
{
    if (keep_ || std::getenv("STOPLINE_HIL_KEEP")) {
        std::printf("kept %s\n", path_.c_str());
        return;
    }
    std::error_code ec;
    fs::remove_all(path_, ec);
}

fs::path makeDeviceKey(const fs::path &work, const std::string &deviceId)
{
    fs::create_directories(work / "keys");
    fs::path key = work / "keys" / (deviceId + ".key");
    if (!fs::exists(key))
        mustRun(std::string(KEYGEN_BIN) + " --device " + deviceId + " --out " +
                (work / "keys").string());
    return work / "keys" / (deviceId + ".pub");
}

fs::path writeDaemonConfig(const DaemonSetup &s)
{
    makeDeviceKey(s.work, s.deviceId);
    fs::path key = s.work / "keys" / (s.deviceId + ".key");
    std::string text = slurp(fs::path(STOPLINE_EXAMPLES_DIR) / "sim.toml");
    auto quote = [](const std::string &v) { return "\"" + v + "\""; };
    text = setTomlKey(text, "device", "id", quote(s.deviceId));
    text = setTomlKey(text, "device", "key_file", quote(key.string()));
    text = setTomlKey(text, "device", "state_dir", quote((s.work / "state").string()));
    text = setTomlKey(text, "gpio", "sim_socket", quote(s.wires["gpio"]["socket"]));
    text = setTomlKey(text, "gpio", "chip", quote(s.wires["gpio"]["chip"]));
    text = setTomlKey(text, "camera", "device", quote(s.wires["camera"]["socket"]));
    text = setTomlKey(text, "radar", "device", quote(s.wires["radar"]["pty"]));
    text = setTomlKey(text, "upload", "url", quote(s.url));
    text = setTomlKey(text, "upload", "server_key", quote(s.serverPub.string()));
    fs::path token = s.work / "device.token";
    {
        std::ofstream(token) << s.token << "\n";
        fs::permissions(token, fs::perms::owner_read | fs::perms::owner_write);
    }
    text = setTomlKey(text, "upload", "token_file", quote(token.string()));
    for (const auto &[section, keys] : s.settings)
        for (const auto &[k, v] : keys)
            text = setTomlKey(text, section, k, v);
    text += s.extra;
    fs::path config = s.work / "stoplined.toml";
    std::ofstream(config) << text;
    return config;
}

DaemonSetup enrolledSetup(const fs::path &work, BackOffice &backoffice, const std::string &site)
{
    DaemonSetup setup;
    setup.work = work;
    setup.token = backoffice.enroll(makeDeviceKey(work, setup.deviceId), site);
    backoffice.start();
    setup.url = backoffice.url();
    setup.serverPub = backoffice.serverPub();
    return setup;
}

bool spoolDrains(const fs::path &work, Nanos timeout)
{
    std::this_thread::sleep_for(std::chrono::seconds(6));
    return waitUntil([&] { return fs::is_empty(work / "state/spool/records"); }, timeout);
}

void Stoplined::start()
{
    child_.start({STOPLINED_BIN, "--config", config_.string()}, log_, env);
}

void Stoplined::kill9()
{
    if (child_.running()) {
        child_.signal(SIGKILL);
        child_.wait(30 * kNanosPerSecond);
    }
}

int Stoplined::stop(Nanos timeout)
{
    child_.signal(SIGTERM);
    int status = child_.wait(timeout);
    if (status < 0)
        kill9();
    return status;
}

std::optional<std::size_t> Stoplined::waitForLog(const std::string &needle, std::size_t from,
                                                 Nanos timeout) const
{
    std::optional<std::size_t> at;
    waitUntil(
            [&] {
                std::string text = slurp(log_);
                std::size_t p = from < text.size() ? text.find(needle, from) : std::string::npos;
                if (p != std::string::npos)
                    at = p + needle.size();
                return at.has_value();
            },
            timeout);
    return at;
}

std::vector<std::uint64_t> Stoplined::captured() const
{
    std::vector<std::uint64_t> out;
    std::string text = log();
    std::regex re("captured seq=([0-9]+) ");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
         ++it)
        out.push_back(std::stoull((*it)[1]));
    return out;
}

/* ---- truth ------------------------------------------------------------------------- */

Expected expectedViolations(const std::vector<Json> &truth)
{
    Expected e;
    for (const Json &r : truth) {
        const std::string type = r["type"];
        if (type == "start")
            e.t0 = r["t0_ns"].get<Nanos>();
        if (type == "crossing") {
            e.redTruth[r["plate"]] = r;
            bool red = r["phase"] == "red" && !r["signal_fault"].get<bool>();
            bool cite = red && r["time_into_red_s"].get<double>() > 0.3 &&
                        r.value("yellow_s", 0.0) >= 3.0 - 1e-6;
            double minSpeed = r["lane"].get<unsigned>() == 1 ? 5 : 15;
            if (r["lane"].get<unsigned>() == 1 && r["stopped_before_line"].get<bool>())
                cite = false; /* kerb lane: cite_unless_stopped */
            if (r["speed_mph"].get<double>() < minSpeed)
                cite = false;
            if (cite)
                e.red.insert(r["plate"]);
        }
        if (type == "vehicle_exit" && r.contains("in_beam")) {
            e.speedTruth[r["plate"]] = r;
            const Json &b = r["in_beam"];
            if (b["beacon_active"] == "all" && b["min_speed_mph"].get<double>() > 35.0 &&
                b["max_speed_mph"].get<double>() - b["min_speed_mph"].get<double>() <= 2.0)
                e.speed.insert(r["plate"]);
        }
    }
    return e;
}

std::string Expected::plateOf(const evidence::Record &rec) const
{
    if (!rec.has_violation())
        return "";
    const evidence::Violation &v = rec.violation();
    const Nanos event = v.event().monotonic_ns();
    std::string plate;
    if (v.type() == evidence::RED_LIGHT) {
        for (const auto &[p, t] : redTruth)
            if (t["lane"].get<unsigned>() == v.location().lane() &&
                std::llabs(t["t_ns"].get<Nanos>() - event) < 300 * kNanosPerMilli)
                plate = p;
    } else {
        for (const auto &[p, t] : speedTruth) {
            const Json &b = t["in_beam"];
            if (event >= t0 + b["from_ns_rel"].get<Nanos>() - 300 * kNanosPerMilli &&
                event <= t0 + b["to_ns_rel"].get<Nanos>() + 300 * kNanosPerMilli)
                plate = p;
        }
    }
    return plate;
}

Arrived fetchArrived(BackOffice &bo, const std::string &deviceId)
{
    Arrived a;
    Json d = bo.device(deviceId);
    if (d.is_null()) {
        a.problems.push_back("device " + deviceId + " unknown to the back-office");
        return a;
    }
    a.records = d["records"].get<std::uint64_t>();
    a.highestSeq = d["highest_seq"].get<std::int64_t>();
    for (std::int64_t seq = 0; seq <= a.highestSeq; ++seq) {
        std::optional<std::string> bytes = bo.record(deviceId, static_cast<std::uint64_t>(seq));
        evidence::SealedRecord sealed;
        evidence::Record rec;
        if (!bytes) {
            a.problems.push_back("seq " + std::to_string(seq) + " missing (chain gap)");
            continue;
        }
        if (!sealed.ParseFromString(*bytes) || !rec.ParseFromString(sealed.record())) {
            a.problems.push_back("seq " + std::to_string(seq) + " does not parse");
            continue;
        }
        a.bySeq[static_cast<std::uint64_t>(seq)] = rec;
    }
    return a;
}

std::string Arrived::problemText() const
{
    std::string out;
    for (const std::string &p : problems)
        out += p + "\n";
    return out;
}

std::string joined(const std::set<std::string> &s)
{
    std::string out;
    for (const std::string &x : s)
        out += (out.empty() ? "" : " ") + x;
    return out;
}

} /* namespace stopline::hil */

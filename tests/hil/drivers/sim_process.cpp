#include "sim_process.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace stopline::hil {

namespace {

/* Generous: the machine has two cores shared with parallel builds and tests. */
constexpr Nanos kAnnounceTimeout = 30 * kNanosPerSecond;

pid_t spawn(const std::vector<std::string> &args, const std::string &out, const std::string &err)
{
    std::vector<char *> argv;
    for (const auto &a : args)
        argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0)
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o >= 0)
            ::dup2(o, 1);
        if (e >= 0)
            ::dup2(e, 2);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    return pid;
}

int decode(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

} /* namespace */

std::string readFile(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string SimProcess::binary()
{
    return STOPLINE_SIM_BINARY;
}

std::string SimProcess::scenarioPath(const std::string &name)
{
    if (name.find('/') != std::string::npos)
        return name;
    return std::string(STOPLINE_SCENARIO_DIR) + "/" + name;
}

SimProcess::SimProcess(const std::string &scenario, std::vector<std::string> args)
{
    char tmpl[] = "/tmp/stopline-hil-XXXXXX";
    if (!::mkdtemp(tmpl))
        throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    std::vector<std::string> argv{
            binary(),       scenarioPath(scenario), "--truth",      dir_ + "/truth.jsonl",
            "--wires-json", dir_ + "/wires.json",   "--socket-dir", dir_};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = spawn(argv, dir_ + "/stdout.log", dir_ + "/stderr.log");

    Nanos deadline = monotonicNow() + kAnnounceTimeout;
    while (monotonicNow() < deadline) {
        std::string text = readFile(dir_ + "/wires.json");
        if (!text.empty()) {
            wires_ = Json::parse(text);
            return;
        }
        if (exited())
            throw std::runtime_error("stopline-sim exited (status " + std::to_string(status_) +
                                     ") before announcing its wires:\n" + stderrText());
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("stopline-sim did not announce its wires within 30 s:\n" +
                             stderrText());
}

SimProcess::~SimProcess()
{
    if (pid_ > 0 && !exited()) {
        ::kill(pid_, SIGTERM);
        if (wait(10 * kNanosPerSecond) < 0) {
            ::kill(pid_, SIGKILL);
            wait(10 * kNanosPerSecond);
        }
    }
    std::error_code ec;
    if (!std::getenv("STOPLINE_HIL_KEEP"))
        std::filesystem::remove_all(dir_, ec);
}

bool SimProcess::exited()
{
    if (status_ >= 0)
        return true;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
        status_ = decode(st);
        return true;
    }
    return false;
}

int SimProcess::wait(Nanos timeout)
{
    Nanos deadline = monotonicNow() + timeout;
    while (!exited()) {
        if (monotonicNow() > deadline)
            return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return status_;
}

void SimProcess::signal(int sig)
{
    if (!exited())
        ::kill(pid_, sig);
}

std::string SimProcess::stderrText() const
{
    return readFile(dir_ + "/stderr.log");
}
std::string SimProcess::stdoutText() const
{
    return readFile(dir_ + "/stdout.log");
}

std::vector<Json> SimProcess::truth() const
{
    std::vector<Json> out;
    std::istringstream in(readFile(dir_ + "/truth.jsonl"));
    std::string line;
    while (std::getline(in, line))
        if (!line.empty())
            out.push_back(Json::parse(line));
    return out;
}

std::vector<Json> SimProcess::truth(const std::string &type) const
{
    std::vector<Json> out;
    for (auto &r : truth())
        if (r["type"] == type)
            out.push_back(std::move(r));
    return out;
}

int SimProcess::runToEnd(const std::vector<std::string> &args, std::string *err, Nanos timeout)
{
    char tmpl[] = "/tmp/stopline-hil-XXXXXX";
    if (!::mkdtemp(tmpl))
        throw std::runtime_error("mkdtemp failed");
    std::string dir = tmpl;
    std::vector<std::string> argv{binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_t pid = spawn(argv, dir + "/stdout.log", dir + "/stderr.log");
    Nanos deadline = monotonicNow() + timeout;
    int st = 0, status = -1;
    for (;;) {
        pid_t r = ::waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            status = decode(st);
            break;
        }
        if (monotonicNow() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &st, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (err)
        *err = readFile(dir + "/stderr.log");
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return status;
}

} /* namespace stopline::hil */

/* stopline-sim on its wires, seen by minimal raw clients: what a device would do
 * (refuse an unknown chip, line or camera size with a message; never deliver an edge
 * before it happens; answer the OPS243 on a raw pty without echo) and how the process
 * behaves (clean exit on SIGTERM, exit codes for a bad scenario and a missing client). */

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>
#include <vector>

#include "hal/sim/framing.h"
#include "sim_process.h"
#include "sim_wire.pb.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using stopline::hil::Json;
using stopline::hil::SimProcess;
namespace sw = stopline::simwire;

namespace {

int connectTo(const std::string &path)
{
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
        ::close(fd);
        FAIL(("connect " + path + ": " + std::strerror(errno)).c_str());
    }
    return fd;
}

/* Sends a GpioRequest and returns the answer. */
sw::GpioChipInfo requestGpio(int fd, const std::string &chip, std::vector<std::string> lines)
{
    sw::GpioMessage req;
    req.mutable_request()->set_chip(chip);
    req.mutable_request()->set_consumer("wire-test");
    for (const auto &l : lines)
        req.mutable_request()->add_lines(l);
    CHECK(hal::sim::writeFrame(fd, req.SerializeAsString()));
    std::string payload;
    LONGS_EQUAL((int)hal::sim::ReadStatus::Ok, (int)hal::sim::readFrame(fd, payload, 10000));
    sw::GpioMessage reply;
    CHECK(reply.ParseFromString(payload));
    CHECK(reply.has_chip());
    return reply.chip();
}

std::string gpioSocket(const SimProcess &sim)
{
    return sim.wires()["gpio"]["socket"];
}

/* Reads one CRLF-terminated line from a raw fd within `ms`. */
std::string readLine(int fd, int ms)
{
    std::string line;
    Nanos deadline = monotonicNow() + ms * kNanosPerMilli;
    while (monotonicNow() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0)
            continue;
        char c;
        if (::read(fd, &c, 1) != 1)
            break;
        line += c;
        if (line.size() >= 2 && line.substr(line.size() - 2) == "\r\n")
            return line;
    }
    return line;
}

} /* namespace */

TEST_GROUP(SimWire){};

TEST(SimWire, GpioRefusesUnknownChipLineAndBusyLine)
{
    SimProcess sim("hil_signal.toml", {"--wait-for", "radar"}); /* never starts: idle */
    std::string path = gpioSocket(sim);

    int a = connectTo(path);
    sw::GpioChipInfo info = requestGpio(a, "gpiochip7", {"NB_RED"});
    STRCMP_CONTAINS("unknown chip \"gpiochip7\"", info.error().c_str());
    STRCMP_CONTAINS("gpiochip-sim0", info.error().c_str());
    std::string payload;
    LONGS_EQUAL((int)hal::sim::ReadStatus::Closed, (int)hal::sim::readFrame(a, payload, 5000));
    ::close(a);

    int b = connectTo(path);
    info = requestGpio(b, "gpiochip-sim0", {"NB_RED", "NB_PURPLE"});
    STRCMP_CONTAINS("unknown line \"NB_PURPLE\" on gpiochip-sim0", info.error().c_str());
    STRCMP_CONTAINS("NB_GREEN", info.error().c_str()); /* lists what exists */
    ::close(b);

    /* by name, by label, by offset; levels as the scenario starts */
    int c = connectTo(path);
    info = requestGpio(c, "stopline-sim", {"NB_GREEN", "0"});
    STRCMP_EQUAL("", info.error().c_str());
    LONGS_EQUAL(2, info.lines_size());
    STRCMP_EQUAL("NB_GREEN", info.lines(0).name().c_str());
    CHECK(info.lines(0).value());
    STRCMP_EQUAL("NB_RED", info.lines(1).name().c_str());
    CHECK(!info.lines(1).value());

    int d = connectTo(path);
    info = requestGpio(d, "gpiochip-sim0", {"NB_RED"});
    STRCMP_CONTAINS("line \"NB_RED\" is busy (requested by \"wire-test\")", info.error().c_str());
    ::close(d);
    /* once the holder is gone the line is free again, at once */
    ::close(c);
    int e = connectTo(path);
    info = requestGpio(e, "gpiochip-sim0", {"NB_RED"});
    STRCMP_EQUAL("", info.error().c_str());
    ::close(e);
}

TEST(SimWire, EdgesArriveOnTimeNeverEarlyWithTheTruthsTimestamps)
{
    SimProcess sim("hil_signal.toml", {"--wait-for", "gpio", "--wait-timeout", "60"});
    int fd = connectTo(gpioSocket(sim));
    sw::GpioChipInfo info = requestGpio(fd, "gpiochip-sim0", {}); /* all lines */
    STRCMP_EQUAL("", info.error().c_str());
    LONGS_EQUAL(sim.wires()["gpio"]["lines"].size(), info.lines_size());

    std::map<std::string, std::uint64_t> seq;
    std::vector<std::pair<sw::GpioEdge, Nanos>> edges;
    for (;;) {
        std::string payload;
        auto st = hal::sim::readFrame(fd, payload, 30000);
        if (st != hal::sim::ReadStatus::Ok)
            break;
        Nanos got = monotonicNow();
        sw::GpioMessage m;
        CHECK(m.ParseFromString(payload) && m.has_edge());
        edges.push_back({m.edge(), got});
    }
    ::close(fd);
    LONGS_EQUAL(0, sim.wait(30 * kNanosPerSecond));

    std::vector<Nanos> lateness;
    for (const auto &[e, got] : edges) {
        CHECK_TEXT(got >= e.timestamp_ns(), "an edge arrived before it happened");
        lateness.push_back(got - e.timestamp_ns());
        LONGS_EQUAL(++seq[e.name()], e.seqno());
    }
    CHECK(edges.size() > 40);
    std::sort(lateness.begin(), lateness.end());
    std::printf("\nGPIO wire: %zu edges, delivery lateness median %.3f ms, max %.3f ms\n",
                edges.size(), lateness[lateness.size() / 2] / 1e6, lateness.back() / 1e6);

    /* every lamp that lights at a phase change does so at the truth's time, exactly */
    for (const auto &r : sim.truth("phase")) {
        if (r.contains("initial"))
            continue;
        std::string line = r["head"].get<std::string>() + "_" +
                           (r["phase"] == "green"    ? "GREEN"
                            : r["phase"] == "yellow" ? "YELLOW"
                                                     : "RED");
        bool found = false;
        for (const auto &[e, got] : edges)
            found |= e.name() == line && e.rising() && e.timestamp_ns() == r["t_ns"].get<Nanos>();
        CHECK_TEXT(found, (line + " at " + std::to_string(r["t_s"].get<double>())).c_str());
    }
}

TEST(SimWire, RadarAnswersOnARawPtyWithoutEcho)
{
    SimProcess sim("hil_radar.toml", {"--wait-for", "gpio"}); /* no GPIO here: stays idle */
    std::string pty = sim.wires()["radar"]["pty"];
    int fd = ::open(pty.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
    CHECK_TEXT(fd >= 0, pty.c_str());
    termios tio{};
    ::tcgetattr(fd, &tio);
    ::cfmakeraw(&tio);
    ::tcsetattr(fd, TCSANOW, &tio);
    ::tcflush(fd, TCIOFLUSH);
    CHECK(::write(fd, "?V", 2) == 2);
    STRCMP_EQUAL("{\"Version\":\"1.3.1\"}\r\n", readLine(fd, 5000).c_str());
    CHECK(::write(fd, "US", 2) == 2);
    STRCMP_EQUAL("{\"Units\":\"mph\"}\r\n", readLine(fd, 5000).c_str());
    CHECK(::write(fd, "R>", 2) == 2);
    CHECK(::write(fd, "12\r", 3) == 3);
    STRCMP_EQUAL("{\"RequiredMinSpeed\":\"12.000\"}\r\n", readLine(fd, 5000).c_str());
    CHECK(::write(fd, "C?", 2) == 2);
    STRCMP_CONTAINS("{\"Clock\":\"", readLine(fd, 5000).c_str());
    ::close(fd);
}

TEST(SimWire, CameraRefusesAWrongSizeAndUnknownId)
{
    SimProcess sim("hil_mix.toml", {"--wait-for", "radar"});
    std::string path = sim.wires()["camera"]["socket"];
    for (auto [id, w, h, expect] : {std::tuple<const char *, int, int, const char *>{
                                            "", 640, 480, "size 640x480 not available"},
                                    {"cam9", 0, 0, "unknown camera \"cam9\""}}) {
        int fd = connectTo(path);
        sw::CameraMessage req;
        req.mutable_request()->set_camera(id);
        req.mutable_request()->set_width(w);
        req.mutable_request()->set_height(h);
        CHECK(hal::sim::writeFrame(fd, req.SerializeAsString()));
        std::string payload;
        LONGS_EQUAL((int)hal::sim::ReadStatus::Ok, (int)hal::sim::readFrame(fd, payload, 10000));
        sw::CameraMessage reply;
        CHECK(reply.ParseFromString(payload) && reply.has_info());
        STRCMP_CONTAINS(expect, reply.info().error().c_str());
        ::close(fd);
    }
}

TEST(SimWire, ExitsCleanlyOnSigterm)
{
    SimProcess sim("hil_signal.toml", {"--hold"});
    std::string gpio = gpioSocket(sim);
    CHECK(std::filesystem::exists(gpio));
    /* let it start, then stop it */
    for (int i = 0; i < 200 && sim.truth("start").empty(); ++i)
        ::usleep(20000);
    sim.signal(SIGTERM);
    LONGS_EQUAL(0, sim.wait(20 * kNanosPerSecond));
    CHECK(!std::filesystem::exists(gpio));
    auto end = sim.truth("end");
    LONGS_EQUAL(1, end.size());
    STRCMP_EQUAL("SIGTERM", end[0]["reason"].get<std::string>().c_str());
}

TEST(SimWire, ExitCodesForABadScenarioAndAMissingClient)
{
    std::string bad = "/tmp/stopline-hil-bad-" + std::to_string(::getpid()) + ".toml";
    {
        std::ofstream out(bad);
        out << "[scenario]\nduration_s = 5\n\n[[approaches]]\nname = \"n\"\nlenght_m = 50\n"
               "[[approaches.lanes]]\nnumber = 1\n";
    }
    std::string err;
    LONGS_EQUAL(2, SimProcess::runToEnd({bad}, &err));
    STRCMP_CONTAINS(":6:1: approaches[0].lenght_m: unknown key", err.c_str());
    std::filesystem::remove(bad);

    LONGS_EQUAL(3, SimProcess::runToEnd({SimProcess::scenarioPath("hil_signal.toml"), "--wait-for",
                                         "gpio", "--wait-timeout", "1"},
                                        &err));
    STRCMP_CONTAINS("no client attached within", err.c_str());
}

TEST(SimWire, RadarFallsSilentInsideItsFaultWindow)
{
    std::string path = "/tmp/stopline-hil-silence-" + std::to_string(::getpid()) + ".toml";
    {
        std::ofstream out(path);
        out << "[scenario]\nduration_s = 7\n[[approaches]]\nname = \"n\"\nlength_m = 200\n"
               "[[approaches.lanes]]\nnumber = 1\n[radar]\napproach = \"n\"\nposition_m = 0\n"
               "range_min_m = 1\nrange_max_m = 250\n[[vehicles]]\napproach = \"n\"\n"
               "speed_mph = 20\narrive_s = 0\nbehaviour = \"complies\"\n"
               "[[faults.radar_silence]]\nstart_s = 3\nend_s = 5\n";
    }
    SimProcess sim(path, {"--wait-for", "radar", "--wait-timeout", "60"});
    std::filesystem::remove(path);
    int fd = ::open(sim.wires()["radar"]["pty"].get<std::string>().c_str(),
                    O_RDWR | O_NOCTTY | O_CLOEXEC);
    CHECK(fd >= 0);
    termios tio{};
    ::tcgetattr(fd, &tio);
    ::cfmakeraw(&tio);
    ::tcsetattr(fd, TCSANOW, &tio);
    CHECK(::write(fd, "US", 2) == 2); /* attaches: the scenario starts */
    std::vector<std::pair<Nanos, std::string>> got;
    bool askedInSilence = false;
    Nanos t0 = 0;
    while (sim.wait(0) < 0 || got.empty()) {
        if (t0 == 0 && !sim.truth("start").empty())
            t0 = sim.truth("start")[0]["t0_ns"];
        if (t0 && !askedInSilence && monotonicNow() > t0 + 3500 * kNanosPerMilli) {
            CHECK(::write(fd, "?V", 2) == 2); /* a hung sensor does not answer */
            askedInSilence = true;
        }
        std::string line = readLine(fd, 200);
        if (!line.empty())
            got.push_back({monotonicNow(), line});
        if (sim.exited())
            break;
    }
    ::close(fd);
    CHECK(t0 > 0);
    int before = 0, during = 0, after = 0;
    for (const auto &[t, line] : got) {
        CHECK_TEXT(line.find("Version") == std::string::npos, "answered while silent");
        double rel = (t - t0) / 1e9;
        if (rel < 2.9)
            ++before;
        else if (rel > 3.1 && rel < 4.9)
            ++during;
        else if (rel > 5.1)
            ++after;
    }
    CHECK(before > 10);
    LONGS_EQUAL(0, during);
    CHECK(after > 5);
}

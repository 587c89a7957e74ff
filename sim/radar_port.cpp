#include "sim/radar_port.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <pty.h>
#include <stdexcept>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <boost/asio/write.hpp>

#include "sim/log.h"

namespace stopline::sim {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

/* Bytes left unread in the slave's input queue beyond which nobody is listening: they
 * are discarded, as a real serial port drops what arrives while it is closed, so a host
 * that opens the port later is not handed seconds-old speeds. */
constexpr int kStaleBytes = 4096; /* the kernel's N_TTY buffer: a busy reader is not "nobody" */
constexpr Nanos kMaxReportLagNs = 2 * kNanosPerSecond;
constexpr Nanos kGarbageIdleCheck = 100 * kNanosPerMilli;

std::chrono::steady_clock::time_point toTimePoint(Nanos t)
{
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(t));
}

std::string trimEol(std::string s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    return s;
}

} /* namespace */

RadarPort::RadarPort(asio::io_context &io, const World &world, TruthLog &truth,
                     const std::string &link)
    : io_(io), world_(world), truth_(truth), emulator_(*world.scenario().radar), stream_(io),
      reportTimer_(io), garbageTimer_(io), rng_(world.scenario().seed * 7919ull + 17)
{
    if (::openpty(&master_, &slave_, nullptr, nullptr, nullptr) < 0)
        throw std::runtime_error(std::string("radar: openpty failed: ") + std::strerror(errno));
    ::fcntl(master_, F_SETFD, FD_CLOEXEC);
    ::fcntl(slave_, F_SETFD, FD_CLOEXEC);
    /* Raw, 8N1 at the sensor's default 19200 baud: no echo, no CR/LF translation. */
    termios tio{};
    ::tcgetattr(slave_, &tio);
    ::cfmakeraw(&tio);
    ::cfsetispeed(&tio, B19200);
    ::cfsetospeed(&tio, B19200);
    ::tcsetattr(slave_, TCSANOW, &tio);
    const char *name = ::ttyname(slave_);
    slavePath_ = name ? name : "";
    if (!link.empty()) {
        struct stat st;
        if (::lstat(link.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
            ::unlink(link.c_str());
        if (::symlink(slavePath_.c_str(), link.c_str()) < 0)
            throw std::runtime_error("radar: cannot link " + link + " -> " + slavePath_ + ": " +
                                     std::strerror(errno));
        link_ = link;
    }
    stream_.assign(master_);
    stream_.non_blocking(true);

    powerOn_ = monotonicNow();
    nextReport_ = powerOn_ + secondsToNanos(emulator_.reportPeriodS());
    read();
    scheduleReport();
    scheduleGarbage();
}

RadarPort::~RadarPort()
{
    close();
}

void RadarPort::close()
{
    if (closed_)
        return;
    closed_ = true;
    reportTimer_.cancel();
    garbageTimer_.cancel();
    error_code ec;
    stream_.close(ec); /* closes master_ */
    if (slave_ >= 0)
        ::close(slave_);
    slave_ = -1;
    if (!link_.empty())
        ::unlink(link_.c_str());
}

void RadarPort::start(Nanos t0)
{
    t0_ = t0;
    scheduleFaults();
}

void RadarPort::scheduleFaults()
{
    auto at = [this](double s, std::function<void()> what) {
        auto timer = std::make_shared<asio::steady_timer>(io_);
        timer->expires_at(toTimePoint(t0_ + secondsToNanos(s)));
        timer->async_wait([this, what](const error_code &ec) {
            if (!ec && !closed_)
                what();
        });
        faultTimers_.push_back(timer);
    };
    for (const RadarResetFault &f : world_.scenario().faults.radarReset)
        at(f.atS, [this, f] { restart(f); });
    for (const RadarUnitsFault &f : world_.scenario().faults.radarUnits)
        at(f.atS, [this, f] {
            emulator_.forceUnits(f.units);
            logVerbose("radar: the stream switches to " + f.units);
        });
}

void RadarPort::restart(const RadarResetFault &fault)
{
    /* Power-on settings, the clock from zero, and nothing in or out while it boots. */
    if (fault.flashCosineDeg)
        emulator_.setFlashCosine(*fault.flashCosineDeg);
    emulator_.powerOn(fault.cause);
    Nanos now = monotonicNow();
    powerOn_ = now + secondsToNanos(fault.bootS);
    bootingUntil_ = powerOn_;
    nextReport_ = powerOn_ + secondsToNanos(emulator_.reportPeriodS());
    reportTimer_.cancel();
    scheduleReport();
    logVerbose("radar: reset (" + fault.cause + ")");
}

double RadarPort::sensorTime() const
{
    return nanosToSeconds(monotonicNow() - powerOn_);
}

void RadarPort::read()
{
    stream_.async_read_some(asio::buffer(readBuf_), [this](const error_code &ec, std::size_t n) {
        if (closed_)
            return;
        if (ec) {
            logLine("radar: reading the pty failed: " + ec.message());
            return;
        }
        if (!attached_) {
            attached_ = true;
            logVerbose("radar: host attached on " + slavePath_);
            if (onAttach)
                onAttach();
        }
        Nanos now = monotonicNow();
        if ((t0_ >= 0 && world_.radarSilent(now - t0_)) || now < bootingUntil_) {
            read(); /* a hung sensor: commands are lost */
            return;
        }
        std::string reply = emulator_.feed(std::string_view(readBuf_, n), sensorTime());
        send(std::move(reply), false);
        if (emulator_.takeSingleShot()) {
            reportTimer_.cancel();
            nextReport_ = now;
            scheduleReport();
        }
        read();
    });
}

void RadarPort::send(std::string bytes, bool data)
{
    if (bytes.empty() || closed_)
        return;
    if (data) {
        int pending = 0;
        if (::ioctl(slave_, FIONREAD, &pending) == 0 && pending > kStaleBytes) {
            ::tcflush(slave_, TCIFLUSH);
            ++flushes_;
            if (flushes_ == 1 || flushes_ % 100 == 0)
                logVerbose("radar: nobody is reading " + slavePath_ + "; discarding old lines");
        }
        ++linesSent_;
    }
    outbox_ += bytes;
    pump();
}

void RadarPort::pump()
{
    if (writing_ || outbox_.empty())
        return;
    inflight_.swap(outbox_);
    outbox_.clear();
    writing_ = true;
    asio::async_write(stream_, asio::buffer(inflight_), [this](const error_code &ec, std::size_t) {
        writing_ = false;
        inflight_.clear();
        if (closed_)
            return;
        if (ec) {
            logLine("radar: writing the pty failed: " + ec.message());
            return;
        }
        pump();
    });
}

void RadarPort::scheduleReport()
{
    reportTimer_.expires_at(toTimePoint(nextReport_));
    reportTimer_.async_wait([this](const error_code &ec) {
        if (!ec && !closed_)
            report();
    });
}

void RadarPort::report()
{
    Nanos at = nextReport_;
    Nanos now = monotonicNow();
    Nanos period = secondsToNanos(emulator_.reportPeriodS());
    nextReport_ += period;
    /* A real sensor keeps its own pace, so a report the host was late to send still goes
     * (stamped with the sensor time it was due); only a host stalled for seconds skips. */
    if (nextReport_ < now - kMaxReportLagNs)
        nextReport_ = now + period;

    bool single = emulator_.takeSingleShot();
    bool silent = t0_ >= 0 && world_.radarSilent(at - t0_);
    if (!silent && (emulator_.streaming() || single)) {
        std::vector<RadarReturn> returns;
        if (t0_ >= 0 && at >= t0_)
            returns = world_.radarReturns(at - t0_);
        std::vector<Ops243Emulator::Target> targets;
        std::normal_distribution<double> noise(0.0, mphToMps(world_.scenario().radar->noiseMph));
        for (const auto &r : returns)
            targets.push_back(
                    {r.losMps + (world_.scenario().radar->noiseMph > 0 ? noise(rng_) : 0.0),
                     r.magnitude, r.vehicle});
        std::vector<Ops243Emulator::Reported> reported;
        std::string line = emulator_.report(targets, nanosToSeconds(at - powerOn_), &reported);
        if (!line.empty()) {
            send(line, true);
            if (t0_ >= 0) {
                Json list = Json::array();
                for (const auto &rep : reported) {
                    Json vehicles = Json::array();
                    for (unsigned id : rep.vehicles)
                        for (const auto &r : returns)
                            if (r.vehicle == id)
                                vehicles.push_back(Json{
                                        {"vehicle", r.vehicle},
                                        {"plate", r.plate},
                                        {"true_mph", std::round(mpsToMph(r.pathMps) * 1e4) / 1e4},
                                        {"los_mph", std::round(mpsToMph(r.losMps) * 1e4) / 1e4},
                                        {"range_m", std::round(r.rangeM * 100) / 100}});
                    list.push_back(Json{{"value", rep.value},
                                        {"mph", std::round(mpsToMph(rep.mps) * 1e4) / 1e4},
                                        {"magnitude", std::round(rep.magnitude * 100) / 100},
                                        {"vehicles", vehicles}});
                }
                truth_.write(at - t0_, Json{{"type", "radar"},
                                            {"line", trimEol(line)},
                                            {"sensor_time_s",
                                             std::round(nanosToSeconds(at - powerOn_) * 1e3) / 1e3},
                                            {"unit", std::string(emulator_.unitsName())},
                                            {"angle_deg", world_.scenario().radar->angleDeg},
                                            {"targets", list}});
            }
        }
    }
    scheduleReport();
}

void RadarPort::scheduleGarbage()
{
    Nanos now = monotonicNow();
    double rate = 0;
    if (t0_ >= 0 && !world_.radarSilent(now - t0_))
        rate = world_.radarGarbageRate(now - t0_);
    Nanos wait = kGarbageIdleCheck;
    if (rate > 0) {
        std::string line = radarGarbageLine(rng_);
        send(line, true);
        truth_.write(now - t0_, Json{{"type", "radar_garbage"}, {"line", trimEol(line)}});
        std::uniform_real_distribution<double> jitter(0.5, 1.5);
        wait = secondsToNanos(jitter(rng_) / rate);
    }
    garbageTimer_.expires_at(toTimePoint(now + wait));
    garbageTimer_.async_wait([this](const error_code &ec) {
        if (!ec && !closed_)
            scheduleGarbage();
    });
}

} /* namespace stopline::sim */

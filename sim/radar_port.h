#pragma once

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "hal/time.h"
#include "sim/ops243.h"
#include "sim/truth_log.h"
#include "sim/world.h"

/* The radar on a pseudo-terminal: the host opens the slave path exactly as it would
 * open /dev/ttyACM0. The sensor "powers on" when this object is made: it answers
 * commands from then on and reports every buffer period, seeing the scenario's vehicles
 * once the scenario has started. Faults (garbage lines, silence) come from the world. */
namespace stopline::sim {

class RadarPort
{
public:
    /* Opens the pty; throws std::runtime_error when it cannot. `link`: also make a
     * symlink there to the slave (for configurations that want a fixed path). */
    RadarPort(boost::asio::io_context &io, const World &world, TruthLog &truth,
              const std::string &link);
    ~RadarPort();

    const std::string &path() const { return slavePath_; }
    const std::string &link() const { return link_; }
    void start(Nanos t0);
    void close();

    /* The host has sent at least one byte (a pty has no "connected" state). */
    bool attached() const { return attached_; }
    std::function<void()> onAttach;

    std::uint64_t linesSent() const { return linesSent_; }
    std::uint64_t staleFlushes() const { return flushes_; }

private:
    void read();
    void send(std::string bytes, bool data);
    void pump();
    void scheduleReport();
    void report();
    void scheduleGarbage();
    void scheduleFaults();
    void restart(const RadarResetFault &fault);
    double sensorTime() const;

    boost::asio::io_context &io_;
    const World &world_;
    TruthLog &truth_;
    Ops243Emulator emulator_;
    int master_ = -1;
    int slave_ = -1;
    std::string slavePath_;
    std::string link_;
    boost::asio::posix::stream_descriptor stream_;
    boost::asio::steady_timer reportTimer_;
    boost::asio::steady_timer garbageTimer_;
    char readBuf_[512];
    std::string outbox_, inflight_;
    bool writing_ = false;
    bool attached_ = false;
    bool closed_ = false;
    Nanos powerOn_ = 0;
    Nanos t0_ = -1;
    Nanos nextReport_ = 0;
    Nanos bootingUntil_ = 0; /* after a reset: deaf and silent until then */
    std::vector<std::shared_ptr<boost::asio::steady_timer>> faultTimers_;
    std::mt19937_64 rng_;
    std::uint64_t linesSent_ = 0;
    std::uint64_t flushes_ = 0;
};

} /* namespace stopline::sim */

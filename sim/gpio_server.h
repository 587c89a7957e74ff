#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "hal/time.h"
#include "sim/wire_server.h"
#include "sim/world.h"

/* The simulator's gpiochip on the GPIO wire (proto/sim_wire.proto): a client sends one
 * GpioRequest naming the chip and its lines, gets GpioChipInfo with their levels (or an
 * error naming the unknown chip, line or busy line, and the connection closes), then
 * one GpioEdge per edge on its lines, stamped with the CLOCK_MONOTONIC time the edge
 * happens in the simulation, the way the kernel stamps a line event. Sent when due, so
 * a client never sees an edge from the future. */
namespace stopline::sim {

class GpioServer
{
public:
    /* Binds `socketPath` (a stale socket there is replaced). `shared`: let several
     * clients request the same line (a real chip answers EBUSY). */
    GpioServer(boost::asio::io_context &io, const World &world, const std::string &socketPath,
               bool shared);
    ~GpioServer();

    /* Edges are sent from here on; t0 is the scenario start on CLOCK_MONOTONIC. */
    void start(Nanos t0);
    void close();

    std::size_t clients() const;
    /* Called whenever a client's request has been accepted. */
    std::function<void()> onClient;

    const std::string &path() const { return wire_.path(); }

private:
    struct Session;
    void dispatch();
    void arm();
    void handleRequest(const std::shared_ptr<Session> &session, std::string_view payload);
    void flush(const std::shared_ptr<Session> &session);

    const World &world_;
    bool shared_;
    boost::asio::steady_timer timer_;
    std::vector<bool> levels_;
    std::size_t next_ = 0;
    Nanos t0_ = -1;
    WireServer wire_; /* last: its handlers use the members above */
};

} /* namespace stopline::sim */

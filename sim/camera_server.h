#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "sim/scenario.h"
#include "sim/wire_server.h"

/* The simulator's camera on the camera wire (proto/sim_wire.proto): a client sends a
 * CameraRequest, gets CameraInfo (or an error naming what was wrong, then the
 * connection closes), then a CameraFrame per rendered frame. A client that falls behind
 * loses frames (the sequence numbers show the gap), as a real camera drops frames when
 * no buffer is free; it never slows the simulation down. Event thread only, except
 * clients(), which the render thread polls. */
namespace stopline::sim {

class CameraServer
{
public:
    CameraServer(boost::asio::io_context &io, const CameraSpec &spec,
                 const std::string &socketPath);
    ~CameraServer();

    /* Sends one framed CameraMessage to every client with room for it. */
    void publish(std::shared_ptr<const std::string> frame);
    void close();

    std::size_t clients() const { return clients_.load(); }
    std::uint64_t dropped() const { return dropped_; }
    std::function<void()> onClient;
    const std::string &path() const { return wire_.path(); }

private:
    struct Session;
    void handleRequest(const std::shared_ptr<Session> &session, std::string_view payload);
    void flush(const std::shared_ptr<Session> &session);
    void count();

    CameraSpec spec_;
    std::atomic<std::size_t> clients_{0};
    std::uint64_t dropped_ = 0;
    WireServer wire_; /* last: its handlers use the members above */
};

} /* namespace stopline::sim */

#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "sim/scenario.h"

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
    const std::string &path() const { return path_; }

private:
    struct Session;
    void accept();
    void read(const std::shared_ptr<Session> &session);
    void handleRequest(const std::shared_ptr<Session> &session, std::string_view payload);
    void flush(const std::shared_ptr<Session> &session);
    void drop(const std::shared_ptr<Session> &session, const std::string &why);
    void count();

    boost::asio::io_context &io_;
    CameraSpec spec_;
    std::string path_;
    boost::asio::local::stream_protocol::acceptor acceptor_;
    std::vector<std::shared_ptr<Session>> sessions_;
    std::atomic<std::size_t> clients_{0};
    std::uint64_t dropped_ = 0;
    bool closed_ = false;
};

} /* namespace stopline::sim */

#include "sim/camera_server.h"

#include <algorithm>
#include <chrono>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/write.hpp>

#include "hal/sim/framing.h"
#include "sim/log.h"
#include "sim_wire.pb.h"

namespace stopline::sim {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

/* Frames queued per client before new ones are dropped for it. */
constexpr std::size_t kMaxQueued = 2;
constexpr auto kRequestTimeout = std::chrono::seconds(10);

} /* namespace */

struct CameraServer::Session
{
    explicit Session(asio::io_context &io) : socket(io), deadline(io) {}
    asio::local::stream_protocol::socket socket;
    asio::steady_timer deadline;
    hal::sim::FrameReader reader{64 * 1024};
    bool accepted = false;
    bool closing = false;
    bool writing = false;
    std::deque<std::shared_ptr<const std::string>> queue;
};

CameraServer::CameraServer(asio::io_context &io, const CameraSpec &spec,
                           const std::string &socketPath)
    : io_(io), spec_(spec), path_(socketPath), acceptor_(io)
{
    struct stat st;
    if (::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
        ::unlink(path_.c_str());
    asio::local::stream_protocol::endpoint ep(path_);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    accept();
}

CameraServer::~CameraServer()
{
    close();
}

void CameraServer::close()
{
    if (closed_)
        return;
    closed_ = true;
    error_code ec;
    acceptor_.close(ec);
    for (auto &s : sessions_) {
        s->socket.close(ec);
        s->deadline.cancel();
    }
    sessions_.clear();
    count();
    ::unlink(path_.c_str());
}

void CameraServer::count()
{
    clients_ = std::count_if(sessions_.begin(), sessions_.end(),
                             [](const auto &s) { return s->accepted; });
}

void CameraServer::accept()
{
    auto session = std::make_shared<Session>(io_);
    acceptor_.async_accept(session->socket, [this, session](const error_code &ec) {
        if (closed_)
            return;
        if (!ec) {
            sessions_.push_back(session);
            session->deadline.expires_after(kRequestTimeout);
            session->deadline.async_wait([this, session](const error_code &e) {
                if (!e && !session->accepted && !session->closing)
                    drop(session, "no CameraRequest within 10 s");
            });
            read(session);
        }
        accept();
    });
}

void CameraServer::read(const std::shared_ptr<Session> &session)
{
    constexpr std::size_t kChunk = 4096;
    session->socket.async_read_some(asio::buffer(session->reader.prepare(kChunk), kChunk),
                                    [this, session](const error_code &e, std::size_t n) {
                                        if (closed_)
                                            return;
                                        if (e) {
                                            drop(session, e == asio::error::eof ? "" : e.message());
                                            return;
                                        }
                                        session->reader.commit(n);
                                        std::string_view payload;
                                        hal::sim::FrameReader::Status st;
                                        while ((st = session->reader.next(payload)) ==
                                               hal::sim::FrameReader::Status::Ready) {
                                            if (!session->accepted && !session->closing)
                                                handleRequest(session, payload);
                                        }
                                        if (st == hal::sim::FrameReader::Status::Oversized) {
                                            drop(session, "client announced an oversized frame");
                                            return;
                                        }
                                        read(session);
                                    });
}

void CameraServer::handleRequest(const std::shared_ptr<Session> &session, std::string_view payload)
{
    simwire::CameraMessage in, reply;
    simwire::CameraInfo *info = reply.mutable_info();
    info->set_id(spec_.id);
    info->set_width(spec_.width);
    info->set_height(spec_.height);
    info->set_pixel_format("BGR888");
    info->set_fps(spec_.fps);
    std::string error;
    if (!in.ParseFromArray(payload.data(), static_cast<int>(payload.size())) || !in.has_request()) {
        error = "expected a CameraRequest as the first message";
    } else {
        const simwire::CameraRequest &req = in.request();
        if (!req.camera().empty() && req.camera() != spec_.id)
            error = "unknown camera \"" + req.camera() + "\" (this simulator has \"" + spec_.id +
                    "\")";
        else if ((req.width() || req.height()) && (static_cast<int>(req.width()) != spec_.width ||
                                                   static_cast<int>(req.height()) != spec_.height))
            error = "size " + std::to_string(req.width()) + "x" + std::to_string(req.height()) +
                    " not available: camera \"" + spec_.id + "\" renders " +
                    std::to_string(spec_.width) + "x" + std::to_string(spec_.height) +
                    " (set [camera] width/height in the scenario)";
    }
    if (!error.empty()) {
        info->set_error(error);
        session->closing = true;
        logLine("camera: refused a client: " + error);
    } else {
        session->accepted = true;
        session->deadline.cancel();
        logVerbose("camera: client connected");
    }
    std::string out;
    hal::sim::appendMessage(out, reply);
    session->queue.push_front(std::make_shared<const std::string>(std::move(out)));
    count();
    flush(session);
    if (session->accepted && onClient)
        onClient();
}

void CameraServer::publish(std::shared_ptr<const std::string> frame)
{
    for (auto &s : sessions_) {
        if (!s->accepted)
            continue;
        if (s->queue.size() >= kMaxQueued) {
            ++dropped_;
            continue;
        }
        s->queue.push_back(frame);
        flush(s);
    }
}

void CameraServer::flush(const std::shared_ptr<Session> &session)
{
    if (session->writing || session->queue.empty())
        return;
    session->writing = true;
    auto data = session->queue.front();
    asio::async_write(session->socket, asio::buffer(*data),
                      [this, session, data](const error_code &ec, std::size_t) {
                          session->writing = false;
                          if (closed_)
                              return;
                          if (!session->queue.empty())
                              session->queue.pop_front();
                          if (ec) {
                              drop(session, ec.message());
                              return;
                          }
                          if (session->closing && session->queue.empty()) {
                              drop(session, "");
                              return;
                          }
                          flush(session);
                      });
}

void CameraServer::drop(const std::shared_ptr<Session> &session, const std::string &why)
{
    auto it = std::find(sessions_.begin(), sessions_.end(), session);
    if (it == sessions_.end())
        return;
    if (!why.empty())
        logLine("camera: dropping client: " + why);
    else
        logVerbose("camera: client left");
    sessions_.erase(it);
    error_code ec;
    session->deadline.cancel();
    session->socket.close(ec);
    count();
}

} /* namespace stopline::sim */

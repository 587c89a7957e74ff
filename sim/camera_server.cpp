#include "sim/camera_server.h"

#include <algorithm>
#include <deque>

#include <boost/asio/write.hpp>

#include "hal/sim/framing.h"
#include "sim/log.h"
#include "sim_wire.pb.h"

namespace stopline::sim {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

/* Frames queued per client before new ones are dropped for it: about half a second
 * at 15 fps, the depth of a libcamera stream's buffers plus the socket's, so a client
 * that pauses for a moment on a busy host catches up, and one that keeps falling behind
 * loses frames as a real camera does when no buffer is free. Bytes cap it too. */
constexpr std::size_t kMaxQueued = 8;
constexpr std::size_t kMaxQueuedBytes = std::size_t(64) << 20;

} /* namespace */

struct CameraServer::Session : WireSession
{
    using WireSession::WireSession;
    std::deque<std::shared_ptr<const std::string>> queue;
};

CameraServer::CameraServer(asio::io_context &io, const CameraSpec &spec,
                           const std::string &socketPath)
    : spec_(spec), wire_(io, "camera", "CameraRequest", socketPath,
                         {[&io] { return std::make_shared<Session>(io); },
                          [this](const WireServer::SessionPtr &s, std::string_view payload) {
                              handleRequest(std::static_pointer_cast<Session>(s), payload);
                          },
                          [this] { count(); }})
{}

CameraServer::~CameraServer()
{
    close();
}

void CameraServer::close()
{
    wire_.close();
}

void CameraServer::count()
{
    const auto &sessions = wire_.sessions();
    clients_ = std::count_if(sessions.begin(), sessions.end(),
                             [](const auto &s) { return s->accepted; });
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
    /* A copy: a failed write drops its session from the list. */
    std::vector<WireServer::SessionPtr> sessions = wire_.sessions();
    for (auto &ws : sessions) {
        auto s = std::static_pointer_cast<Session>(ws);
        if (!s->accepted)
            continue;
        if (s->queue.size() >= kMaxQueued || s->queue.size() * frame->size() >= kMaxQueuedBytes) {
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
                          if (wire_.closed())
                              return;
                          if (!session->queue.empty())
                              session->queue.pop_front();
                          if (ec) {
                              wire_.drop(session, ec.message());
                              return;
                          }
                          if (session->closing && session->queue.empty()) {
                              wire_.drop(session, "");
                              return;
                          }
                          flush(session);
                      });
}

} /* namespace stopline::sim */

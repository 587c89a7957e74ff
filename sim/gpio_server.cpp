#include "sim/gpio_server.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/write.hpp>

#include "hal/sim/framing.h"
#include "sim/log.h"
#include "sim_wire.pb.h"

namespace stopline::sim {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

/* A client that stops reading is cut off rather than buffered for ever (a kernel line
 * event FIFO overflows too). */
constexpr std::size_t kMaxOutbox = 8u << 20;

std::chrono::steady_clock::time_point toTimePoint(Nanos t)
{
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(t));
}

} /* namespace */

struct GpioServer::Session : WireSession
{
    using WireSession::WireSession;
    std::string who() const override { return "client \"" + consumer + "\""; }
    std::string consumer;
    std::vector<bool> wants;
    std::vector<std::uint64_t> seqno; /* per line, like libgpiod v2's line_seqno */
    std::string outbox, inflight;

    /* The peer hung up (even if its EOF is not processed yet): a restarted client must
     * not find its own lines busy. */
    bool peerGone()
    {
        char c;
        ssize_t n = ::recv(socket.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    }
};

GpioServer::GpioServer(asio::io_context &io, const World &world, const std::string &socketPath,
                       bool shared)
    : world_(world), shared_(shared), timer_(io),
      wire_(io, "gpio", "GpioRequest", socketPath,
            {[&io] { return std::make_shared<Session>(io); },
             [this](const WireServer::SessionPtr &s, std::string_view payload) {
                 handleRequest(std::static_pointer_cast<Session>(s), payload);
             },
             {}})
{
    for (const auto &l : world_.lines())
        levels_.push_back(l.initial);
}

GpioServer::~GpioServer()
{
    close();
}

void GpioServer::close()
{
    timer_.cancel();
    wire_.close();
}

std::size_t GpioServer::clients() const
{
    const auto &sessions = wire_.sessions();
    return std::count_if(sessions.begin(), sessions.end(),
                         [](const auto &s) { return s->accepted; });
}

void GpioServer::handleRequest(const std::shared_ptr<Session> &session, std::string_view payload)
{
    simwire::GpioMessage in;
    simwire::GpioMessage reply;
    simwire::GpioChipInfo *chip = reply.mutable_chip();
    chip->set_name(world_.scenario().gpioChip);
    chip->set_label(world_.scenario().gpioLabel);
    std::string error;

    const auto &lines = world_.lines();
    std::vector<unsigned> wanted;
    if (!in.ParseFromArray(payload.data(), static_cast<int>(payload.size())) || !in.has_request()) {
        error = "expected a GpioRequest as the first message";
    } else {
        const simwire::GpioRequest &req = in.request();
        session->consumer = req.consumer();
        const std::string &name = world_.scenario().gpioChip;
        if (req.chip() != name && req.chip() != world_.scenario().gpioLabel &&
            req.chip() != "/dev/" + name) {
            error = "unknown chip \"" + req.chip() + "\": this simulator plays \"" + name + "\" [" +
                    world_.scenario().gpioLabel + "]";
        }
        std::vector<std::string> unknown;
        for (const auto &want : req.lines()) {
            std::optional<unsigned> offset;
            for (const auto &l : lines)
                if (l.name == want || std::to_string(l.offset) == want)
                    offset = l.offset;
            if (!offset)
                unknown.push_back(want);
            else if (std::find(wanted.begin(), wanted.end(), *offset) == wanted.end())
                wanted.push_back(*offset);
        }
        if (req.lines().empty())
            for (const auto &l : lines)
                wanted.push_back(l.offset);
        if (error.empty() && !unknown.empty()) {
            std::string list, all;
            for (const auto &u : unknown)
                list += (list.empty() ? "\"" : ", \"") + u + "\"";
            for (const auto &l : lines)
                all += (all.empty() ? "" : ", ") + l.name;
            error = "unknown line" + std::string(unknown.size() > 1 ? "s " : " ") + list + " on " +
                    name + " (its lines: " + all + ")";
        }
        if (error.empty() && !shared_) {
            for (const auto &ws : wire_.sessions()) {
                auto other = std::static_pointer_cast<Session>(ws);
                if (other == session || !other->accepted || other->peerGone())
                    continue;
                for (unsigned o : wanted)
                    if (other->wants[o]) {
                        error = "line \"" + lines[o].name + "\" is busy (requested by \"" +
                                other->consumer + "\")";
                        break;
                    }
                if (!error.empty())
                    break;
            }
        }
    }

    if (!error.empty()) {
        chip->set_error(error);
        session->closing = true;
        logLine("gpio: refused a client: " + error);
    } else {
        session->accepted = true;
        session->deadline.cancel();
        session->wants.assign(lines.size(), false);
        session->seqno.assign(lines.size(), 0);
        for (unsigned o : wanted) {
            session->wants[o] = true;
            simwire::GpioLine *l = chip->add_lines();
            l->set_offset(o);
            l->set_name(lines[o].name);
            l->set_value(levels_[o]);
        }
        logVerbose("gpio: client \"" + session->consumer + "\" took " +
                   std::to_string(wanted.size()) + " line(s)");
    }
    hal::sim::appendMessage(session->outbox, reply);
    flush(session);
    if (session->accepted && onClient)
        onClient();
}

void GpioServer::flush(const std::shared_ptr<Session> &session)
{
    if (session->writing || session->outbox.empty())
        return;
    session->inflight.swap(session->outbox);
    session->outbox.clear();
    session->writing = true;
    asio::async_write(session->socket, asio::buffer(session->inflight),
                      [this, session](const error_code &ec, std::size_t) {
                          session->writing = false;
                          session->inflight.clear();
                          if (wire_.closed())
                              return;
                          if (ec) {
                              wire_.drop(session, ec.message());
                              return;
                          }
                          if (session->closing && session->outbox.empty()) {
                              wire_.drop(session, "");
                              return;
                          }
                          flush(session);
                      });
}

void GpioServer::start(Nanos t0)
{
    t0_ = t0;
    arm();
}

void GpioServer::arm()
{
    const auto &edges = world_.edges();
    if (wire_.closed() || next_ >= edges.size())
        return;
    timer_.expires_at(toTimePoint(t0_ + edges[next_].at));
    timer_.async_wait([this](const error_code &ec) {
        if (!ec)
            dispatch();
    });
}

void GpioServer::dispatch()
{
    const auto &edges = world_.edges();
    const auto &lines = world_.lines();
    Nanos now = monotonicNow();
    simwire::GpioMessage msg;
    simwire::GpioEdge *edge = msg.mutable_edge();
    while (next_ < edges.size() && t0_ + edges[next_].at <= now) {
        const GpioEdgeEvent &e = edges[next_++];
        levels_[e.offset] = e.rising;
        for (const auto &ws : wire_.sessions()) {
            auto s = std::static_pointer_cast<Session>(ws);
            if (!s->accepted || !s->wants[e.offset])
                continue;
            edge->set_offset(e.offset);
            edge->set_name(lines[e.offset].name);
            edge->set_rising(e.rising);
            edge->set_timestamp_ns(t0_ + e.at);
            edge->set_seqno(++s->seqno[e.offset]);
            hal::sim::appendMessage(s->outbox, msg);
        }
    }
    std::vector<std::shared_ptr<Session>> slow;
    for (const auto &ws : wire_.sessions()) {
        auto s = std::static_pointer_cast<Session>(ws);
        if (s->outbox.size() > kMaxOutbox)
            slow.push_back(s);
        else
            flush(s);
    }
    for (auto &s : slow)
        wire_.drop(s, "client is not reading its edges (more than 8 MB queued)");
    arm();
}

} /* namespace stopline::sim */

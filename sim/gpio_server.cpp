#include "sim/gpio_server.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <sys/socket.h>
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

/* A client that stops reading is cut off rather than buffered for ever (a kernel line
 * event FIFO overflows too). */
constexpr std::size_t kMaxOutbox = 8u << 20;
constexpr auto kRequestTimeout = std::chrono::seconds(10);

std::chrono::steady_clock::time_point toTimePoint(Nanos t)
{
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(t));
}

} /* namespace */

struct GpioServer::Session
{
    explicit Session(asio::io_context &io) : socket(io), deadline(io) {}
    asio::local::stream_protocol::socket socket;
    asio::steady_timer deadline;
    hal::sim::FrameReader reader{64 * 1024};
    bool accepted = false;
    bool closing = false; /* refused: close once the answer is out */
    bool writing = false;
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
    : io_(io), world_(world), path_(socketPath), shared_(shared), acceptor_(io), timer_(io)
{
    struct stat st;
    if (::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
        ::unlink(path_.c_str());
    asio::local::stream_protocol::endpoint ep(path_);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    for (const auto &l : world_.lines())
        levels_.push_back(l.initial);
    accept();
}

GpioServer::~GpioServer()
{
    close();
}

void GpioServer::close()
{
    if (closed_)
        return;
    closed_ = true;
    error_code ec;
    acceptor_.close(ec);
    timer_.cancel();
    for (auto &s : sessions_) {
        s->socket.close(ec);
        s->deadline.cancel();
    }
    sessions_.clear();
    ::unlink(path_.c_str());
}

std::size_t GpioServer::clients() const
{
    return std::count_if(sessions_.begin(), sessions_.end(),
                         [](const auto &s) { return s->accepted; });
}

void GpioServer::accept()
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
                    drop(session, "no GpioRequest within 10 s");
            });
            read(session);
        }
        accept();
    });
}

/* The request first, then reads only to notice the client leaving. */
void GpioServer::read(const std::shared_ptr<Session> &session)
{
    constexpr std::size_t kChunk = 4096;
    session->socket.async_read_some(
            asio::buffer(session->reader.prepare(kChunk), kChunk),
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
                    else
                        logVerbose("gpio: ignoring a message after the request");
                }
                if (st == hal::sim::FrameReader::Status::Oversized) {
                    drop(session, "client announced an oversized frame");
                    return;
                }
                read(session);
            });
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
            for (const auto &other : sessions_) {
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
                          if (closed_)
                              return;
                          if (ec) {
                              drop(session, ec.message());
                              return;
                          }
                          if (session->closing && session->outbox.empty()) {
                              drop(session, "");
                              return;
                          }
                          flush(session);
                      });
}

void GpioServer::drop(const std::shared_ptr<Session> &session, const std::string &why)
{
    auto it = std::find(sessions_.begin(), sessions_.end(), session);
    if (it == sessions_.end())
        return;
    if (!why.empty())
        logLine("gpio: dropping client \"" + session->consumer + "\": " + why);
    else
        logVerbose("gpio: client \"" + session->consumer + "\" left");
    sessions_.erase(it);
    error_code ec;
    session->deadline.cancel();
    session->socket.close(ec);
}

void GpioServer::start(Nanos t0)
{
    t0_ = t0;
    arm();
}

void GpioServer::arm()
{
    const auto &edges = world_.edges();
    if (closed_ || next_ >= edges.size())
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
        for (auto &s : sessions_) {
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
    for (auto &s : sessions_) {
        if (s->outbox.size() > kMaxOutbox)
            slow.push_back(s);
        else
            flush(s);
    }
    for (auto &s : slow)
        drop(s, "client is not reading its edges (more than 8 MB queued)");
    arm();
}

} /* namespace stopline::sim */

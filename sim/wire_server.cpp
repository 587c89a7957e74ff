#include "sim/wire_server.h"

#include <algorithm>
#include <chrono>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/log.h"

namespace stopline::sim {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr auto kRequestTimeout = std::chrono::seconds(10);

} /* namespace */

WireServer::WireServer(asio::io_context &io, std::string name, std::string request,
                       const std::string &socketPath, Handlers handlers)
    : name_(std::move(name)), request_(std::move(request)), path_(socketPath),
      handlers_(std::move(handlers)), acceptor_(io)
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

WireServer::~WireServer()
{
    close();
}

void WireServer::close()
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
    ::unlink(path_.c_str());
    if (handlers_.onChange)
        handlers_.onChange();
}

void WireServer::accept()
{
    SessionPtr session = handlers_.makeSession();
    acceptor_.async_accept(session->socket, [this, session](const error_code &ec) {
        if (closed_)
            return;
        if (!ec) {
            sessions_.push_back(session);
            session->deadline.expires_after(kRequestTimeout);
            session->deadline.async_wait([this, session](const error_code &e) {
                if (!e && !session->accepted && !session->closing)
                    drop(session, "no " + request_ + " within 10 s");
            });
            read(session);
            if (handlers_.onChange)
                handlers_.onChange();
        }
        accept();
    });
}

/* The request first; after it, reads only notice the client leaving. */
void WireServer::read(const SessionPtr &session)
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
                        handlers_.onRequest(session, payload);
                    else
                        logVerbose(name_ + ": ignoring a message after the request");
                }
                if (st == hal::sim::FrameReader::Status::Oversized) {
                    drop(session, "client announced an oversized frame");
                    return;
                }
                read(session);
            });
}

void WireServer::drop(const SessionPtr &session, const std::string &why)
{
    auto it = std::find(sessions_.begin(), sessions_.end(), session);
    if (it == sessions_.end())
        return;
    if (!why.empty())
        logLine(name_ + ": dropping " + session->who() + ": " + why);
    else
        logVerbose(name_ + ": " + session->who() + " left");
    sessions_.erase(it);
    error_code ec;
    session->deadline.cancel();
    session->socket.close(ec);
    if (handlers_.onChange)
        handlers_.onChange();
}

} /* namespace stopline::sim */

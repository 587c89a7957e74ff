#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "hal/sim/framing.h"

/* What the simulator's camera and GPIO servers have in common: a Unix socket bound in
 * place of a stale one (a crashed run leaves its socket file behind), a session per
 * client that must send its request within 10 s, the framed read loop, and dropping a
 * client. Each server keeps what differs: what the request means and how answers and
 * events are queued. Event thread only. */
namespace stopline::sim {

struct WireSession
{
    explicit WireSession(boost::asio::io_context &io) : socket(io), deadline(io) {}
    virtual ~WireSession() = default;
    /* How the log names this client ("client", "client \"stoplined\""). */
    virtual std::string who() const { return "client"; }

    boost::asio::local::stream_protocol::socket socket;
    boost::asio::steady_timer deadline;
    hal::sim::FrameReader reader{64 * 1024};
    bool accepted = false;
    bool closing = false; /* refused: close once the answer is out */
    bool writing = false;
};

class WireServer
{
public:
    using SessionPtr = std::shared_ptr<WireSession>;
    struct Handlers
    {
        std::function<SessionPtr()> makeSession;
        /* The client's first message; later ones are ignored. */
        std::function<void(const SessionPtr &, std::string_view)> onRequest;
        /* A session was added or removed. */
        std::function<void()> onChange;
    };

    /* `name` prefixes log lines ("camera"); `request` names the expected first message. */
    WireServer(boost::asio::io_context &io, std::string name, std::string request,
               const std::string &socketPath, Handlers handlers);
    ~WireServer();
    WireServer(const WireServer &) = delete;
    WireServer &operator=(const WireServer &) = delete;

    void close();
    /* Closes and forgets the session; `why` empty: the client left on its own. */
    void drop(const SessionPtr &session, const std::string &why);

    const std::vector<SessionPtr> &sessions() const { return sessions_; }
    bool closed() const { return closed_; }
    const std::string &path() const { return path_; }

private:
    void accept();
    void read(const SessionPtr &session);

    std::string name_;
    std::string request_;
    std::string path_;
    Handlers handlers_;
    boost::asio::local::stream_protocol::acceptor acceptor_;
    std::vector<SessionPtr> sessions_;
    bool closed_ = false;
};

} /* namespace stopline::sim */

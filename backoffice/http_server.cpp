#include "backoffice/http_server.h"

#include <array>
#include <iostream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace stopline::backoffice {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

std::string HttpRequest::header(const std::string &name) const
{
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
}

std::string urlDecode(const std::string &s)
{
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() &&
            std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string HttpRequest::queryParam(const std::string &name) const
{
    size_t pos = 0;
    while (pos <= query.size()) {
        size_t end = query.find('&', pos);
        if (end == std::string::npos)
            end = query.size();
        std::string part = query.substr(pos, end - pos);
        size_t eq = part.find('=');
        if (urlDecode(part.substr(0, eq)) == name)
            return eq == std::string::npos ? std::string() : urlDecode(part.substr(eq + 1));
        pos = end + 1;
    }
    return {};
}

std::string HttpRequest::cookie(const std::string &name) const
{
    std::string all = header("cookie");
    size_t pos = 0;
    while (pos < all.size()) {
        size_t end = all.find(';', pos);
        if (end == std::string::npos)
            end = all.size();
        std::string part = all.substr(pos, end - pos);
        size_t start = part.find_first_not_of(' ');
        if (start != std::string::npos) {
            part = part.substr(start);
            size_t eq = part.find('=');
            if (eq != std::string::npos && part.substr(0, eq) == name)
                return part.substr(eq + 1);
        }
        pos = end + 1;
    }
    return {};
}

std::pair<std::string, uint16_t> splitHostPort(const std::string &text)
{
    size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 >= text.size())
        throw std::invalid_argument("'" + text + "' is not HOST:PORT");
    std::string host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    int port = 0;
    try {
        port = std::stoi(text.substr(colon + 1));
    } catch (...) {
        port = -1;
    }
    if (port < 0 || port > 65535)
        throw std::invalid_argument("'" + text + "': port must be 0..65535");
    return {host.empty() ? "0.0.0.0" : host, static_cast<uint16_t>(port)};
}

namespace {

/* The one place transport errors are reported. Clients hanging up, timeouts of idle
 * keep-alive connections and TLS peers closing without close_notify are normal. */
void reportError(beast::error_code ec, const char *what)
{
    if (ec == net::error::operation_aborted || ec == http::error::end_of_stream ||
        ec == beast::error::timeout || ec == net::error::eof ||
        ec == ssl::error::stream_truncated || ec == net::error::connection_reset ||
        ec == net::error::broken_pipe)
        return;
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    std::cerr << "stopline-backoffice: " << what << ": " << ec.message() << "\n";
}

std::string clientCertName(SSL *ssl)
{
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (!cert)
        return {};
    std::string name;
    if (SSL_get_verify_result(ssl) == X509_V_OK) {
        char buf[256] = {0};
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf,
                                      sizeof(buf)) > 0)
            name = buf;
    }
    X509_free(cert);
    return name;
}

template <class Derived> class Session
{
public:
    Session(const HttpServerOptions &options, const HttpHandler &handler)
        : options_(options), handler_(handler)
    {}

protected:
    Derived &self() { return static_cast<Derived &>(*this); }

    void readRequest()
    {
        parser_.emplace();
        parser_->body_limit(options_.bodyLimit);
        beast::get_lowest_layer(self().stream()).expires_after(options_.headerTimeout);
        http::async_read_header(
                self().stream(), buffer_, *parser_,
                beast::bind_front_handler(&Session::onHeader, self().shared_from_this()));
    }

    void onHeader(beast::error_code ec, std::size_t)
    {
        if (ec)
            return failRead(ec, "read header");
        auto &req = parser_->get();
        if (auto len = parser_->content_length(); len && *len > options_.bodyLimit)
            return sendError(413,
                             "body of " + std::to_string(*len) + " bytes exceeds the limit of " +
                                     std::to_string(options_.bodyLimit),
                             false);
        /* Clients that wait for 100-continue get it only when the body fits. */
        if (req[http::field::expect] == "100-continue") {
            http::response<http::empty_body> cont{http::status::continue_, req.version()};
            http::write(self().stream(), cont, ec);
            if (ec)
                return reportError(ec, "write 100-continue");
        }
        beast::get_lowest_layer(self().stream()).expires_after(options_.bodyTimeout);
        http::async_read(self().stream(), buffer_, *parser_,
                         beast::bind_front_handler(&Session::onRead, self().shared_from_this()));
    }

    void failRead(beast::error_code ec, const char *what)
    {
        if (ec == http::error::body_limit)
            return sendError(413,
                             "body exceeds the limit of " + std::to_string(options_.bodyLimit) +
                                     " bytes",
                             false);
        if (ec.category() == beast::error_code(http::error::bad_target).category() &&
            ec != http::error::end_of_stream && ec != http::error::partial_message)
            return sendError(400, std::string("malformed HTTP request: ") + ec.message(), false);
        reportError(ec, what);
        self().close();
    }

    void onRead(beast::error_code ec, std::size_t)
    {
        if (ec)
            return failRead(ec, "read body");
        http::request<http::string_body> req = parser_->release();
        HttpRequest in;
        in.method = std::string(req.method_string());
        in.target = std::string(req.target());
        size_t q = in.target.find('?');
        in.path = urlDecode(in.target.substr(0, q));
        in.query = q == std::string::npos ? "" : in.target.substr(q + 1);
        for (const auto &field : req) {
            std::string name(field.name_string());
            for (char &c : name)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            in.headers[name] = std::string(field.value());
        }
        in.body = std::move(req.body());
        beast::error_code epErr;
        auto ep = beast::get_lowest_layer(self().stream()).socket().remote_endpoint(epErr);
        in.remoteIp = epErr ? "" : ep.address().to_string();
        in.tls = Derived::kTls;
        in.clientCertName = clientName_;
        HttpResponse out;
        try {
            out = handler_(in);
        } catch (const std::exception &e) {
            std::cerr << "stopline-backoffice: " << in.method << " " << in.path << ": " << e.what()
                      << "\n";
            out = HttpResponse{500,
                               "application/json",
                               std::string("{\"error\":\"internal error; see the server log\"}"),
                               {}};
        }
        send(std::move(out), req.keep_alive(), req.version(), req.method() == http::verb::head);
    }

    /* Errors found while reading: the rest of the request is read and discarded
     * (bounded in time) after the answer, so the client sees the answer rather than a
     * connection reset while it is still sending. */
    void sendError(int status, const std::string &message, bool keepAlive)
    {
        std::string body = "{\"error\":\"" + message + "\"}";
        drainAfterWrite_ = !keepAlive;
        send(HttpResponse{status, "application/json", body, {}}, keepAlive, 11);
    }

    void drain()
    {
        beast::get_lowest_layer(self().stream()).expires_after(std::chrono::seconds(5));
        self().stream().async_read_some(
                net::buffer(scratch_),
                [self = self().shared_from_this()](beast::error_code ec, std::size_t n) {
                    self->drained_ += n;
                    if (ec || self->drained_ > (size_t{256} << 20))
                        return self->close();
                    self->drain();
                });
    }

    /* A HEAD answer has the headers of the GET answer, Content-Length included, and
     * no body (RFC 9110 9.3.2): a body would be read as the next response. */
    void send(HttpResponse out, bool keepAlive, unsigned version, bool headOnly = false)
    {
        auto res = std::make_shared<http::response<http::string_body>>(
                static_cast<http::status>(out.status), version);
        res->set(http::field::server, "stopline-backoffice");
        res->set(http::field::content_type, out.contentType);
        /* Every answer: no sniffing, no framing by other sites, nothing cached by
         * shared caches (cases carry personal data). */
        res->set("X-Content-Type-Options", "nosniff");
        res->set("X-Frame-Options", "DENY");
        res->set("Referrer-Policy", "no-referrer");
        /* Browsers that once reached us over TLS never fall back to plain HTTP, where
         * the session cookie could be stripped or read on the way. */
        if constexpr (Derived::kTls)
            res->set(http::field::strict_transport_security, "max-age=31536000");
        bool hasCache = false;
        for (auto &[k, v] : out.headers) {
            res->insert(k, v);
            hasCache = hasCache || k == "Cache-Control";
        }
        if (!hasCache)
            res->set(http::field::cache_control, "no-store");
        res->keep_alive(keepAlive);
        res->body() = std::move(out.body);
        res->prepare_payload();
        if (headOnly) {
            size_t length = res->body().size();
            res->body().clear();
            res->content_length(length);
        }
        beast::get_lowest_layer(self().stream()).expires_after(options_.bodyTimeout);
        http::async_write(
                self().stream(), *res,
                [self = self().shared_from_this(), res](beast::error_code ec, std::size_t) {
                    self->onWrite(ec, res->need_eof());
                });
    }

    void onWrite(beast::error_code ec, bool close)
    {
        if (ec) {
            reportError(ec, "write");
            return self().close();
        }
        if (drainAfterWrite_) {
            self().shutdownSend();
            return drain();
        }
        if (close)
            return self().close();
        beast::get_lowest_layer(self().stream()).expires_after(options_.idleTimeout);
        readRequest();
    }

    const HttpServerOptions &options_;
    const HttpHandler &handler_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::string clientName_;
    bool drainAfterWrite_ = false;
    size_t drained_ = 0;
    std::array<char, 65536> scratch_;
};

class PlainSession : public Session<PlainSession>, public std::enable_shared_from_this<PlainSession>
{
public:
    static constexpr bool kTls = false;
    PlainSession(tcp::socket &&socket, const HttpServerOptions &o, const HttpHandler &h)
        : Session(o, h), stream_(std::move(socket))
    {}
    void run()
    {
        net::dispatch(stream_.get_executor(),
                      beast::bind_front_handler(&PlainSession::readRequest, shared_from_this()));
    }
    beast::tcp_stream &stream() { return stream_; }
    void shutdownSend()
    {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
    void close() { shutdownSend(); }

private:
    friend class Session<PlainSession>;
    beast::tcp_stream stream_;
};

class TlsSession : public Session<TlsSession>, public std::enable_shared_from_this<TlsSession>
{
public:
    static constexpr bool kTls = true;
    TlsSession(tcp::socket &&socket, ssl::context &ctx, const HttpServerOptions &o,
               const HttpHandler &h)
        : Session(o, h), stream_(std::move(socket), ctx)
    {}
    void run()
    {
        net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
            beast::get_lowest_layer(self->stream_).expires_after(self->options_.headerTimeout);
            self->stream_.async_handshake(
                    ssl::stream_base::server,
                    beast::bind_front_handler(&TlsSession::onHandshake, self));
        });
    }
    beast::ssl_stream<beast::tcp_stream> &stream() { return stream_; }
    void shutdownSend() {}
    void close()
    {
        beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
        stream_.async_shutdown([self = shared_from_this()](beast::error_code ec) {
            if (ec)
                reportError(ec, "TLS shutdown");
        });
    }

private:
    friend class Session<TlsSession>;
    void onHandshake(beast::error_code ec)
    {
        if (ec)
            return reportError(ec, "TLS handshake");
        clientName_ = clientCertName(stream_.native_handle());
        readRequest();
    }
    beast::ssl_stream<beast::tcp_stream> stream_;
};

class Listener : public std::enable_shared_from_this<Listener>
{
public:
    Listener(net::io_context &ioc, const std::string &where, ssl::context *tls,
             const HttpServerOptions &o, const HttpHandler &h)
        : ioc_(ioc), acceptor_(net::make_strand(ioc)), tls_(tls), options_(o), handler_(h)
    {
        auto [host, port] = splitHostPort(where);
        beast::error_code ec;
        auto address = net::ip::make_address(host, ec);
        if (ec)
            throw std::runtime_error("cannot listen on " + where + ": bad address");
        tcp::endpoint ep(address, port);
        acceptor_.open(ep.protocol(), ec);
        if (!ec)
            acceptor_.set_option(net::socket_base::reuse_address(true), ec);
        if (!ec)
            acceptor_.bind(ep, ec);
        if (!ec)
            acceptor_.listen(net::socket_base::max_listen_connections, ec);
        if (ec)
            throw std::runtime_error("cannot listen on " + where + ": " + ec.message());
        port_ = acceptor_.local_endpoint().port();
    }
    void run() { accept(); }
    void stop()
    {
        net::post(acceptor_.get_executor(), [self = shared_from_this()] {
            beast::error_code ec;
            self->acceptor_.close(ec);
        });
    }
    uint16_t port() const { return port_; }

private:
    void accept()
    {
        acceptor_.async_accept(net::make_strand(ioc_),
                               beast::bind_front_handler(&Listener::onAccept, shared_from_this()));
    }
    void onAccept(beast::error_code ec, tcp::socket socket)
    {
        if (ec == net::error::operation_aborted)
            return;
        if (ec) {
            reportError(ec, "accept");
        } else if (tls_) {
            std::make_shared<TlsSession>(std::move(socket), *tls_, options_, handler_)->run();
        } else {
            std::make_shared<PlainSession>(std::move(socket), options_, handler_)->run();
        }
        accept();
    }
    net::io_context &ioc_;
    tcp::acceptor acceptor_;
    ssl::context *tls_;
    const HttpServerOptions &options_;
    const HttpHandler &handler_;
    uint16_t port_ = 0;
};

} /* namespace */

struct HttpServer::Impl
{
    HttpServerOptions options;
    HttpHandler handler;
    net::io_context ioc;
    std::unique_ptr<ssl::context> tls;
    std::shared_ptr<Listener> plain, secure;
    std::vector<std::thread> threads;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
};

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : impl_(std::make_unique<Impl>())
{
    impl_->options = std::move(options);
    impl_->handler = std::move(handler);
}

HttpServer::~HttpServer()
{
    stop();
}

void HttpServer::start()
{
    Impl &m = *impl_;
    if (m.options.listen.empty() && m.options.listenTls.empty())
        throw std::runtime_error("nothing to listen on: give --listen and/or --listen-tls");
    if (!m.options.listenTls.empty()) {
        if (m.options.certFile.empty() || m.options.keyFile.empty())
            throw std::runtime_error("HTTPS needs --tls-cert and --tls-key");
        m.tls = std::make_unique<ssl::context>(ssl::context::tls_server);
        m.tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1);
        beast::error_code ec;
        m.tls->use_certificate_chain_file(m.options.certFile, ec);
        if (ec)
            throw std::runtime_error("cannot load TLS certificate " + m.options.certFile + ": " +
                                     ec.message());
        m.tls->use_private_key_file(m.options.keyFile, ssl::context::pem, ec);
        if (ec)
            throw std::runtime_error("cannot load TLS key " + m.options.keyFile + ": " +
                                     ec.message());
        if (!m.options.clientCaFile.empty()) {
            m.tls->load_verify_file(m.options.clientCaFile, ec);
            if (ec)
                throw std::runtime_error("cannot load client CA " + m.options.clientCaFile + ": " +
                                         ec.message());
            SSL_CTX_set_client_CA_list(m.tls->native_handle(),
                                       SSL_load_client_CA_file(m.options.clientCaFile.c_str()));
            /* Ask for a certificate but do not demand one: browsers log in with
             * passwords, devices behind a terminator use tokens. A certificate that is
             * presented and fails verification ends the handshake. */
            m.tls->set_verify_mode(ssl::verify_peer);
        }
        m.secure = std::make_shared<Listener>(m.ioc, m.options.listenTls, m.tls.get(), m.options,
                                              m.handler);
    }
    if (!m.options.listen.empty())
        m.plain =
                std::make_shared<Listener>(m.ioc, m.options.listen, nullptr, m.options, m.handler);
    if (m.plain)
        m.plain->run();
    if (m.secure)
        m.secure->run();
    m.work.emplace(m.ioc.get_executor());
    unsigned n = m.options.threads ? m.options.threads : 1;
    for (unsigned i = 0; i < n; ++i)
        m.threads.emplace_back([&m] { m.ioc.run(); });
}

void HttpServer::stop()
{
    Impl &m = *impl_;
    if (m.threads.empty())
        return;
    if (m.plain)
        m.plain->stop();
    if (m.secure)
        m.secure->stop();
    m.work.reset();
    m.ioc.stop();
    for (std::thread &t : m.threads)
        t.join();
    m.threads.clear();
}

uint16_t HttpServer::port() const
{
    return impl_->plain ? impl_->plain->port() : 0;
}

uint16_t HttpServer::tlsPort() const
{
    return impl_->secure ? impl_->secure->port() : 0;
}

} /* namespace stopline::backoffice */

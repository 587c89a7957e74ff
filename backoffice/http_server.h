#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace stopline::backoffice {

/* A request as the application sees it: no Beast types, so routes are tested and
 * reasoned about without sockets. */
struct HttpRequest
{
    std::string method;
    std::string target; /* as sent, with query */
    std::string path;   /* percent-decoded, without query */
    std::string query;
    std::map<std::string, std::string> headers; /* lower-case names */
    std::string body;
    std::string remoteIp;
    bool tls = false;
    /* Common name of a client certificate that verified against the client CA; empty
     * when none was presented (browsers, devices behind a TLS terminator). */
    std::string clientCertName;

    std::string header(const std::string &lowerName) const;
    std::string queryParam(const std::string &name) const;
    std::string cookie(const std::string &name) const;
};

struct HttpResponse
{
    int status = 200;
    std::string contentType = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest &)>;

struct HttpServerOptions
{
    std::string listen;    /* "127.0.0.1:8080"; empty: no plain HTTP */
    std::string listenTls; /* "0.0.0.0:8443"; empty: no HTTPS */
    std::string certFile;  /* PEM chain for HTTPS */
    std::string keyFile;
    std::string clientCaFile; /* devices' CA: enables client certificates */
    unsigned threads = 4;
    size_t bodyLimit = 16 * 1024 * 1024;
    std::chrono::milliseconds headerTimeout{10'000};
    std::chrono::milliseconds bodyTimeout{60'000};
    std::chrono::milliseconds idleTimeout{30'000};
};

/* HTTP/1.1 and HTTPS server in the habit of Beast's "advanced server": every read has
 * a timeout and a body limit (oversize is answered 413 before the body is read when
 * Content-Length says so), each session runs on its own strand, a small pool of
 * threads runs the io_context, and transport errors are reported in one place. */
class HttpServer
{
public:
    HttpServer(HttpServerOptions options, HttpHandler handler);
    ~HttpServer();
    HttpServer(const HttpServer &) = delete;
    HttpServer &operator=(const HttpServer &) = delete;

    /* Binds and starts serving; throws std::runtime_error naming the address. */
    void start();
    void stop();

    /* Actual ports (useful with port 0); 0 when that listener is off. */
    uint16_t port() const;
    uint16_t tlsPort() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/* "host:port" → pair; throws std::invalid_argument naming the text. */
std::pair<std::string, uint16_t> splitHostPort(const std::string &text);

/* Percent-decoding of a path or query component ('+' stays '+'). */
std::string urlDecode(const std::string &s);

} /* namespace stopline::backoffice */

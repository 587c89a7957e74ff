#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

namespace stopline::pipeline {

/* Where and how to reach the back-office. */
struct HttpTarget
{
    std::string url;            /* http://host:port or https://host:port, no path */
    std::string caFile;         /* server certificate must chain to this (https) */
    std::string clientCertFile; /* device identity for mutual TLS (optional) */
    std::string clientKeyFile;
    std::string bearerToken; /* device token when TLS terminates elsewhere (optional) */
    std::chrono::milliseconds timeout{15000}; /* per connect, write and read */
    std::size_t maxResponseBytes = 1 << 20;
};

struct HttpResponse
{
    int status = 0; /* 0: no response (see error) */
    std::string body;
    std::string contentType;
    std::string error; /* transport error, empty when a response arrived */
};

/* A small asynchronous HTTP/1.1 client for the uploader (Boost.Beast, OpenSSL):
 * one request at a time, the connection kept alive between requests and re-opened
 * when the server closed it. The server certificate is checked against the configured
 * CA and the host name. Every step has a timeout. Lives on the event thread. */
class HttpClient
{
public:
    using Callback = std::function<void(HttpResponse)>;

    /* Throws std::runtime_error naming a bad URL or an unreadable certificate/key. */
    HttpClient(boost::asio::io_context &io, HttpTarget target);
    ~HttpClient();

    /* Sends one request; `done` is called exactly once on the event thread. */
    void post(const std::string &path, const std::string &contentType, std::string body,
              Callback done);

    bool busy() const;
    void close();

private:
    class Impl;
    std::shared_ptr<Impl> impl_;
};

} /* namespace stopline::pipeline */

#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace stopline::backoffice {

struct ClientResponse
{
    int status = 0;
    std::string body;
    std::map<std::string, std::string> headers; /* lower-case names */
    std::string header(const std::string &name) const
    {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

struct ClientTls
{
    std::string caFile;   /* server certificate must chain to it */
    std::string certFile; /* client certificate (device identity), optional */
    std::string keyFile;
};

/* A small blocking HTTP/1.1 client over one keep-alive connection (reconnecting when
 * the server closed it), plain or TLS: what tests, benchmarks and the seeding tool use
 * to talk to the real server. Not thread-safe: one per thread. */
class HttpClient
{
public:
    HttpClient(std::string host, uint16_t port, const ClientTls *tls = nullptr);
    ~HttpClient();

    /* Throws std::runtime_error when the server cannot be reached or hangs up. */
    ClientResponse request(const std::string &method, const std::string &target,
                           const std::string &body = {},
                           const std::vector<std::pair<std::string, std::string>> &headers = {});

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} /* namespace stopline::backoffice */

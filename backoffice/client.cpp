#include "backoffice/client.h"

#include <optional>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace stopline::backoffice {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

struct HttpClient::Impl
{
    std::string host;
    uint16_t port;
    net::io_context ioc;
    std::optional<ssl::context> tlsCtx;
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    beast::flat_buffer buffer;

    beast::tcp_stream &lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
    bool connected() const { return plain.has_value() || secure.has_value(); }

    void connect()
    {
        tcp::resolver resolver(ioc);
        auto results = resolver.resolve(host, std::to_string(port));
        buffer.clear();
        if (tlsCtx) {
            secure.emplace(ioc, *tlsCtx);
            beast::get_lowest_layer(*secure).expires_after(std::chrono::seconds(60));
            beast::get_lowest_layer(*secure).connect(results);
            secure->handshake(ssl::stream_base::client);
        } else {
            plain.emplace(ioc);
            plain->expires_after(std::chrono::seconds(60));
            plain->connect(results);
        }
    }

    void reset()
    {
        plain.reset();
        secure.reset();
    }

    template <class Stream>
    ClientResponse roundTrip(Stream &stream, http::request<http::string_body> &req)
    {
        http::write(stream, req);
        http::response_parser<http::string_body> parser;
        parser.body_limit(1ull << 30);
        http::read(stream, buffer, parser);
        auto res = parser.release();
        ClientResponse out;
        out.status = static_cast<int>(res.result_int());
        out.body = std::move(res.body());
        for (const auto &f : res) {
            std::string name(f.name_string());
            for (char &c : name)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            out.headers[name] = std::string(f.value());
        }
        if (!res.keep_alive())
            reset();
        return out;
    }
};

HttpClient::HttpClient(std::string host, uint16_t port, const ClientTls *tls)
    : impl_(std::make_unique<Impl>())
{
    impl_->host = std::move(host);
    impl_->port = port;
    if (tls) {
        impl_->tlsCtx.emplace(ssl::context::tls_client);
        impl_->tlsCtx->set_verify_mode(ssl::verify_peer);
        if (!tls->caFile.empty())
            impl_->tlsCtx->load_verify_file(tls->caFile);
        if (!tls->certFile.empty()) {
            impl_->tlsCtx->use_certificate_chain_file(tls->certFile);
            impl_->tlsCtx->use_private_key_file(tls->keyFile, ssl::context::pem);
        }
    }
}

HttpClient::~HttpClient() = default;

ClientResponse HttpClient::request(const std::string &method, const std::string &target,
                                   const std::string &body,
                                   const std::vector<std::pair<std::string, std::string>> &headers)
{
    for (int attempt = 0;; ++attempt) {
        try {
            bool fresh = !impl_->connected();
            if (fresh)
                impl_->connect();
            http::request<http::string_body> req(http::string_to_verb(method), target, 11);
            req.set(http::field::host, impl_->host);
            for (auto &[k, v] : headers)
                req.set(k, v);
            req.body() = body;
            req.prepare_payload();
            req.keep_alive(true);
            impl_->lowest().expires_after(std::chrono::seconds(120));
            if (impl_->secure)
                return impl_->roundTrip(*impl_->secure, req);
            return impl_->roundTrip(*impl_->plain, req);
        } catch (const std::exception &e) {
            impl_->reset();
            /* A keep-alive connection the server closed meanwhile: retry once fresh. */
            if (attempt >= 1)
                throw std::runtime_error(method + " " + target + " to " + impl_->host + ":" +
                                         std::to_string(impl_->port) + ": " + e.what());
        }
    }
}

} /* namespace stopline::backoffice */

#include "pipeline/upload/http_client.h"

#include <optional>
#include <regex>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>

namespace stopline::pipeline {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

class HttpClient::Impl : public std::enable_shared_from_this<HttpClient::Impl>
{
public:
    Impl(asio::io_context &io, HttpTarget target)
        : io_(io), target_(std::move(target)), resolver_(io), sslContext_(ssl::context::tls_client)
    {
        static const std::regex re(R"(^(https?)://([^:/]+)(?::(\d+))?/?$)");
        std::smatch m;
        if (!std::regex_match(target_.url, m, re))
            throw std::runtime_error("back-office URL '" + target_.url +
                                     "' is not http(s)://host[:port]");
        tls_ = m[1] == "https";
        host_ = m[2];
        port_ = m[3].matched ? std::string(m[3]) : (tls_ ? "443" : "80");
        if (tls_) {
            sslContext_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                                    ssl::context::no_tlsv1_1);
            sslContext_.set_verify_mode(ssl::verify_peer);
            boost::system::error_code ec;
            if (target_.caFile.empty())
                sslContext_.set_default_verify_paths(ec);
            else
                sslContext_.load_verify_file(target_.caFile, ec);
            if (ec)
                throw std::runtime_error("cannot load CA file '" + target_.caFile +
                                         "': " + ec.message());
            if (!target_.clientCertFile.empty()) {
                sslContext_.use_certificate_chain_file(target_.clientCertFile, ec);
                if (ec)
                    throw std::runtime_error("cannot load client certificate '" +
                                             target_.clientCertFile + "': " + ec.message());
                sslContext_.use_private_key_file(target_.clientKeyFile, ssl::context::pem, ec);
                if (ec)
                    throw std::runtime_error("cannot load client key '" + target_.clientKeyFile +
                                             "': " + ec.message());
            }
        }
    }

    void post(const std::string &path, const std::string &contentType, std::string body,
              Callback done)
    {
        if (done_) {
            done({0, {}, {}, "client busy"});
            return;
        }
        done_ = std::move(done);
        request_ = {};
        request_.method(http::verb::post);
        request_.target(path);
        request_.version(11);
        request_.set(http::field::host, host_ + ":" + port_);
        request_.set(http::field::user_agent, "stoplined");
        request_.set(http::field::content_type, contentType);
        if (!target_.bearerToken.empty())
            request_.set(http::field::authorization, "Bearer " + target_.bearerToken);
        request_.keep_alive(true);
        request_.body() = std::move(body);
        request_.prepare_payload();
        retriedStale_ = false;
        if (connected_)
            write();
        else
            connect();
    }

    bool busy() const { return static_cast<bool>(done_); }

    void close()
    {
        connected_ = false;
        tcp_.reset();
        tlsStream_.reset();
    }

private:
    beast::tcp_stream &lowest() { return tls_ ? beast::get_lowest_layer(*tlsStream_) : *tcp_; }

    void finish(HttpResponse response)
    {
        if (!response.error.empty())
            close();
        Callback done = std::move(done_);
        done_ = nullptr;
        done(std::move(response));
    }

    void fail(const std::string &what, beast::error_code ec)
    {
        finish({0, {}, {}, what + ": " + ec.message()});
    }

    void connect()
    {
        close();
        if (tls_) {
            tlsStream_.emplace(io_, sslContext_);
            /* SNI and host-name verification: a valid certificate for another host is
             * still the wrong server. */
            if (!SSL_set_tlsext_host_name(tlsStream_->native_handle(), host_.c_str()))
                return fail("TLS SNI", beast::error_code(static_cast<int>(::ERR_get_error()),
                                                         asio::error::get_ssl_category()));
            tlsStream_->set_verify_callback(ssl::host_name_verification(host_));
        } else {
            tcp_.emplace(io_);
        }
        auto self = shared_from_this();
        resolver_.async_resolve(
                host_, port_, [self](beast::error_code ec, tcp::resolver::results_type r) {
                    if (ec)
                        return self->fail("resolve " + self->host_, ec);
                    self->lowest().expires_after(self->target_.timeout);
                    self->lowest().async_connect(r, [self](beast::error_code ec,
                                                           const tcp::endpoint &) {
                        if (ec)
                            return self->fail("connect " + self->host_ + ":" + self->port_, ec);
                        if (!self->tls_) {
                            self->connected_ = true;
                            return self->write();
                        }
                        self->lowest().expires_after(self->target_.timeout);
                        self->tlsStream_->async_handshake(
                                ssl::stream_base::client, [self](beast::error_code ec) {
                                    if (ec)
                                        return self->fail("TLS handshake", ec);
                                    self->connected_ = true;
                                    self->write();
                                });
                    });
                });
    }

    template <typename Stream> void exchange(Stream &stream)
    {
        auto self = shared_from_this();
        lowest().expires_after(target_.timeout);
        http::async_write(stream, request_, [self, &stream](beast::error_code ec, std::size_t) {
            if (ec)
                return self->staleOrFail("send", ec);
            self->buffer_.clear();
            self->parser_.emplace();
            self->parser_->body_limit(self->target_.maxResponseBytes);
            self->lowest().expires_after(self->target_.timeout);
            http::async_read(stream, self->buffer_, *self->parser_,
                             [self](beast::error_code ec, std::size_t) {
                                 if (ec)
                                     return self->staleOrFail("receive", ec);
                                 auto res = self->parser_->release();
                                 HttpResponse out;
                                 out.status = static_cast<int>(res.result_int());
                                 out.body = std::move(res.body());
                                 out.contentType = std::string(res[http::field::content_type]);
                                 if (!res.keep_alive())
                                     self->close();
                                 self->finish(std::move(out));
                             });
        });
    }

    void write()
    {
        if (tls_)
            exchange(*tlsStream_);
        else
            exchange(*tcp_);
    }

    /* A kept-alive connection the server closed meanwhile fails on first use: reconnect
     * once before reporting an error. */
    void staleOrFail(const std::string &what, beast::error_code ec)
    {
        bool stale = ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
                     ec == asio::error::broken_pipe || ec == asio::error::eof;
        if (stale && !retriedStale_) {
            retriedStale_ = true;
            connect();
            return;
        }
        fail(what, ec);
    }

    asio::io_context &io_;
    HttpTarget target_;
    tcp::resolver resolver_;
    ssl::context sslContext_;
    bool tls_ = false;
    std::string host_, port_;
    std::optional<beast::tcp_stream> tcp_;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tlsStream_;
    bool connected_ = false;
    bool retriedStale_ = false;
    http::request<http::string_body> request_;
    beast::flat_buffer buffer_;
    std::optional<http::response_parser<http::string_body>> parser_;
    Callback done_;
};

HttpClient::HttpClient(asio::io_context &io, HttpTarget target)
    : impl_(std::make_shared<Impl>(io, std::move(target)))
{}

HttpClient::~HttpClient()
{
    impl_->close();
}

void HttpClient::post(const std::string &path, const std::string &contentType, std::string body,
                      Callback done)
{
    impl_->post(path, contentType, std::move(body), std::move(done));
}

bool HttpClient::busy() const
{
    return impl_->busy();
}

void HttpClient::close()
{
    impl_->close();
}

} /* namespace stopline::pipeline */

#include "hal/sim/gpio_client.h"

#include <array>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>

#include "hal/error.h"
#include "hal/sim/connect.h"
#include "hal/sim/framing.h"
#include "sim_wire.pb.h"

namespace stopline::hal::sim {

namespace {

namespace asio = boost::asio;

class SimGpioLines : public GpioLines
{
public:
    SimGpioLines(asio::io_context &io, const GpioConfig &config);
    ~SimGpioLines() override;

    void start(EventHandler onEvent, ErrorHandler onError) override;
    void stop() override;
    void poll() override;
    std::size_t size() const override { return lines_.size(); }
    const std::string &name(std::size_t index) const override { return lines_[index].name; }
    bool value(std::size_t index) const override { return lines_[index].value; }
    std::string describe() const override { return description_; }

private:
    struct Line
    {
        std::string name;
        std::uint32_t offset = 0;
        bool activeLow = false;
        bool value = false;
    };

    void readMore();
    bool drain(); /* reads until the socket would block; false once failed or stopped */
    bool consume(const char *data, std::size_t size);
    void handle(std::string_view payload);
    void fail(const std::string &message);

    std::string what_;
    asio::local::stream_protocol::socket socket_;
    FrameReader reader_{64 * 1024};
    std::array<char, 4096> chunk_{};
    std::vector<Line> lines_;
    std::string description_;
    EventHandler onEvent_;
    ErrorHandler onError_;
    bool running_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    simwire::GpioMessage message_; /* reused: no allocation per edge once warmed up */
};

SimGpioLines::SimGpioLines(asio::io_context &io, const GpioConfig &config)
    : what_("gpio sim chip '" + config.chip + "'"), socket_(io)
{
    if (config.lines.empty())
        throw HalError(what_ + ": no lines configured");
    int fd = connectUnix(config.simSocket, what_);

    simwire::GpioMessage request;
    request.mutable_request()->set_chip(config.chip);
    request.mutable_request()->set_consumer(config.consumer);
    for (const GpioLineConfig &line : config.lines)
        request.mutable_request()->add_lines(line.line);
    std::string error;
    std::string payload;
    if (!writeFrame(fd, request.SerializeAsString(), &error)) {
        ::close(fd);
        throw HalError(what_ + ": sending the request to '" + config.simSocket + "': " + error);
    }
    ReadStatus status = readFrame(fd, payload, config.connectTimeoutMs, 64 * 1024, &error);
    simwire::GpioMessage reply;
    if (status != ReadStatus::Ok || !reply.ParseFromString(payload) || !reply.has_chip()) {
        ::close(fd);
        if (status == ReadStatus::Closed)
            error = "simulator closed the connection";
        else if (status == ReadStatus::Ok)
            error = "reply is not a GpioChipInfo";
        throw HalError(what_ + ": no answer from simulator at '" + config.simSocket +
                       "': " + error);
    }
    const simwire::GpioChipInfo &chip = reply.chip();
    if (!chip.error().empty()) {
        ::close(fd);
        throw HalError(what_ + ": refused by the simulator: " + chip.error());
    }
    description_ = chip.name() + " [" + chip.label() + "] (sim " + config.simSocket + ")";

    for (const GpioLineConfig &wanted : config.lines) {
        const simwire::GpioLine *found = nullptr;
        for (const simwire::GpioLine &line : chip.lines())
            if (line.name() == wanted.line || std::to_string(line.offset()) == wanted.line)
                found = &line;
        if (!found) {
            ::close(fd);
            throw HalError(what_ + ": line '" + wanted.line +
                           "' not found in the simulator's answer");
        }
        Line entry;
        entry.name = wanted.name.empty() ? wanted.line : wanted.name;
        entry.offset = found->offset();
        entry.activeLow = wanted.activeLow;
        entry.value = found->value() != wanted.activeLow;
        lines_.push_back(std::move(entry));
    }
    socket_.assign(asio::local::stream_protocol(), fd);
    socket_.non_blocking(true);
}

SimGpioLines::~SimGpioLines()
{
    *alive_ = false;
    boost::system::error_code ignored;
    socket_.close(ignored);
}

void SimGpioLines::start(EventHandler onEvent, ErrorHandler onError)
{
    onEvent_ = std::move(onEvent);
    onError_ = std::move(onError);
    running_ = true;
    readMore();
}

void SimGpioLines::stop()
{
    running_ = false;
    boost::system::error_code ignored;
    socket_.cancel(ignored);
}

void SimGpioLines::readMore()
{
    /* Wait for readability and read ourselves (no asynchronous read holding bytes in a
     * buffer whose handler has not run yet), so poll() always sees every waiting edge. */
    std::weak_ptr<bool> alive = alive_;
    socket_.async_wait(asio::socket_base::wait_read,
                       [this, alive](const boost::system::error_code &ec) {
                           if (alive.expired() || !running_)
                               return;
                           if (ec) {
                               fail(ec.message());
                               return;
                           }
                           if (drain())
                               readMore();
                       });
}

bool SimGpioLines::drain()
{
    while (running_) {
        boost::system::error_code ec;
        std::size_t n = socket_.read_some(asio::buffer(chunk_), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again)
            return true;
        if (ec) {
            fail(ec == asio::error::eof ? "simulator closed the GPIO connection" : ec.message());
            return false;
        }
        if (!consume(chunk_.data(), n))
            return false;
    }
    return false;
}

bool SimGpioLines::consume(const char *data, std::size_t size)
{
    reader_.feed(data, size);
    std::string_view payload;
    FrameReader::Status status;
    while (running_ && (status = reader_.next(payload)) == FrameReader::Status::Ready)
        handle(payload);
    if (!running_)
        return false;
    if (status == FrameReader::Status::Oversized) {
        fail("simulator sent a frame of " + std::to_string(reader_.announcedBytes()) + " bytes");
        return false;
    }
    return true;
}

void SimGpioLines::poll()
{
    drain();
}

void SimGpioLines::handle(std::string_view payload)
{
    if (!message_.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
        fail("undecodable GpioMessage from the simulator");
        return;
    }
    if (!message_.has_edge())
        return; /* nothing else is expected after the handshake; tolerate */
    const simwire::GpioEdge &edge = message_.edge();
    Nanos seen = monotonicNow();
    for (std::size_t i = 0; i < lines_.size(); ++i) {
        /* Several configured names may map to one wire line; each gets the edge. */
        if (lines_[i].offset != edge.offset())
            continue;
        GpioEvent event;
        event.index = i;
        event.active = edge.rising() != lines_[i].activeLow;
        event.stamp.sampleNs = edge.timestamp_ns();
        event.stamp.seenNs = seen;
        event.seqno = edge.seqno();
        lines_[i].value = event.active;
        if (onEvent_)
            onEvent_(event);
        if (!running_)
            return;
    }
}

void SimGpioLines::fail(const std::string &message)
{
    if (!running_)
        return;
    running_ = false;
    if (onError_)
        onError_(what_ + ": " + message);
}

} /* namespace */

std::unique_ptr<GpioLines> openSimGpioLines(asio::io_context &io, const GpioConfig &config)
{
    return std::make_unique<SimGpioLines>(io, config);
}

} /* namespace stopline::hal::sim */

#include "hal/serial.h"

#include <array>
#include <deque>

#include <boost/asio/post.hpp>
#include <boost/asio/serial_port.hpp>
#include <boost/asio/write.hpp>

#include "hal/error.h"

namespace stopline::hal {

namespace asio = boost::asio;

struct SerialPort::State : std::enable_shared_from_this<State>
{
    explicit State(asio::io_context &io) : port(io) {}

    asio::serial_port port;
    std::array<char, 1024> chunk{};
    std::string line; /* reserved once to maxLineBytes */
    std::size_t maxLineBytes = 512;
    bool discarding = false; /* inside an over-long line, waiting for its end */
    bool open = true;
    LineHandler onLine;
    BytesHandler onBytes; /* raw mode when set */
    ErrorHandler onError;
    std::deque<std::string> outbox;
    std::uint64_t lines = 0;
    std::uint64_t truncated = 0;

    void readMore();
    void consume(std::size_t size, Nanos now);
    void emit(bool cut, Nanos now);
    void writeNext();
    void fail(const std::string &message);
};

void SerialPort::State::readMore()
{
    auto self = shared_from_this();
    port.async_read_some(asio::buffer(chunk),
                         [self](const boost::system::error_code &ec, std::size_t size) {
                             if (!self->open)
                                 return;
                             if (ec) {
                                 self->fail(ec.message());
                                 return;
                             }
                             self->consume(size, monotonicNow());
                             if (self->open)
                                 self->readMore();
                         });
}

void SerialPort::State::emit(bool cut, Nanos now)
{
    ++lines;
    if (cut)
        ++truncated;
    if (onLine)
        onLine(SerialLine{line, now, cut});
    line.clear();
}

void SerialPort::State::consume(std::size_t size, Nanos now)
{
    if (onBytes) {
        onBytes(std::string_view(chunk.data(), size), now);
        return;
    }
    for (std::size_t i = 0; i < size && open; ++i) {
        char c = chunk[i];
        if (c == '\r' || c == '\n') {
            if (discarding)
                discarding = false;
            else if (!line.empty())
                emit(false, now);
            continue;
        }
        if (discarding)
            continue;
        if (line.size() == maxLineBytes) {
            emit(true, now);
            discarding = true;
            continue;
        }
        line.push_back(c);
    }
}

void SerialPort::State::writeNext()
{
    if (outbox.empty() || !open)
        return;
    auto self = shared_from_this();
    asio::async_write(port, asio::buffer(outbox.front()),
                      [self](const boost::system::error_code &ec, std::size_t) {
                          if (!self->open)
                              return;
                          if (ec) {
                              self->fail("write: " + ec.message());
                              return;
                          }
                          self->outbox.pop_front();
                          self->writeNext();
                      });
}

void SerialPort::State::fail(const std::string &message)
{
    if (!open)
        return;
    open = false;
    boost::system::error_code ignored;
    port.close(ignored);
    ErrorHandler handler = std::move(onError);
    if (handler)
        handler(message);
}

namespace {

template <typename Option>
void apply(asio::serial_port &port, const Option &option, const std::string &device,
           const char *what)
{
    boost::system::error_code ec;
    port.set_option(option, ec);
    if (ec)
        throw HalError("serial port '" + device + "': cannot set " + what + ": " + ec.message());
}

} /* namespace */

SerialPort::SerialPort(asio::io_context &io, SerialConfig config)
    : config_(std::move(config)), state_(std::make_shared<State>(io))
{
    if (config_.device.empty())
        throw HalError("serial port: no device configured");
    if (config_.characterSize < 5 || config_.characterSize > 8)
        throw HalError("serial port '" + config_.device + "': character size " +
                       std::to_string(config_.characterSize) + " is not 5..8");
    if (config_.maxLineBytes == 0)
        throw HalError("serial port '" + config_.device + "': maxLineBytes must be positive");

    boost::system::error_code ec;
    state_->port.open(config_.device, ec);
    if (ec)
        throw HalError("serial port '" + config_.device + "': cannot open: " + ec.message());

    using Base = asio::serial_port_base;
    apply(state_->port, Base::baud_rate(config_.baud), config_.device,
          ("baud rate " + std::to_string(config_.baud)).c_str());
    Base::parity::type parity = config_.parity == SerialConfig::Parity::Odd    ? Base::parity::odd
                                : config_.parity == SerialConfig::Parity::Even ? Base::parity::even
                                                                               : Base::parity::none;
    apply(state_->port, Base::parity(parity), config_.device, "parity");
    Base::flow_control::type flow =
            config_.flow == SerialConfig::FlowControl::Software   ? Base::flow_control::software
            : config_.flow == SerialConfig::FlowControl::Hardware ? Base::flow_control::hardware
                                                                  : Base::flow_control::none;
    apply(state_->port, Base::flow_control(flow), config_.device, "flow control");
    apply(state_->port, Base::character_size(config_.characterSize), config_.device,
          "character size");
    Base::stop_bits::type stop = config_.stopBits == SerialConfig::StopBits::Two
                                         ? Base::stop_bits::two
                                 : config_.stopBits == SerialConfig::StopBits::OnePointFive
                                         ? Base::stop_bits::onepointfive
                                         : Base::stop_bits::one;
    apply(state_->port, Base::stop_bits(stop), config_.device, "stop bits");

    state_->maxLineBytes = config_.maxLineBytes;
    state_->line.reserve(config_.maxLineBytes);
}

SerialPort::~SerialPort()
{
    close();
}

void SerialPort::startReading(LineHandler onLine, ErrorHandler onError)
{
    state_->onLine = std::move(onLine);
    state_->onError = std::move(onError);
    if (state_->open)
        state_->readMore();
}

void SerialPort::startReadingRaw(BytesHandler onBytes, ErrorHandler onError)
{
    state_->onBytes = std::move(onBytes);
    state_->onError = std::move(onError);
    if (state_->open)
        state_->readMore();
}

void SerialPort::write(std::string bytes)
{
    auto state = state_;
    asio::post(state->port.get_executor(), [state, bytes = std::move(bytes)]() mutable {
        if (!state->open)
            return;
        state->outbox.push_back(std::move(bytes));
        if (state->outbox.size() == 1)
            state->writeNext();
    });
}

void SerialPort::close()
{
    if (!state_->open)
        return;
    state_->open = false; /* handlers stay alive (one may be running) but are not called */
    boost::system::error_code ignored;
    state_->port.cancel(ignored);
    state_->port.close(ignored);
}

std::uint64_t SerialPort::linesRead() const
{
    return state_->lines;
}

std::uint64_t SerialPort::linesTruncated() const
{
    return state_->truncated;
}

} /* namespace stopline::hal */

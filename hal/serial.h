#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "hal/time.h"

namespace stopline::hal {

/* Line settings of a UART. The defaults are the OPS243's (19200 8N1, no flow control). On a
 * pseudo-terminal the same settings are accepted and the speed is simply ignored, which is
 * what lets the simulator's radar stand in for /dev/ttyACM0. */
struct SerialConfig
{
    enum class Parity { None, Odd, Even };
    enum class FlowControl { None, Software, Hardware };
    enum class StopBits { One, OnePointFive, Two };

    std::string device; /* /dev/ttyACM0, /dev/ttyAMA0, or a pty slave path */
    unsigned baud = 19200;
    Parity parity = Parity::None;
    FlowControl flow = FlowControl::None;
    unsigned characterSize = 8; /* 5..8 */
    StopBits stopBits = StopBits::One;
    /* A line longer than this is cut and flagged, so a babbling device cannot grow memory. */
    std::size_t maxLineBytes = 512;
};

/* One received line without its terminator. `text` points into the port's buffer and is
 * valid only during the handler call. */
struct SerialLine
{
    std::string_view text;
    Nanos sampleNs = 0;     /* CLOCK_MONOTONIC when the read that completed the line returned */
    bool truncated = false; /* longer than maxLineBytes: `text` is the first maxLineBytes */
};

/* A serial device read line by line on the Asio event loop, never blocking it. Lines end at
 * CR or LF (OPS243 sends CRLF); empty lines are skipped. One fixed buffer is reused, so a
 * line costs no allocation. The io_context must outlive the port; handlers run on it. */
class SerialPort
{
public:
    using LineHandler = std::function<void(const SerialLine &line)>;
    /* Bytes exactly as read (no line splitting), with the CLOCK_MONOTONIC time of the read;
     * `bytes` is valid only during the call. */
    using BytesHandler = std::function<void(std::string_view bytes, Nanos sampleNs)>;
    using ErrorHandler = std::function<void(const std::string &message)>;

    /* Opens and configures the device; throws HalError naming the device and the setting
     * that failed (missing device, busy, unsupported baud...). */
    SerialPort(boost::asio::io_context &io, SerialConfig config);
    ~SerialPort();

    SerialPort(const SerialPort &) = delete;
    SerialPort &operator=(const SerialPort &) = delete;

    /* Starts the read loop. `onError` is called once if reading stops (device gone, pty
     * master closed); no handler is called after close(). */
    void startReading(LineHandler onLine, ErrorHandler onError = {});

    /* Starts the read loop in raw mode, for an interactive terminal (the technician
     * console needs every keystroke, not lines): each read's bytes are handed over as
     * they arrive. Use either this or startReading(), not both. */
    void startReadingRaw(BytesHandler onBytes, ErrorHandler onError = {});

    /* Queues bytes for sending, in order. Safe to call from any thread. */
    void write(std::string bytes);

    /* Cancels I/O and closes the device; idempotent. Call it (and destroy the port) on the
     * event thread or after the loop has stopped; a line handler may call it. */
    void close();

    const SerialConfig &config() const { return config_; }
    std::uint64_t linesRead() const;
    std::uint64_t linesTruncated() const;

private:
    struct State;
    SerialConfig config_;
    std::shared_ptr<State> state_;
};

} /* namespace stopline::hal */

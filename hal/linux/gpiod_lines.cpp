#include "hal/linux/gpiod_lines.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <gpiod.h>

#include "hal/error.h"

namespace stopline::hal {

namespace {

namespace asio = boost::asio;

std::optional<unsigned> parseOffset(const std::string &text)
{
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty())
        return std::nullopt;
    return value;
}

/* Names of the chips present, so "not found" can say what there is instead. */
std::string availableChips()
{
    std::string list;
    gpiod_chip_iter *iter = gpiod_chip_iter_new();
    if (!iter)
        return "none";
    for (gpiod_chip *chip = gpiod_chip_iter_next(iter); chip; chip = gpiod_chip_iter_next(iter)) {
        if (!list.empty())
            list += ", ";
        list += std::string(gpiod_chip_name(chip)) + " [" + gpiod_chip_label(chip) + "]";
    }
    gpiod_chip_iter_free(iter);
    return list.empty() ? "none" : list;
}

class GpiodLines : public GpioLines
{
public:
    GpiodLines(asio::io_context &io, const GpioConfig &config);
    ~GpiodLines() override;

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
        gpiod_line *line = nullptr;
        bool value = false;
        std::unique_ptr<asio::posix::stream_descriptor> fd;
    };

    void wait(std::size_t index);
    void drain(std::size_t index);
    void fail(const std::string &message);

    gpiod_chip *chip_ = nullptr;
    std::vector<Line> lines_;
    std::string description_;
    EventHandler onEvent_;
    ErrorHandler onError_;
    bool running_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

GpiodLines::GpiodLines(asio::io_context &io, const GpioConfig &config)
{
    if (config.chip.empty())
        throw HalError("gpio: no chip configured");
    if (config.lines.empty())
        throw HalError("gpio chip '" + config.chip + "': no lines configured");

    errno = 0;
    chip_ = gpiod_chip_open_lookup(config.chip.c_str());
    if (!chip_) {
        int err = errno;
        std::string why = err == ENOENT || err == 0 ? "no such chip" : std::strerror(err);
        throw HalError("gpio chip '" + config.chip + "' not found (" + why +
                       "); chips present: " + availableChips());
    }
    description_ = std::string(gpiod_chip_name(chip_)) + " [" + gpiod_chip_label(chip_) + "]";

    try {
        for (const GpioLineConfig &wanted : config.lines) {
            Line entry;
            entry.name = wanted.name.empty() ? wanted.line : wanted.name;
            if (auto offset = parseOffset(wanted.line)) {
                if (*offset >= gpiod_chip_num_lines(chip_))
                    throw HalError("gpio chip '" + config.chip + "': line offset " + wanted.line +
                                   " out of range (chip has " +
                                   std::to_string(gpiod_chip_num_lines(chip_)) + " lines)");
                entry.line = gpiod_chip_get_line(chip_, *offset);
            } else {
                entry.line = gpiod_chip_find_line(chip_, wanted.line.c_str());
            }
            if (!entry.line)
                throw HalError("gpio chip '" + config.chip + "': line '" + wanted.line +
                               "' not found");
            int lineFlags = wanted.activeLow ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
            switch (wanted.bias) {
            case GpioLineConfig::Bias::AsIs:
                break;
            case GpioLineConfig::Bias::Disable:
                lineFlags |= GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE;
                break;
            case GpioLineConfig::Bias::PullUp:
                lineFlags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP;
                break;
            case GpioLineConfig::Bias::PullDown:
                lineFlags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN;
                break;
            }
            /* Request line by line: each may have its own active-low and bias. */
            gpiod_line_bulk one;
            gpiod_line_bulk_init(&one);
            gpiod_line_bulk_add(&one, entry.line);
            if (gpiod_line_request_bulk_both_edges_events_flags(&one, config.consumer.c_str(),
                                                                lineFlags) < 0)
                throw HalError("gpio chip '" + config.chip + "': cannot request line '" +
                               wanted.line + "': " + std::strerror(errno) +
                               (errno == EBUSY ? " (used by another program)" : ""));
            int level = gpiod_line_get_value(entry.line);
            if (level < 0)
                throw HalError("gpio chip '" + config.chip + "': cannot read line '" + wanted.line +
                               "': " + std::strerror(errno));
            entry.value = level == 1;
            int fd = gpiod_line_event_get_fd(entry.line);
            /* Drained until EAGAIN after each wake-up, so edge-triggered polling never
             * leaves events behind. */
            ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
            entry.fd = std::make_unique<asio::posix::stream_descriptor>(io, fd);
            lines_.push_back(std::move(entry));
        }
    } catch (...) {
        for (Line &line : lines_)
            if (line.fd)
                line.fd->release(); /* libgpiod owns the fd */
        lines_.clear();
        gpiod_chip_close(chip_);
        throw;
    }
}

GpiodLines::~GpiodLines()
{
    *alive_ = false;
    for (Line &line : lines_) {
        boost::system::error_code ignored;
        line.fd->cancel(ignored);
        line.fd->release(); /* closed by libgpiod below */
    }
    gpiod_chip_close(chip_); /* releases the requested lines */
}

void GpiodLines::start(EventHandler onEvent, ErrorHandler onError)
{
    onEvent_ = std::move(onEvent);
    onError_ = std::move(onError);
    running_ = true;
    for (std::size_t i = 0; i < lines_.size(); ++i)
        wait(i);
}

void GpiodLines::stop()
{
    running_ = false;
    for (Line &line : lines_) {
        boost::system::error_code ignored;
        line.fd->cancel(ignored);
    }
}

void GpiodLines::poll()
{
    for (std::size_t i = 0; i < lines_.size() && running_; ++i)
        drain(i); /* the event fds are non-blocking */
}

void GpiodLines::wait(std::size_t index)
{
    std::weak_ptr<bool> alive = alive_;
    lines_[index].fd->async_wait(asio::posix::stream_descriptor::wait_read,
                                 [this, index, alive](const boost::system::error_code &ec) {
                                     if (alive.expired() || !running_)
                                         return;
                                     if (ec) {
                                         fail("gpio line '" + lines_[index].name +
                                              "': " + ec.message());
                                         return;
                                     }
                                     drain(index);
                                     if (running_)
                                         wait(index);
                                 });
}

void GpiodLines::drain(std::size_t index)
{
    Line &line = lines_[index];
    gpiod_line_event events[16];
    for (;;) {
        int n = gpiod_line_event_read_fd_multiple(line.fd->native_handle(), events, 16);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            fail("gpio line '" + line.name + "': reading events: " + std::strerror(errno));
            return;
        }
        if (n == 0)
            return;
        Nanos seen = monotonicNow();
        for (int i = 0; i < n && running_; ++i) {
            GpioEvent event;
            event.index = index;
            /* v1 uAPI reports edges in logical terms when the line is active-low. */
            event.active = events[i].event_type == GPIOD_LINE_EVENT_RISING_EDGE;
            event.stamp.sampleNs = static_cast<Nanos>(events[i].ts.tv_sec) * kNanosPerSecond +
                                   events[i].ts.tv_nsec;
            event.stamp.seenNs = seen;
            line.value = event.active;
            if (onEvent_)
                onEvent_(event);
        }
        if (n < 16)
            return;
    }
}

void GpiodLines::fail(const std::string &message)
{
    if (!running_)
        return;
    stop();
    if (onError_)
        onError_(message);
}

} /* namespace */

std::unique_ptr<GpioLines> openGpiodLines(asio::io_context &io, const GpioConfig &config)
{
    return std::make_unique<GpiodLines>(io, config);
}

} /* namespace stopline::hal */

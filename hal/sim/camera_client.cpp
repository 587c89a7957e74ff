#include "hal/sim/camera_client.h"

#include <atomic>
#include <cstring>
#include <mutex>
#include <optional>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include "hal/error.h"
#include "hal/sim/connect.h"
#include "hal/sim/framing.h"
#include "sim_wire.pb.h"

namespace stopline::hal::sim {

namespace {

/* Where a CameraFrame's fields sit inside the received bytes, so the pixels can be copied
 * once into a pool slot instead of first into a protobuf string. */
struct FrameView
{
    std::uint64_t sequence = 0;
    std::int64_t timestampNs = 0;
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    std::uint32_t stride = 0;
    const std::uint8_t *data = nullptr;
    std::size_t size = 0;
};

/* Minimal protobuf wire reader: varints, length-delimited fields, skipping the rest. */
class WireReader
{
public:
    WireReader(const std::uint8_t *begin, const std::uint8_t *end) : at_(begin), end_(end) {}

    bool done() const { return at_ == end_; }

    bool varint(std::uint64_t &value)
    {
        value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (at_ == end_)
                return false;
            std::uint8_t byte = *at_++;
            value |= std::uint64_t(byte & 0x7f) << shift;
            if (!(byte & 0x80))
                return true;
        }
        return false;
    }

    bool bytes(const std::uint8_t *&data, std::size_t &size)
    {
        std::uint64_t length;
        if (!varint(length) || length > std::uint64_t(end_ - at_))
            return false;
        data = at_;
        size = length;
        at_ += length;
        return true;
    }

    bool skip(int wireType)
    {
        std::uint64_t ignored;
        const std::uint8_t *data;
        std::size_t size;
        switch (wireType) {
        case 0:
            return varint(ignored);
        case 1:
            return advance(8);
        case 2:
            return bytes(data, size);
        case 5:
            return advance(4);
        default:
            return false;
        }
    }

private:
    bool advance(std::size_t n)
    {
        if (std::size_t(end_ - at_) < n)
            return false;
        at_ += n;
        return true;
    }

    const std::uint8_t *at_;
    const std::uint8_t *end_;
};

/* nullopt: not a CameraMessage.frame (or malformed). */
std::optional<FrameView> parseFrame(std::string_view payload)
{
    auto *begin = reinterpret_cast<const std::uint8_t *>(payload.data());
    WireReader outer(begin, begin + payload.size());
    std::optional<FrameView> view;
    while (!outer.done()) {
        std::uint64_t tag;
        if (!outer.varint(tag))
            return std::nullopt;
        int field = static_cast<int>(tag >> 3);
        int wireType = static_cast<int>(tag & 7);
        if (field != 3 || wireType != 2) { /* CameraMessage.frame = 3 */
            if (!outer.skip(wireType))
                return std::nullopt;
            continue;
        }
        const std::uint8_t *inner;
        std::size_t innerSize;
        if (!outer.bytes(inner, innerSize))
            return std::nullopt;
        FrameView frame;
        WireReader reader(inner, inner + innerSize);
        while (!reader.done()) {
            std::uint64_t innerTag, value = 0;
            if (!reader.varint(innerTag))
                return std::nullopt;
            int f = static_cast<int>(innerTag >> 3);
            int w = static_cast<int>(innerTag & 7);
            if (w == 0 && f >= 1 && f <= 5) {
                if (!reader.varint(value))
                    return std::nullopt;
                switch (f) {
                case 1:
                    frame.sequence = value;
                    break;
                case 2:
                    frame.timestampNs = static_cast<std::int64_t>(value);
                    break;
                case 3:
                    frame.width = static_cast<std::uint32_t>(value);
                    break;
                case 4:
                    frame.height = static_cast<std::uint32_t>(value);
                    break;
                case 5:
                    frame.stride = static_cast<std::uint32_t>(value);
                    break;
                }
            } else if (w == 2 && f == 6) {
                if (!reader.bytes(frame.data, frame.size))
                    return std::nullopt;
            } else if (!reader.skip(w)) {
                return std::nullopt;
            }
        }
        view = frame;
    }
    return view;
}

class SimCamera : public Camera
{
public:
    explicit SimCamera(const CameraConfig &config);
    ~SimCamera() override;

    void start(FrameHandler onFrame, StopHandler onStop) override;
    void stop() override;
    std::string id() const override { return id_; }
    int width() const override { return width_; }
    int height() const override { return height_; }
    PixelFormat format() const override { return PixelFormat::BGR888; }
    std::uint64_t framesDelivered() const override { return delivered_; }
    std::uint64_t framesDropped() const override { return dropped_; }

private:
    void run();

    std::string what_;
    int fd_ = -1;
    std::string id_;
    int width_ = 0;
    int height_ = 0;
    std::unique_ptr<FramePool> pool_;
    std::thread thread_;
    std::atomic<bool> running_{false};
    FrameHandler onFrame_;
    StopHandler onStop_;
    std::atomic<std::uint64_t> delivered_{0};
    std::atomic<std::uint64_t> dropped_{0};
};

SimCamera::SimCamera(const CameraConfig &config)
    : what_("sim camera '" + (config.device.empty() ? std::string("<first>") : config.device) + "'")
{
    if (config.format != PixelFormat::BGR888)
        throw HalError(what_ + ": the simulator delivers BGR888 only, not " +
                       pixelFormatName(config.format));
    fd_ = connectUnix(config.device, what_);
    simwire::CameraMessage request;
    request.mutable_request()->set_width(static_cast<std::uint32_t>(std::max(config.width, 0)));
    request.mutable_request()->set_height(static_cast<std::uint32_t>(std::max(config.height, 0)));
    std::string error, payload;
    simwire::CameraMessage reply;
    ReadStatus status = ReadStatus::Error;
    if (writeFrame(fd_, request.SerializeAsString(), &error))
        status = readFrame(fd_, payload, config.connectTimeoutMs, 64 * 1024, &error);
    if (status != ReadStatus::Ok || !reply.ParseFromString(payload) || !reply.has_info()) {
        ::close(fd_);
        if (status == ReadStatus::Closed)
            error = "simulator closed the connection";
        else if (status == ReadStatus::Ok)
            error = "reply is not a CameraInfo";
        throw HalError(what_ + ": no answer from simulator at '" + config.device + "': " + error);
    }
    const simwire::CameraInfo &info = reply.info();
    if (!info.error().empty()) {
        ::close(fd_);
        throw HalError(what_ + ": refused by the simulator: " + info.error());
    }
    if (info.pixel_format() != "BGR888" || info.width() == 0 || info.height() == 0 ||
        info.width() > 16384 || info.height() > 16384) {
        ::close(fd_);
        throw HalError(what_ + ": simulator offers an unusable stream (" +
                       std::to_string(info.width()) + "x" + std::to_string(info.height()) + " " +
                       info.pixel_format() + ")");
    }
    id_ = info.id();
    width_ = static_cast<int>(info.width());
    height_ = static_cast<int>(info.height());
    pool_ = std::make_unique<FramePool>(frameBytes(PixelFormat::BGR888, width_, height_),
                                        std::max(config.buffers, 2u));
}

SimCamera::~SimCamera()
{
    stop();
    if (fd_ >= 0)
        ::close(fd_);
}

void SimCamera::start(FrameHandler onFrame, StopHandler onStop)
{
    if (running_.exchange(true))
        return;
    onFrame_ = std::move(onFrame);
    onStop_ = std::move(onStop);
    thread_ = std::thread([this] { run(); });
}

void SimCamera::stop()
{
    running_ = false;
    if (fd_ >= 0)
        ::shutdown(fd_, SHUT_RDWR); /* unblocks the reader */
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id())
        thread_.join();
}

void SimCamera::run()
{
    std::string payload;
    std::string error;
    std::string reason;
    const std::size_t rowBytes = static_cast<std::size_t>(width_) * 3;
    while (running_) {
        ReadStatus status = readFrame(fd_, payload, -1, kMaxFrameBytes, &error);
        if (!running_)
            return;
        if (status != ReadStatus::Ok) {
            reason = what_ + ": " +
                     (status == ReadStatus::Closed ? std::string("simulator closed the stream")
                                                   : error);
            break;
        }
        std::optional<FrameView> view = parseFrame(payload);
        if (!view)
            continue; /* not a frame: nothing else is expected after the handshake */
        if (view->width != std::uint32_t(width_) || view->height != std::uint32_t(height_) ||
            view->stride < rowBytes ||
            view->size < std::size_t(view->stride) * (height_ - 1) + rowBytes) {
            reason = what_ + ": simulator sent a malformed frame (" + std::to_string(view->width) +
                     "x" + std::to_string(view->height) + ", stride " +
                     std::to_string(view->stride) + ", " + std::to_string(view->size) + " bytes)";
            break;
        }
        std::shared_ptr<Frame> slot = pool_->acquire();
        if (!slot) {
            ++dropped_;
            continue;
        }
        for (int row = 0; row < height_; ++row)
            std::memcpy(slot->data + row * rowBytes, view->data + std::size_t(row) * view->stride,
                        rowBytes);
        slot->sequence = view->sequence;
        slot->stamp.sampleNs = view->timestampNs;
        slot->stamp.seenNs = monotonicNow();
        slot->width = width_;
        slot->height = height_;
        slot->stride = static_cast<int>(rowBytes);
        slot->format = PixelFormat::BGR888;
        slot->size = rowBytes * height_;
        ++delivered_;
        if (onFrame_)
            onFrame_(std::move(slot));
    }
    if (running_ && onStop_)
        onStop_(reason);
}

} /* namespace */

std::unique_ptr<Camera> openSimCamera(const CameraConfig &config)
{
    return std::make_unique<SimCamera>(config);
}

} /* namespace stopline::hal::sim */

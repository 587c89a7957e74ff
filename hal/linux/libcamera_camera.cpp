#include "hal/linux/libcamera_camera.h"

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <sys/mman.h>

#include <libcamera/libcamera.h>

#include "hal/clock.h"
#include "hal/error.h"

namespace stopline::hal {

namespace {

namespace lc = libcamera;

lc::PixelFormat toLibcamera(PixelFormat format)
{
    switch (format) {
    case PixelFormat::BGR888:
        /* DRM fourcc naming: libcamera's RGB888 is stored B, G, R in memory, which is
         * OpenCV's BGR layout (as rpicam-apps notes). */
        return lc::formats::RGB888;
    case PixelFormat::YUV420:
        return lc::formats::YUV420;
    case PixelFormat::GRAY8:
        return lc::formats::R8;
    }
    return lc::formats::RGB888;
}

/* State the frames' deleters need; it outlives the camera object while frames are held. */
struct Shared
{
    struct Mapping
    {
        std::uint8_t *base = nullptr;
        std::size_t length = 0;
    };

    std::mutex lock;
    bool running = false;
    lc::Camera *camera = nullptr;
    std::map<const lc::FrameBuffer *, std::uint8_t *> data; /* first plane's pixels */
    std::set<lc::Request *> held; /* handed out as frames, not yet recycled */
    std::vector<Mapping> mappings;

    ~Shared()
    {
        for (Mapping &m : mappings)
            ::munmap(m.base, m.length);
    }
};

std::string cameraList(lc::CameraManager &manager)
{
    std::string list;
    for (const auto &camera : manager.cameras())
        list += (list.empty() ? "" : ", ") + camera->id();
    return list.empty() ? "none" : list;
}

class LibcameraCamera : public Camera
{
public:
    LibcameraCamera(const CameraConfig &config, const Clock *clock);
    ~LibcameraCamera() override;

    void start(FrameHandler onFrame, StopHandler onStop) override;
    void stop() override;
    std::string id() const override { return camera_->id(); }
    int width() const override { return width_; }
    int height() const override { return height_; }
    PixelFormat format() const override { return format_; }
    std::uint64_t framesDelivered() const override { return delivered_; }
    std::uint64_t framesDropped() const override { return dropped_; }

private:
    void requestComplete(lc::Request *request);
    void disconnected();

    const Clock *clock_;
    std::unique_ptr<lc::CameraManager> manager_;
    std::shared_ptr<lc::Camera> camera_;
    bool acquired_ = false;
    std::unique_ptr<lc::CameraConfiguration> configuration_;
    lc::Stream *stream_ = nullptr;
    std::unique_ptr<lc::FrameBufferAllocator> allocator_;
    std::vector<std::unique_ptr<lc::Request>> requests_;
    std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
    int width_ = 0;
    int height_ = 0;
    int stride_ = 0;
    PixelFormat format_;
    FrameHandler onFrame_;
    StopHandler onStop_;
    std::atomic<std::uint64_t> delivered_{0};
    std::atomic<std::uint64_t> dropped_{0};
};

LibcameraCamera::LibcameraCamera(const CameraConfig &config, const Clock *clock)
    : clock_(clock), manager_(std::make_unique<lc::CameraManager>()), format_(config.format)
{
    const std::string what =
            "libcamera camera '" + (config.device.empty() ? "<first>" : config.device) + "'";
    if (int ret = manager_->start(); ret < 0)
        throw HalError(what + ": camera manager failed to start: " + std::strerror(-ret));
    if (config.device.empty()) {
        auto cameras = manager_->cameras();
        if (cameras.empty())
            throw HalError(what + " not found: no camera present");
        camera_ = cameras.front();
    } else {
        camera_ = manager_->get(config.device);
        if (!camera_)
            throw HalError(what + " not found; cameras present: " + cameraList(*manager_));
    }
    if (camera_->acquire() < 0)
        throw HalError(what + ": busy (acquired by another process)");
    acquired_ = true;

    configuration_ = camera_->generateConfiguration({lc::StreamRole::VideoRecording});
    if (!configuration_ || configuration_->size() != 1)
        throw HalError(what + ": cannot generate a video configuration");
    lc::StreamConfiguration &stream = configuration_->at(0);
    stream.pixelFormat = toLibcamera(config.format);
    if (config.width > 0 && config.height > 0)
        stream.size = lc::Size(config.width, config.height);
    stream.bufferCount = config.buffers;
    if (configuration_->validate() == lc::CameraConfiguration::Invalid)
        throw HalError(what + ": configuration " + stream.toString() + " is invalid");
    if (stream.pixelFormat != toLibcamera(config.format))
        throw HalError(what + ": cannot deliver " + pixelFormatName(config.format) + " (offers " +
                       stream.pixelFormat.toString() + ")");
    if (camera_->configure(configuration_.get()) < 0)
        throw HalError(what + ": configure " + stream.toString() + " failed");
    stream_ = stream.stream();
    width_ = static_cast<int>(stream.size.width);
    height_ = static_cast<int>(stream.size.height);
    stride_ = static_cast<int>(stream.stride);

    allocator_ = std::make_unique<lc::FrameBufferAllocator>(camera_);
    if (allocator_->allocate(stream_) < 0)
        throw HalError(what + ": cannot allocate buffers");
    std::uint64_t cookie = 0;
    for (const auto &buffer : allocator_->buffers(stream_)) {
        /* Planes of one buffer usually share a dmabuf: map each fd once, whole. */
        std::map<int, std::size_t> extent;
        for (const lc::FrameBuffer::Plane &plane : buffer->planes())
            extent[plane.fd.get()] =
                    std::max(extent[plane.fd.get()], std::size_t(plane.offset) + plane.length);
        std::map<int, std::uint8_t *> bases;
        for (auto [fd, length] : extent) {
            void *base = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
            if (base == MAP_FAILED)
                throw HalError(what + ": cannot map a frame buffer: " + std::strerror(errno));
            shared_->mappings.push_back({static_cast<std::uint8_t *>(base), length});
            bases[fd] = static_cast<std::uint8_t *>(base);
        }
        const lc::FrameBuffer::Plane &first = buffer->planes()[0];
        shared_->data[buffer.get()] = bases[first.fd.get()] + first.offset;

        std::unique_ptr<lc::Request> request = camera_->createRequest(cookie++);
        if (!request || request->addBuffer(stream_, buffer.get()) < 0)
            throw HalError(what + ": cannot create a capture request");
        requests_.push_back(std::move(request));
    }
    shared_->camera = camera_.get();
    camera_->requestCompleted.connect(this, &LibcameraCamera::requestComplete);
    camera_->disconnected.connect(this, &LibcameraCamera::disconnected);
}

LibcameraCamera::~LibcameraCamera()
{
    stop();
    if (camera_) {
        camera_->requestCompleted.disconnect(this);
        camera_->disconnected.disconnect(this);
    }
    {
        std::lock_guard<std::mutex> guard(shared_->lock);
        shared_->camera = nullptr; /* frames released later must not touch the requests */
        shared_->held.clear();
    }
    requests_.clear();
    allocator_.reset();
    if (acquired_)
        camera_->release();
    camera_.reset();
    manager_->stop();
}

void LibcameraCamera::start(FrameHandler onFrame, StopHandler onStop)
{
    onFrame_ = std::move(onFrame);
    onStop_ = std::move(onStop);
    if (camera_->start() < 0)
        throw HalError("libcamera camera '" + camera_->id() + "': start failed");
    {
        std::lock_guard<std::mutex> guard(shared_->lock);
        shared_->running = true;
    }
    std::lock_guard<std::mutex> guard(shared_->lock);
    for (auto &request : requests_) {
        if (shared_->held.count(request.get()))
            continue; /* still in a consumer's hands: queued when released */
        request->reuse(lc::Request::ReuseBuffers);
        if (camera_->queueRequest(request.get()) < 0)
            throw HalError("libcamera camera '" + camera_->id() + "': cannot queue a request");
    }
}

void LibcameraCamera::stop()
{
    {
        std::lock_guard<std::mutex> guard(shared_->lock);
        if (!shared_->running)
            return;
        shared_->running = false;
    }
    camera_->stop(); /* completes every queued request as cancelled, then returns */
}

void LibcameraCamera::requestComplete(lc::Request *request)
{
    if (request->status() == lc::Request::RequestCancelled)
        return;
    lc::FrameBuffer *buffer = request->findBuffer(stream_);
    const lc::FrameMetadata &meta = buffer->metadata();
    Nanos seen = monotonicNow();

    auto *frame = new Frame;
    frame->sequence = meta.sequence;
    std::optional<std::int64_t> sensor = request->metadata().get(lc::controls::SensorTimestamp);
    frame->stamp.sampleNs = sensor && clock_ ? clock_->boottimeToMonotonic(*sensor) : seen;
    frame->stamp.seenNs = seen;
    frame->width = width_;
    frame->height = height_;
    frame->stride = stride_;
    frame->format = format_;
    frame->data = shared_->data[buffer];
    frame->size = 0;
    for (const auto &plane : meta.planes())
        frame->size += plane.bytesused;

    /* Recycle: when the last holder lets go, the request goes back to the camera. */
    std::shared_ptr<Shared> shared = shared_;
    {
        std::lock_guard<std::mutex> guard(shared->lock);
        shared->held.insert(request);
    }
    FramePtr ptr(frame, [shared, request](const Frame *f) {
        delete f;
        std::lock_guard<std::mutex> guard(shared->lock);
        shared->held.erase(request);
        if (!shared->running || !shared->camera)
            return; /* stopped: start() queues it again */
        request->reuse(lc::Request::ReuseBuffers);
        shared->camera->queueRequest(request);
    });
    ++delivered_;
    if (onFrame_)
        onFrame_(std::move(ptr));
}

void LibcameraCamera::disconnected()
{
    if (onStop_)
        onStop_("libcamera camera '" + camera_->id() + "' disconnected");
}

} /* namespace */

std::unique_ptr<Camera> openLibcameraCamera(const CameraConfig &config, const Clock *clock)
{
    return std::make_unique<LibcameraCamera>(config, clock);
}

} /* namespace stopline::hal */

#include "hal/linux/opencv_camera.h"

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "hal/error.h"

namespace stopline::hal {

namespace {

enum class Source { Device, Stream, File };

Source classify(const std::string &device)
{
    if (device.rfind("rtsp://", 0) == 0 || device.rfind("rtsps://", 0) == 0 ||
        device.rfind("http://", 0) == 0 || device.rfind("https://", 0) == 0 ||
        device.rfind("rtmp://", 0) == 0 || device.rfind("udp://", 0) == 0)
        return Source::Stream;
    if (device.rfind("/dev/video", 0) == 0 ||
        (!device.empty() && device.find_first_not_of("0123456789") == std::string::npos))
        return Source::Device;
    return Source::File;
}

class OpencvCamera : public Camera
{
public:
    explicit OpencvCamera(const CameraConfig &config);
    ~OpencvCamera() override;

    void start(FrameHandler onFrame, StopHandler onStop) override;
    void stop() override;
    std::string id() const override { return config_.device; }
    int width() const override { return width_; }
    int height() const override { return height_; }
    PixelFormat format() const override { return config_.format; }
    std::uint64_t framesDelivered() const override { return delivered_; }
    std::uint64_t framesDropped() const override { return dropped_; }

private:
    void run();
    bool grab(cv::Mat &into);
    /* Fills `frame` from the decoded image (conversion or resize if needed). */
    void fill(Frame &frame, const cv::Mat &image);
    Nanos timestampOf(Nanos seen);
    bool sleepUntil(Nanos monotonicNs);

    CameraConfig config_;
    Source source_;
    std::string what_;
    cv::VideoCapture capture_;
    cv::Mat first_; /* read at open to learn the size; delivered first */
    int width_ = 0;
    int height_ = 0;
    std::unique_ptr<FramePool> pool_;
    double fileFps_ = 0;
    std::uint64_t fileIndex_ = 0; /* frames read from the file in this pass */
    Nanos lastFileNs_ = -1;
    Nanos anchorNs_ = -1; /* monotonic time of file time zero */
    Nanos loopOffsetNs_ = 0;

    std::thread thread_;
    std::mutex lock_;
    std::condition_variable wake_;
    bool running_ = false;
    FrameHandler onFrame_;
    StopHandler onStop_;
    std::atomic<std::uint64_t> delivered_{0};
    std::atomic<std::uint64_t> dropped_{0};
    std::uint64_t sequence_ = 0;
};

OpencvCamera::OpencvCamera(const CameraConfig &config)
    : config_(config), source_(classify(config.device)),
      what_("opencv camera '" + config.device + "'")
{
    if (config_.device.empty())
        throw HalError("opencv camera: no device, URL or file configured");
    if (config_.buffers < 2)
        throw HalError(what_ + ": needs at least 2 buffers");
    bool opened = false;
    switch (source_) {
    case Source::Device:
        if (config_.device.find_first_not_of("0123456789") == std::string::npos)
            opened = capture_.open(std::stoi(config_.device), cv::CAP_V4L2);
        else
            opened = capture_.open(config_.device, cv::CAP_V4L2);
        if (opened && config_.width > 0 && config_.height > 0) {
            capture_.set(cv::CAP_PROP_FRAME_WIDTH, config_.width);
            capture_.set(cv::CAP_PROP_FRAME_HEIGHT, config_.height);
        }
        if (opened && config_.fps > 0)
            capture_.set(cv::CAP_PROP_FPS, config_.fps);
        break;
    case Source::Stream:
        opened = capture_.open(config_.device);
        break;
    case Source::File:
        if (!std::filesystem::exists(config_.device))
            throw HalError(what_ + ": video file not found");
        opened = capture_.open(config_.device);
        break;
    }
    if (!opened)
        throw HalError(what_ + ": cannot open (no such device, unreachable stream or "
                               "unsupported file)");
    if (!capture_.read(first_) || first_.empty())
        throw HalError(what_ + ": opened but delivers no frames");
    if (first_.type() != CV_8UC3)
        throw HalError(what_ + ": decodes to an unsupported pixel type");
    fileIndex_ = 1;
    width_ = config_.width > 0 && config_.height > 0 ? config_.width : first_.cols;
    height_ = config_.width > 0 && config_.height > 0 ? config_.height : first_.rows;
    fileFps_ = capture_.get(cv::CAP_PROP_FPS);
    if (!(fileFps_ > 0 && fileFps_ < 1000))
        fileFps_ = config_.fps > 0 ? config_.fps : 25.0;
    pool_ = std::make_unique<FramePool>(frameBytes(config_.format, width_, height_),
                                        config_.buffers);
}

OpencvCamera::~OpencvCamera()
{
    stop();
}

void OpencvCamera::start(FrameHandler onFrame, StopHandler onStop)
{
    std::lock_guard<std::mutex> guard(lock_);
    if (running_)
        return;
    onFrame_ = std::move(onFrame);
    onStop_ = std::move(onStop);
    running_ = true;
    thread_ = std::thread([this] { run(); });
}

void OpencvCamera::stop()
{
    {
        std::lock_guard<std::mutex> guard(lock_);
        running_ = false;
    }
    wake_.notify_all();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id())
        thread_.join();
}

bool OpencvCamera::sleepUntil(Nanos monotonicNs)
{
    std::unique_lock<std::mutex> guard(lock_);
    while (running_) {
        Nanos left = monotonicNs - monotonicNow();
        if (left <= 0)
            return true;
        wake_.wait_for(guard, std::chrono::nanoseconds(left));
    }
    return false;
}

bool OpencvCamera::grab(cv::Mat &into)
{
    if (capture_.read(into) && !into.empty()) {
        ++fileIndex_;
        return true;
    }
    if (source_ != Source::File || !config_.loopFile)
        return false;
    /* Loop: the next pass continues the timeline where this one ended. */
    loopOffsetNs_ += static_cast<Nanos>(fileIndex_ * (kNanosPerSecond / fileFps_));
    fileIndex_ = 0;
    lastFileNs_ = -1;
    capture_.set(cv::CAP_PROP_POS_FRAMES, 0);
    if (capture_.read(into) && !into.empty()) {
        ++fileIndex_;
        return true;
    }
    return false;
}

Nanos OpencvCamera::timestampOf(Nanos seen)
{
    switch (source_) {
    case Source::Device: {
        /* OpenCV's V4L2 backend reports the driver's buffer timestamp, normally
         * CLOCK_MONOTONIC; anything implausible falls back to the read time. */
        double ms = capture_.get(cv::CAP_PROP_POS_MSEC);
        Nanos ts = static_cast<Nanos>(ms * 1e6);
        if (ms > 0 && ts <= seen && seen - ts < 5 * kNanosPerSecond)
            return ts;
        return seen;
    }
    case Source::Stream:
        return seen;
    case Source::File: {
        /* The container's time of this frame when the backend reports it and it advances;
         * otherwise frame index / fps. */
        Nanos byIndex = static_cast<Nanos>((fileIndex_ - 1) * (kNanosPerSecond / fileFps_));
        double ms = capture_.get(cv::CAP_PROP_POS_MSEC);
        Nanos fileNs = ms > 0 ? static_cast<Nanos>(ms * 1e6) : byIndex;
        if (fileNs <= lastFileNs_)
            fileNs = byIndex > lastFileNs_ ? byIndex : lastFileNs_ + 1;
        lastFileNs_ = fileNs;
        if (anchorNs_ < 0)
            anchorNs_ = seen - fileNs;
        return anchorNs_ + loopOffsetNs_ + fileNs;
    }
    }
    return seen;
}

void OpencvCamera::fill(Frame &frame, const cv::Mat &image)
{
    cv::Mat source = image;
    cv::Mat resized;
    if (image.cols != width_ || image.rows != height_) {
        cv::resize(image, resized, cv::Size(width_, height_));
        source = resized;
    }
    switch (config_.format) {
    case PixelFormat::BGR888: {
        cv::Mat out(height_, width_, CV_8UC3, frame.data);
        if (source.data != frame.data)
            source.copyTo(out);
        frame.stride = width_ * 3;
        break;
    }
    case PixelFormat::GRAY8: {
        cv::Mat out(height_, width_, CV_8UC1, frame.data);
        cv::cvtColor(source, out, cv::COLOR_BGR2GRAY);
        frame.stride = width_;
        break;
    }
    case PixelFormat::YUV420: {
        cv::Mat out(height_ * 3 / 2, width_, CV_8UC1, frame.data);
        cv::cvtColor(source, out, cv::COLOR_BGR2YUV_I420);
        frame.stride = width_;
        break;
    }
    }
    frame.width = width_;
    frame.height = height_;
    frame.format = config_.format;
    frame.size = frameBytes(config_.format, width_, height_);
}

void OpencvCamera::run()
{
    cv::Mat scratch;
    bool haveFirst = true;
    std::string reason;
    for (;;) {
        {
            std::lock_guard<std::mutex> guard(lock_);
            if (!running_)
                return;
        }
        std::shared_ptr<Frame> slot = pool_->acquire();
        /* Decode straight into the slot when no conversion is needed. */
        bool direct = slot && config_.format == PixelFormat::BGR888 && first_.cols == width_ &&
                      first_.rows == height_ && !haveFirst;
        cv::Mat image = direct ? cv::Mat(height_, width_, CV_8UC3, slot->data) : scratch;
        if (haveFirst) {
            image = first_;
            haveFirst = false;
        } else if (!grab(image)) {
            reason = source_ == Source::File ? what_ + ": end of video file"
                                             : what_ + ": no more frames (device or stream lost)";
            break;
        }
        if (!direct)
            scratch = image;
        Nanos seen = monotonicNow();
        Nanos sample = timestampOf(seen);
        if (source_ == Source::File && config_.paceFile) {
            if (!sleepUntil(sample))
                return;
            seen = monotonicNow();
        }
        if (!slot) {
            ++dropped_; /* every buffer is held downstream: drop, never block capture */
            continue;
        }
        fill(*slot, image);
        slot->sequence = sequence_++;
        slot->stamp.sampleNs = sample;
        slot->stamp.seenNs = seen;
        ++delivered_;
        if (onFrame_)
            onFrame_(std::move(slot));
    }
    StopHandler onStop;
    {
        std::lock_guard<std::mutex> guard(lock_);
        if (!running_)
            return;
        onStop = onStop_;
    }
    if (onStop)
        onStop(reason);
}

} /* namespace */

std::unique_ptr<Camera> openOpencvCamera(const CameraConfig &config)
{
    return std::make_unique<OpencvCamera>(config);
}

} /* namespace stopline::hal */

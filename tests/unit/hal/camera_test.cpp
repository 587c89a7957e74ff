#include "hal/camera.h"

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>

#include "hal/clock.h"
#include "hal/error.h"
#include "hal/sim/framing.h"
#include "sim_wire.pb.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::hal;
namespace simwire = stopline::simwire;

namespace {

std::string expectHalError(const std::function<void()> &open)
{
    try {
        open();
    } catch (const HalError &e) {
        return e.what();
    }
    FAIL("no HalError");
    return {};
}

struct TempDir
{
    std::string path;
    TempDir()
    {
        char dir[] = "/tmp/stopline-cam-XXXXXX";
        CHECK(mkdtemp(dir) != nullptr);
        path = dir;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

constexpr int kFrames = 20;
constexpr double kFps = 20.0;

/* Frame i is a flat grey of level 10*i + 20, so its content says which frame it is. */
std::string writeVideo(const std::string &dir)
{
    std::string path = dir + "/clip.avi";
    cv::VideoWriter writer(path, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), kFps,
                           cv::Size(160, 120));
    CHECK_TEXT(writer.isOpened(), "cv::VideoWriter cannot write MJPG/AVI");
    for (int i = 0; i < kFrames; ++i)
        writer.write(cv::Mat(120, 160, CV_8UC3, cv::Scalar::all(10 * i + 20)));
    writer.release();
    return path;
}

/* What the capture thread saw, copied out so no frame is held. */
struct Seen
{
    std::uint64_t sequence;
    Nanos sampleNs;
    double mean;
    int width, height;
};

struct Collector
{
    std::mutex lock;
    std::condition_variable changed;
    std::vector<Seen> seen;
    std::vector<FramePtr> held;
    bool hold = false;
    std::string stopped;

    Camera::FrameHandler frames()
    {
        return [this](FramePtr frame) {
            int type = frame->format == PixelFormat::GRAY8 ? CV_8UC1 : CV_8UC3;
            cv::Mat view(frame->height, frame->width, type, frame->data, frame->stride);
            Seen s{frame->sequence, frame->stamp.sampleNs, cv::mean(view)[0], frame->width,
                   frame->height};
            std::lock_guard<std::mutex> guard(lock);
            seen.push_back(s);
            if (hold)
                held.push_back(std::move(frame));
            changed.notify_all();
        };
    }
    Camera::StopHandler stop()
    {
        return [this](const std::string &reason) {
            std::lock_guard<std::mutex> guard(lock);
            stopped = reason;
            changed.notify_all();
        };
    }
    bool waitStopped(int seconds = 60)
    {
        std::unique_lock<std::mutex> guard(lock);
        return changed.wait_for(guard, std::chrono::seconds(seconds),
                                [&] { return !stopped.empty(); });
    }
};

} /* namespace */

TEST_GROUP(Camera)
{
    Clock clock;
};

TEST(Camera, LibcameraMissingCameraIsNamed)
{
    CameraConfig config;
    config.backend = "libcamera";
    config.device = "/base/soc/i2c0mux/i2c@1/imx999@1a";
    std::string what = expectHalError([&] { openCamera(config, &clock); });
    CHECK_TEXT(what.find("libcamera camera '/base/soc/i2c0mux/i2c@1/imx999@1a' not found") !=
                       std::string::npos,
               what.c_str());
    CHECK_TEXT(what.find("cameras present: none") != std::string::npos, what.c_str());
}

TEST(Camera, LibcameraFirstCameraWhenThereIsNone)
{
    CameraConfig config;
    config.backend = "libcamera";
    std::string what = expectHalError([&] { openCamera(config, &clock); });
    CHECK_TEXT(what.find("not found: no camera present") != std::string::npos, what.c_str());
}

TEST(Camera, OpencvMissingSourcesAreNamed)
{
    CameraConfig config;
    config.backend = "opencv";
    config.device = "/tmp/stopline-no-such-clip.avi";
    std::string what = expectHalError([&] { openCamera(config, &clock); });
    CHECK_TEXT(what.find("'/tmp/stopline-no-such-clip.avi': video file not found") !=
                       std::string::npos,
               what.c_str());
    config.device = "/dev/video99";
    what = expectHalError([&] { openCamera(config, &clock); });
    CHECK_TEXT(what.find("'/dev/video99': cannot open") != std::string::npos, what.c_str());
    config.backend = "gstreamer";
    what = expectHalError([&] { openCamera(config, &clock); });
    CHECK(what.find("unknown backend 'gstreamer'") != std::string::npos);
}

TEST(Camera, OpencvPlaysAVideoFileWithIncreasingTimestamps)
{
    TempDir dir;
    CameraConfig config;
    config.backend = "opencv";
    config.device = writeVideo(dir.path);
    config.paceFile = true; /* real time: 20 frames at 20 fps, about a second */
    auto camera = openCamera(config, &clock);
    LONGS_EQUAL(160, camera->width());
    LONGS_EQUAL(120, camera->height());
    Collector collector;
    Nanos started = monotonicNow();
    camera->start(collector.frames(), collector.stop());
    CHECK(collector.waitStopped());
    Nanos finished = monotonicNow();
    camera->stop();

    CHECK_TEXT(collector.stopped.find("end of video file") != std::string::npos,
               collector.stopped.c_str());
    LONGS_EQUAL(kFrames, collector.seen.size());
    LONGS_EQUAL(kFrames, camera->framesDelivered());
    LONGS_EQUAL(0, camera->framesDropped());
    for (int i = 0; i < kFrames; ++i) {
        const Seen &s = collector.seen[i];
        LONGS_EQUAL(i, s.sequence);
        LONGS_EQUAL(160, s.width);
        DOUBLES_EQUAL(10 * i + 20, s.mean, 4.0); /* the right frame, in order (JPEG) */
        CHECK(s.sampleNs >= started && s.sampleNs <= finished);
        if (i > 0) {
            Nanos step = s.sampleNs - collector.seen[i - 1].sampleNs;
            CHECK(step > 0);
            /* Stamped from the file's timing: 50 ms apart whatever the machine's load. */
            CHECK_TEXT(std::llabs(step - 50 * kNanosPerMilli) < kNanosPerMilli,
                       std::to_string(step).c_str());
        }
    }
    /* Paced: playing took at least the clip's length. */
    CHECK(finished - started >= (kFrames - 1) * 50 * kNanosPerMilli);
}

TEST(Camera, OpencvConvertsToGrayAndDropsRatherThanBlocks)
{
    TempDir dir;
    CameraConfig config;
    config.backend = "opencv";
    config.device = writeVideo(dir.path);
    config.paceFile = false;
    config.format = PixelFormat::GRAY8;
    config.buffers = 3;
    auto camera = openCamera(config, &clock);
    Collector collector;
    collector.hold = true; /* a consumer that never lets go */
    camera->start(collector.frames(), collector.stop());
    CHECK(collector.waitStopped());
    camera->stop();
    LONGS_EQUAL(3, collector.seen.size());
    LONGS_EQUAL(3, camera->framesDelivered());
    LONGS_EQUAL(kFrames - 3, camera->framesDropped());
    DOUBLES_EQUAL(20, collector.seen[0].mean, 4.0);
    DOUBLES_EQUAL(40, collector.seen[2].mean, 4.0);
    /* Releasing the frames returns the buffers: held frames stay valid after stop. */
    CHECK(collector.held[0]->data != nullptr);
    collector.held.clear();
}

namespace {

/* The simulator's side of the camera wire: 64x48 BGR frames with a padded stride. */
class TinyCameraServer
{
public:
    int frames = 3;
    std::string refuse;

    TinyCameraServer()
    {
        path = dir_.path + "/camera.sock";
        listen_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strcpy(addr.sun_path, path.c_str());
        CHECK(::bind(listen_, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0);
        CHECK(::listen(listen_, 4) == 0);
    }
    ~TinyCameraServer()
    {
        ::shutdown(listen_, SHUT_RDWR);
        ::close(listen_);
        if (thread_.joinable())
            thread_.join();
    }
    void serve()
    {
        thread_ = std::thread([this] {
            int fd = ::accept(listen_, nullptr, nullptr);
            if (fd < 0)
                return;
            std::string payload;
            hal::sim::readFrame(fd, payload, 10000);
            simwire::CameraMessage info;
            info.mutable_info()->set_id("sim-cam0");
            info.mutable_info()->set_width(64);
            info.mutable_info()->set_height(48);
            info.mutable_info()->set_pixel_format("BGR888");
            info.mutable_info()->set_fps(10);
            info.mutable_info()->set_error(refuse);
            hal::sim::writeFrame(fd, info.SerializeAsString());
            for (int i = 0; refuse.empty() && i < frames; ++i) {
                simwire::CameraMessage msg;
                simwire::CameraFrame *f = msg.mutable_frame();
                f->set_sequence(100 + i);
                f->set_timestamp_ns(7'000'000'000 + i * 100'000'000LL);
                f->set_width(64);
                f->set_height(48);
                f->set_stride(64 * 3 + 8);
                std::string data((64 * 3 + 8) * 48, char(0xee)); /* padding bytes */
                for (int row = 0; row < 48; ++row)
                    for (int x = 0; x < 64 * 3; ++x)
                        data[row * (64 * 3 + 8) + x] = char((row + x + i) & 0x7f);
                f->set_data(data);
                hal::sim::writeFrame(fd, msg.SerializeAsString());
            }
            ::close(fd);
        });
    }
    std::string path;

private:
    TempDir dir_;
    int listen_ = -1;
    std::thread thread_;
};

} /* namespace */

TEST(Camera, SimClientCopiesFramesAndKeepsTimestamps)
{
    TinyCameraServer server;
    server.serve();
    CameraConfig config;
    config.backend = "sim";
    config.device = server.path;
    auto camera = openCamera(config, &clock);
    STRCMP_EQUAL("sim-cam0", camera->id().c_str());
    LONGS_EQUAL(64, camera->width());
    Collector collector;
    collector.hold = true;
    camera->start(collector.frames(), collector.stop());
    CHECK(collector.waitStopped());
    camera->stop();
    CHECK_TEXT(collector.stopped.find("closed") != std::string::npos, collector.stopped.c_str());
    LONGS_EQUAL(3, collector.held.size());
    for (int i = 0; i < 3; ++i) {
        const Frame &f = *collector.held[i];
        LONGS_EQUAL(100 + i, f.sequence);
        LONGS_EQUAL(7'000'000'000 + i * 100'000'000LL, f.stamp.sampleNs);
        LONGS_EQUAL(64 * 3, f.stride);
        bool same = true;
        for (int row = 0; row < 48; ++row)
            for (int x = 0; x < 64 * 3; ++x)
                same = same && f.data[row * 64 * 3 + x] == ((row + x + i) & 0x7f);
        CHECK_TEXT(same, "pixels differ from what the simulator sent");
    }
}

TEST(Camera, SimRefusalIsNamed)
{
    TinyCameraServer server;
    server.refuse = "no camera 'front'";
    server.serve();
    CameraConfig config;
    config.backend = "sim";
    config.device = server.path;
    std::string what = expectHalError([&] { openCamera(config, &clock); });
    CHECK_TEXT(what.find("refused by the simulator: no camera 'front'") != std::string::npos,
               what.c_str());
}

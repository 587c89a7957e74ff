#include "sim/runner.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <opencv2/core.hpp>

#include "hal/sim/framing.h"
#include "sim/camera_server.h"
#include "sim/gpio_server.h"
#include "sim/log.h"
#include "sim/radar_port.h"
#include "sim/renderer.h"
#include "sim/truth_log.h"
#include "sim_wire.pb.h"

namespace stopline::sim {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

/* How late the render may run before it gives up on the frames it missed: about what a
 * loaded 2-core test machine needs to catch up after a burst of other work. */
constexpr Nanos kMaxRenderLagNs = 2 * kNanosPerSecond;

std::chrono::steady_clock::time_point toTimePoint(Nanos t)
{
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(t));
}

void writeFileAtomically(const std::string &path, const std::string &text)
{
    std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << text;
        if (!out)
            throw std::runtime_error("cannot write " + tmp);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
        throw std::runtime_error("cannot rename " + tmp + " to " + path);
}

class Runner
{
public:
    Runner(const World &world, const RunOptions &options)
        : world_(world), options_(options), truth_(options.truthPath), signals_(io_),
          startTimer_(io_), truthTimer_(io_), endTimer_(io_), waitTimer_(io_)
    {}

    ~Runner()
    {
        stopRendering();
        if (madeDir_)
            ::rmdir(dir_.c_str());
    }

    int run()
    {
        openWires();
        announce();

        signals_.add(SIGINT);
        signals_.add(SIGTERM);
        signals_.async_wait([this](const error_code &ec, int sig) {
            if (!ec)
                finish(sig == SIGINT ? "SIGINT" : "SIGTERM");
        });
        if (options_.waitTimeoutS > 0) {
            waitTimer_.expires_after(
                    std::chrono::nanoseconds(secondsToNanos(options_.waitTimeoutS)));
            waitTimer_.async_wait([this](const error_code &ec) {
                if (ec || started_)
                    return;
                logLine("no client attached within " + std::to_string(options_.waitTimeoutS) +
                        " s; giving up");
                exitCode_ = kExitNoClient;
                finish("no client");
            });
        }
        maybeStart();
        io_.run();
        return exitCode_;
    }

private:
    void openWires()
    {
        dir_ = options_.socketDir;
        if (dir_.empty() && (options_.gpioSocket.empty() || options_.cameraSocket.empty())) {
            char tmpl[] = "/tmp/stopline-sim-XXXXXX";
            if (!::mkdtemp(tmpl))
                throw std::runtime_error("cannot create a socket directory under /tmp");
            dir_ = tmpl;
            madeDir_ = true;
        }
        if (!world_.lines().empty()) {
            std::string path =
                    options_.gpioSocket.empty() ? dir_ + "/gpio.sock" : options_.gpioSocket;
            gpio_ = std::make_unique<GpioServer>(io_, world_, path, options_.gpioShared);
            gpio_->onClient = [this] { maybeStart(); };
        }
        if (world_.scenario().camera) {
            std::string path =
                    options_.cameraSocket.empty() ? dir_ + "/camera.sock" : options_.cameraSocket;
            camera_ = std::make_unique<CameraServer>(io_, *world_.scenario().camera, path);
            camera_->onClient = [this] { maybeStart(); };
            renderer_ = std::make_unique<Renderer>(world_.scenario(), *world_.scenario().camera);
        }
        if (world_.scenario().radar) {
            radar_ = std::make_unique<RadarPort>(io_, world_, truth_, options_.radarLink);
            radar_->onAttach = [this] { maybeStart(); };
        }
    }

    Json wiresJson() const
    {
        const Scenario &sc = world_.scenario();
        Json j{{"pid", ::getpid()},
               {"scenario", sc.name},
               {"duration_s", sc.durationS},
               {"t0_ns", t0_ >= 0 ? Json(t0_) : Json(nullptr)}};
        if (radar_)
            j["radar"] =
                    Json{{"pty", radar_->path()},
                         {"link", radar_->link().empty() ? Json(nullptr) : Json(radar_->link())},
                         {"baud", 19200}};
        if (gpio_) {
            Json lines = Json::array();
            for (const auto &l : world_.lines())
                lines.push_back(Json{{"offset", l.offset}, {"name", l.name}});
            j["gpio"] = Json{{"socket", gpio_->path()},
                             {"chip", sc.gpioChip},
                             {"label", sc.gpioLabel},
                             {"lines", lines}};
        }
        if (camera_) {
            const CameraSpec &c = *sc.camera;
            j["camera"] =
                    Json{{"socket", camera_->path()}, {"id", c.id},   {"width", c.width},
                         {"height", c.height},        {"fps", c.fps}, {"pixel_format", "BGR888"}};
        }
        j["truth"] = options_.truthPath.empty() ? Json(nullptr) : Json(options_.truthPath);
        return j;
    }

    void announce()
    {
        const Scenario &sc = world_.scenario();
        std::printf("stopline-sim: scenario \"%s\" (%.1f s, %zu vehicles)\n", sc.name.c_str(),
                    sc.durationS, sc.vehicles.size());
        if (radar_)
            std::printf("  radar   %s on %s%s%s (OPS243, 19200 8N1)\n", sc.radar->product.c_str(),
                        radar_->path().c_str(), radar_->link().empty() ? "" : " linked at ",
                        radar_->link().c_str());
        if (gpio_) {
            std::printf("  gpio    %s [%s] on %s, %zu lines:\n", sc.gpioChip.c_str(),
                        sc.gpioLabel.c_str(), gpio_->path().c_str(), world_.lines().size());
            for (const auto &l : world_.lines())
                std::printf("          %3u %s\n", l.offset, l.name.c_str());
        }
        if (camera_)
            std::printf("  camera  %s %dx%d BGR888 at %g fps on %s\n", sc.camera->id.c_str(),
                        sc.camera->width, sc.camera->height, sc.camera->fps,
                        camera_->path().c_str());
        if (truth_.enabled())
            std::printf("  truth   %s\n", options_.truthPath.c_str());
        if (!options_.waitFor.empty()) {
            std::string list;
            for (const auto &w : options_.waitFor)
                list += " " + w;
            std::printf("waiting for:%s\n", list.c_str());
        }
        std::fflush(stdout);
        if (!options_.wiresJsonPath.empty())
            writeFileAtomically(options_.wiresJsonPath, wiresJson().dump(2) + "\n");
    }

    bool clientsReady() const
    {
        for (const auto &w : options_.waitFor) {
            if (w == "gpio" && (!gpio_ || gpio_->clients() == 0))
                return false;
            if (w == "camera" && (!camera_ || camera_->clients() == 0))
                return false;
            if (w == "radar" && (!radar_ || !radar_->attached()))
                return false;
        }
        return true;
    }

    void maybeStart()
    {
        if (startScheduled_ || finished_ || !clientsReady())
            return;
        startScheduled_ = true;
        waitTimer_.cancel();
        t0_ = monotonicNow() + secondsToNanos(options_.startDelayS);
        startTimer_.expires_at(toTimePoint(t0_));
        startTimer_.async_wait([this](const error_code &ec) {
            if (!ec)
                start();
        });
    }

    void start()
    {
        started_ = true;
        const Scenario &sc = world_.scenario();
        truth_.setStart(t0_);
        Json header{{"type", "start"}, {"scenario", sc.name},
                    {"t0_ns", t0_},    {"duration_s", sc.durationS},
                    {"seed", sc.seed}, {"wires", wiresJson()}};
        if (sc.radar)
            header["radar"] = Json{{"approach", sc.radar->approach},
                                   {"angle_deg", sc.radar->angleDeg},
                                   {"position_m", sc.radar->positionM},
                                   {"facing", sc.radar->facingInbound ? "inbound" : "outbound"}};
        if (renderer_)
            header["camera"] = renderer_->geometry();
        Json vehicles = Json::array();
        for (const auto &v : world_.vehicles())
            vehicles.push_back(Json{{"vehicle", v.spec.id},
                                    {"plate", v.spec.plate},
                                    {"class", vehicleClassName(v.spec.cls)},
                                    {"behaviour", behaviourName(v.spec.behaviour)},
                                    {"approach", v.spec.approach},
                                    {"lane", v.spec.lane}});
        header["vehicles"] = vehicles;
        truth_.write(0, header);
        if (!options_.wiresJsonPath.empty())
            writeFileAtomically(options_.wiresJsonPath, wiresJson().dump(2) + "\n");
        std::printf("started: t0 = %lld ns (CLOCK_MONOTONIC)\n", static_cast<long long>(t0_));
        std::fflush(stdout);

        if (gpio_)
            gpio_->start(t0_);
        if (radar_)
            radar_->start(t0_);
        armTruth();
        if (camera_)
            renderThread_ = std::thread([this] { renderLoop(); });
        if (!options_.hold) {
            endTimer_.expires_at(toTimePoint(t0_ + world_.endNs()));
            endTimer_.async_wait([this](const error_code &ec) {
                if (!ec)
                    finish("complete");
            });
        }
    }

    void armTruth()
    {
        const auto &list = world_.truth();
        if (nextTruth_ >= list.size())
            return;
        truthTimer_.expires_at(toTimePoint(t0_ + list[nextTruth_].at));
        truthTimer_.async_wait([this](const error_code &ec) {
            if (ec)
                return;
            const auto &list = world_.truth();
            Nanos now = monotonicNow();
            while (nextTruth_ < list.size() && t0_ + list[nextTruth_].at <= now) {
                truth_.write(list[nextTruth_].at, list[nextTruth_].record);
                ++nextTruth_;
            }
            armTruth();
        });
    }

    void renderLoop()
    {
        const CameraSpec &spec = *world_.scenario().camera;
        const double period = 1e9 / spec.fps;
        const int w = spec.width, h = spec.height;
        std::uint64_t k = 0;
        for (;;) {
            Nanos tk = t0_ + static_cast<Nanos>(std::llround(k * period));
            {
                std::unique_lock lock(renderMutex_);
                renderWake_.wait_until(lock, toTimePoint(tk), [this] { return stopRender_; });
                if (stopRender_)
                    return;
            }
            Nanos now = monotonicNow();
            if (now < tk)
                continue; /* woke early */
            if (now > tk + kMaxRenderLagNs) {
                /* A real sensor never falls behind its own clock, so a late frame is
                 * still rendered (stamped when it was due) and the render catches up;
                 * only a host too busy to catch up at all skips frames, counted in the
                 * `end` record so a test can tell the host's loss from the camera's. */
                const auto next = static_cast<std::uint64_t>(std::ceil((now - t0_) / period));
                behindSkipped_ += next - k;
                k = next;
                continue;
            }
            if (camera_->clients() == 0 || world_.cameraStalled(tk - t0_)) {
                ++k;
                continue;
            }
            Scene scene = world_.sceneAt(tk - t0_);
            simwire::CameraMessage msg;
            simwire::CameraFrame *frame = msg.mutable_frame();
            frame->set_sequence(k);
            frame->set_timestamp_ns(tk);
            frame->set_width(w);
            frame->set_height(h);
            frame->set_stride(w * 3);
            std::string *data = frame->mutable_data();
            data->resize(static_cast<std::size_t>(w) * h * 3);
            cv::Mat image(h, w, CV_8UC3, data->data());
            std::vector<PlateBox> plates = renderer_->render(scene, image);
            auto out = std::make_shared<std::string>();
            hal::sim::appendMessage(*out, msg);
            Json record;
            if (!plates.empty()) {
                Json list = Json::array();
                for (const auto &p : plates)
                    list.push_back(Json{
                            {"vehicle", p.vehicle},
                            {"plate", p.plate},
                            {"box", Json::array({p.box.x, p.box.y, p.box.width, p.box.height})},
                            {"occluded", std::round(p.occluded * 1000) / 1000}});
                record = Json{{"type", "frame"}, {"sequence", k}, {"plates", list}};
            }
            asio::post(io_, [this, out, record = std::move(record), tk] {
                if (finished_)
                    return;
                camera_->publish(out);
                if (!record.is_null())
                    truth_.write(tk - t0_, record);
            });
            ++k;
        }
    }

    void stopRendering()
    {
        {
            std::lock_guard lock(renderMutex_);
            stopRender_ = true;
        }
        renderWake_.notify_all();
        if (renderThread_.joinable())
            renderThread_.join();
    }

    void finish(const std::string &reason)
    {
        if (finished_)
            return;
        finished_ = true;
        stopRendering();
        if (started_) {
            Json end{{"type", "end"}, {"reason", reason}};
            if (radar_)
                end["radar_lines"] = radar_->linesSent();
            if (camera_) {
                end["camera_frames_dropped"] = camera_->dropped();
                end["camera_frames_skipped_behind"] = behindSkipped_.load();
            }
            truth_.write(monotonicNow() - t0_, end);
        }
        if (reason != "complete")
            logLine("stopping: " + reason);
        signals_.cancel();
        startTimer_.cancel();
        truthTimer_.cancel();
        endTimer_.cancel();
        waitTimer_.cancel();
        if (gpio_)
            gpio_->close();
        if (camera_)
            camera_->close();
        if (radar_)
            radar_->close();
        io_.stop();
    }

    const World &world_;
    RunOptions options_;
    asio::io_context io_;
    TruthLog truth_;
    asio::signal_set signals_;
    asio::steady_timer startTimer_, truthTimer_, endTimer_, waitTimer_;
    std::string dir_;
    bool madeDir_ = false;
    std::unique_ptr<GpioServer> gpio_;
    std::unique_ptr<CameraServer> camera_;
    std::unique_ptr<RadarPort> radar_;
    std::unique_ptr<Renderer> renderer_;
    std::thread renderThread_;
    std::mutex renderMutex_;
    std::condition_variable renderWake_;
    bool stopRender_ = false;
    std::atomic<std::uint64_t> behindSkipped_{0}; /* frames the host was too busy to render */
    Nanos t0_ = -1;
    std::size_t nextTruth_ = 0;
    bool startScheduled_ = false;
    bool started_ = false;
    std::atomic<bool> finished_{false};
    int exitCode_ = kExitOk;
};

} /* namespace */

int runWorld(const World &world, const RunOptions &options)
{
    std::signal(SIGPIPE, SIG_IGN);
    try {
        Runner runner(world, options);
        return runner.run();
    } catch (const std::exception &e) {
        logLine(std::string("error: ") + e.what());
        return kExitRuntime;
    }
}

} /* namespace stopline::sim */

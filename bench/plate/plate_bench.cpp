/* Plate location per image at 1280x720 and 1920x1080, single-threaded, with a
 * same-process baseline (grey conversion + Gaussian blur of the same image) so the
 * figures can be compared across noisy runs as ratios. Images: the real photographs of
 * the folder given as the first argument (plates-us-dev, see STOPLINE_PLATES_DATA),
 * resized to each frame size, else scenes rendered by the unit tests' renderer.
 * Prints one line per size, then a final JSON line. */

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <malloc.h>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "pipeline/plate/plate_locator.h"
#include "tests/unit/plate/plate_scene.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

double msSince(Clock::time_point t0)
{
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::vector<cv::Mat> loadPhotos(const fs::path &dir)
{
    std::vector<fs::path> files;
    if (fs::is_directory(dir)) {
        for (const auto &e : fs::directory_iterator(dir)) {
            auto ext = e.path().extension().string();
            if (ext == ".jpg" || ext == ".png")
                files.push_back(e.path());
        }
    }
    std::sort(files.begin(), files.end());
    std::vector<cv::Mat> photos;
    for (const auto &f : files) {
        cv::Mat img = cv::imread(f.string(), cv::IMREAD_COLOR);
        if (!img.empty())
            photos.push_back(img);
    }
    return photos;
}

std::vector<cv::Mat> renderScenes(cv::Size size)
{
    std::vector<cv::Mat> scenes;
    for (int i = 0; i < 24; ++i) {
        stopline::test::SceneSpec spec;
        spec.size = size;
        spec.plateWidth = size.width / 12 + 4 * i;
        spec.plateCentre = {size.width / 3 + (i * 37) % (size.width / 3), size.height * 2 / 3};
        spec.noiseSigma = 6;
        spec.seed = i + 1;
        cv::Mat img = stopline::test::renderScene(spec).image;
        /* Clutter: sign text and poles, which are what costs time on real streets. */
        cv::RNG rng(i + 100);
        for (int k = 0; k < 12; ++k) {
            cv::Point at(rng.uniform(0, size.width), rng.uniform(0, size.height / 2));
            cv::putText(img, "SPEED LIMIT 25", at, cv::FONT_HERSHEY_SIMPLEX, rng.uniform(0.5, 1.5),
                        cv::Scalar::all(rng.uniform(0, 255)), 2);
            int x = rng.uniform(0, size.width);
            cv::line(img, {x, 0}, {x, size.height}, cv::Scalar::all(rng.uniform(0, 255)), 3);
        }
        scenes.push_back(img);
    }
    return scenes;
}

struct SizeResult
{
    double locateMs, baselineMs;
};

SizeResult measure(const std::vector<cv::Mat> &images, const stopline::pipeline::PlateLocator &loc)
{
    std::vector<double> locate, baseline;
    volatile std::size_t sink = 0;
    for (int rep = 0; rep < 3; ++rep) {
        for (const auto &img : images) {
            auto t0 = Clock::now();
            cv::Mat grey, blurred;
            cv::cvtColor(img, grey, cv::COLOR_BGR2GRAY);
            cv::GaussianBlur(grey, blurred, cv::Size(5, 5), 0);
            baseline.push_back(msSince(t0));
            sink = sink + blurred.total();

            t0 = Clock::now();
            auto boxes = loc.locate(img);
            locate.push_back(msSince(t0));
            sink = sink + boxes.size();
        }
    }
    return {median(locate), median(baseline)};
}

} // namespace

int main(int argc, char **argv)
{
    cv::setNumThreads(1);
    /* Steady-state allocation, as in the long-running daemon: keep freed frame-sized
     * buffers in the heap instead of returning them to the kernel after every image.
     * On this (virtualised) machine each fresh page fault costs enough that a 1080p
     * grey conversion took 6 ms cold against 0.5 ms warm. */
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    std::vector<cv::Mat> photos;
    if (argc > 1)
        photos = loadPhotos(argv[1]);
    const char *source = photos.empty() ? "rendered" : "plates-us-dev";
    stopline::pipeline::PlateLocator locator;

    std::string json = std::string("{\"bench\":\"plate_locate\",\"source\":\"") + source + "\"";
    for (cv::Size size : {cv::Size(1280, 720), cv::Size(1920, 1080)}) {
        std::vector<cv::Mat> images;
        if (photos.empty()) {
            images = renderScenes(size);
        } else {
            for (const auto &p : photos) {
                cv::Mat r;
                cv::resize(p, r, size, 0, 0, cv::INTER_AREA);
                images.push_back(r);
            }
        }
        SizeResult r = measure(images, locator);
        const std::string tag = std::to_string(size.height) + "p";
        std::printf("%dx%d: %zu images, locate median %.2f ms, baseline median %.2f ms, "
                    "ratio %.1f\n",
                    size.width, size.height, images.size(), r.locateMs, r.baselineMs,
                    r.locateMs / r.baselineMs);
        char buf[256];
        std::snprintf(buf, sizeof buf,
                      ",\"images_%s\":%zu,\"locate_ms_median_%s\":%.3f,"
                      "\"baseline_ms_median_%s\":%.3f,\"ratio_%s\":%.2f",
                      tag.c_str(), images.size(), tag.c_str(), r.locateMs, tag.c_str(),
                      r.baselineMs, tag.c_str(), r.locateMs / r.baselineMs);
        json += buf;
    }
    json += "}";
    std::printf("%s\n", json.c_str());
    return 0;
}

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "pipeline/plate/plate_locator.h"
#include "tests/unit/plate/plate_scene.h"

#include <CppUTest/TestHarness.h>

using stopline::pipeline::PlateBox;
using stopline::pipeline::plateIou;
using stopline::pipeline::PlateLocator;
using stopline::test::renderScene;
using stopline::test::Scene;
using stopline::test::SceneSpec;

namespace {

/* Best IoU of any candidate with the true plate. */
double bestIou(const std::vector<PlateBox> &boxes, const cv::Rect &truth)
{
    double best = 0;
    for (const auto &b : boxes)
        best = std::max(best, plateIou(b.box, truth));
    return best;
}

std::string describe(const SceneSpec &spec, const std::vector<PlateBox> &boxes,
                     const cv::Rect &truth)
{
    std::string s = "plate " + std::to_string(truth.width) + "x" + std::to_string(truth.height) +
                    " at " + std::to_string(truth.x) + "," + std::to_string(truth.y) + " text " +
                    spec.text + "; candidates:";
    for (const auto &b : boxes)
        s += " [" + std::to_string(b.box.x) + "," + std::to_string(b.box.y) + " " +
             std::to_string(b.box.width) + "x" + std::to_string(b.box.height) + " score " +
             std::to_string(b.score) + "]";
    return s;
}

/* The plate must be among the candidates (IoU >= 0.5), which are at most three. */
void checkFound(const SceneSpec &spec, const PlateLocator &locator = PlateLocator())
{
    Scene scene = renderScene(spec);
    std::vector<PlateBox> boxes = locator.locate(scene.image);
    CHECK_TEXT(boxes.size() <= 3, describe(spec, boxes, scene.plate).c_str());
    CHECK_TEXT(bestIou(boxes, scene.plate) >= 0.5, describe(spec, boxes, scene.plate).c_str());
}

double maxScore(const std::vector<PlateBox> &boxes)
{
    double best = -1e9;
    for (const auto &b : boxes)
        best = std::max(best, b.score);
    return best;
}

} // namespace

TEST_GROUP(PlateLocator){};

TEST(PlateLocator, FindsPlatesFromSmallToCloseUp)
{
    for (int width : {72, 90, 120, 180, 260, 360, 480}) {
        SceneSpec spec;
        spec.plateWidth = width;
        checkFound(spec);
    }
}

TEST(PlateLocator, BoxFollowsThePlateNotAFixedSpot)
{
    /* The same plate in three places: each answer must be where the plate is. */
    for (cv::Point at : {cv::Point(300, 420), cv::Point(640, 470), cv::Point(1000, 600)}) {
        SceneSpec spec;
        spec.plateCentre = at;
        spec.plateWidth = 100;
        Scene scene = renderScene(spec);
        std::vector<PlateBox> boxes = PlateLocator().locate(scene.image);
        CHECK_TEXT(!boxes.empty(), describe(spec, boxes, scene.plate).c_str());
        CHECK_TEXT(plateIou(boxes.front().box, scene.plate) >= 0.5,
                   describe(spec, boxes, scene.plate).c_str());
    }
}

TEST(PlateLocator, ToleratesNoiseBlurCompressionAndRoll)
{
    SceneSpec noisy;
    noisy.noiseSigma = 12;
    checkFound(noisy);

    SceneSpec blurred;
    blurred.blurSigma = 1.5;
    checkFound(blurred);

    SceneSpec compressed;
    compressed.jpegQuality = 40;
    checkFound(compressed);

    for (double roll : {-5.0, 5.0}) {
        SceneSpec rolled;
        rolled.rotationDeg = roll;
        checkFound(rolled);
    }
}

TEST(PlateLocator, WorksOnLightAndColouredCars)
{
    for (cv::Scalar color :
         {cv::Scalar(230, 230, 230), cv::Scalar(40, 40, 160), cv::Scalar(150, 110, 60)}) {
        SceneSpec spec;
        spec.carColor = color;
        checkFound(spec);
    }
}

TEST(PlateLocator, FindsTextWithSpacesAndDashes)
{
    for (const char *text : {"XYZ 9876", "4KD-2291", "ABC123", "8LMN442"}) {
        SceneSpec spec;
        spec.text = text;
        checkFound(spec);
    }
}

TEST(PlateLocator, FindsPlatesInOtherFrameSizes)
{
    SceneSpec hd;
    hd.size = cv::Size(1920, 1080);
    hd.plateCentre = cv::Point(900, 700);
    hd.plateWidth = 160;
    checkFound(hd);

    SceneSpec vga;
    vga.size = cv::Size(640, 480);
    vga.plateCentre = cv::Point(320, 330);
    vga.plateWidth = 60;
    checkFound(vga);
}

TEST(PlateLocator, FindsTheSimulatorsPlates)
{
    /* The simulator draws bold characters that touch each other, a third of the plate
     * high, inside a coloured border. */
    for (int width : {100, 140, 200}) {
        SceneSpec spec;
        spec.simStyle = true;
        spec.plateWidth = width;
        checkFound(spec);
    }
}

TEST(PlateLocator, FindsSmallPlatesAtStopLineDistance)
{
    /* The simulator's camera (28 degrees across 1280 pixels, 12 m away) sees a 12 inch
     * plate about 65 pixels wide; further on, 40. */
    for (int width : {40, 52, 64}) {
        SceneSpec sim;
        sim.simStyle = true;
        sim.plateWidth = width;
        sim.blurSigma = 0.7;
        checkFound(sim);
        SceneSpec us;
        us.plateWidth = width;
        us.blurSigma = 0.7;
        checkFound(us);
    }
}

TEST(PlateLocator, PlainAndClutteredImagesGiveNoConfidentCandidate)
{
    PlateLocator locator;
    cv::Mat grey(720, 1280, CV_8UC3, cv::Scalar(128, 128, 128));
    CHECK_EQUAL(0, static_cast<int>(locator.locate(grey).size()));

    cv::Mat gradient(720, 1280, CV_8UC3);
    for (int x = 0; x < gradient.cols; ++x)
        gradient.col(x).setTo(cv::Scalar::all(x * 255 / gradient.cols));
    CHECK_EQUAL(0, static_cast<int>(locator.locate(gradient).size()));

    /* Rendered plates score 0.5 or more (checked below); clutter must stay well under. */
    const double clutterBound = 0.25;
    for (int seed = 1; seed <= 3; ++seed) {
        cv::Mat noise(720, 1280, CV_8UC3);
        cv::RNG rng(seed);
        rng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(128), cv::Scalar::all(30));
        std::vector<PlateBox> boxes = locator.locate(noise);
        CHECK(boxes.size() <= 3);
        CHECK(maxScore(boxes) < clutterBound);
    }

    cv::Mat fence(720, 1280, CV_8UC3, cv::Scalar(150, 150, 150));
    for (int x = 0; x < fence.cols; x += 14)
        cv::rectangle(fence, cv::Rect(x, 200, 4, 300), cv::Scalar(30, 30, 30), cv::FILLED);
    cv::rectangle(fence, cv::Rect(0, 300, 1280, 4), cv::Scalar(30, 30, 30), cv::FILLED);
    CHECK(maxScore(locator.locate(fence)) < clutterBound);

    for (cv::Scalar color : {cv::Scalar(40, 40, 45), cv::Scalar(230, 230, 230)}) {
        SceneSpec spec;
        spec.withPlate = false;
        spec.carColor = color;
        CHECK(maxScore(locator.locate(renderScene(spec).image)) < clutterBound);
    }

    SceneSpec withPlate;
    std::vector<PlateBox> boxes = locator.locate(renderScene(withPlate).image);
    CHECK(!boxes.empty());
    CHECK(boxes.front().score >= 0.5);
}

TEST(PlateLocator, RespectsMaxCandidates)
{
    PlateLocator::Options options;
    options.maxCandidates = 1;
    options.minScore = -1e9; /* so that clutter would fill any free slot */
    PlateLocator locator(options);
    cv::Mat noise(720, 1280, CV_8UC3);
    cv::RNG rng(7);
    rng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(128), cv::Scalar::all(30));
    CHECK(locator.locate(noise).size() <= 1);
    checkFound(SceneSpec(), locator);
}

TEST(PlateLocator, AcceptsGreyAndBgraAndRejectsWhatItCannotRead)
{
    Scene scene = renderScene(SceneSpec());
    PlateLocator locator;
    std::vector<PlateBox> fromBgr = locator.locate(scene.image);

    cv::Mat grey, bgra;
    cv::cvtColor(scene.image, grey, cv::COLOR_BGR2GRAY);
    cv::cvtColor(scene.image, bgra, cv::COLOR_BGR2BGRA);
    std::vector<PlateBox> fromGrey = locator.locate(grey);
    std::vector<PlateBox> fromBgra = locator.locate(bgra);
    CHECK(bestIou(fromGrey, scene.plate) >= 0.5);
    CHECK(bestIou(fromBgra, scene.plate) >= 0.5);
    CHECK_EQUAL(fromBgr.size(), fromBgra.size());

    CHECK(locator.locate(cv::Mat()).empty());
    cv::Mat deep;
    scene.image.convertTo(deep, CV_16UC3, 256);
    CHECK(locator.locate(deep).empty());
}

TEST(PlateLocator, ConcurrentCallsAgreeWithSerialOnes)
{
    /* locate() is const and keeps no state: the pipeline runs it on a worker pool. */
    std::vector<Scene> scenes;
    for (int i = 0; i < 4; ++i) {
        SceneSpec spec;
        spec.plateWidth = 80 + 30 * i;
        spec.seed = i + 1;
        scenes.push_back(renderScene(spec));
    }
    const PlateLocator locator;
    std::vector<std::vector<PlateBox>> serial;
    for (const auto &s : scenes)
        serial.push_back(locator.locate(s.image));

    std::atomic<int> mismatches{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < 3; ++round) {
                std::size_t i = (t + round) % scenes.size();
                std::vector<PlateBox> got = locator.locate(scenes[i].image);
                bool same = got.size() == serial[i].size();
                for (std::size_t k = 0; same && k < got.size(); ++k)
                    same = got[k].box == serial[i][k].box && got[k].score == serial[i][k].score;
                if (!same)
                    ++mismatches;
            }
        });
    }
    for (auto &t : threads)
        t.join();
    CHECK_EQUAL(0, mismatches.load());
}

TEST_GROUP(PlateIou){};

TEST(PlateIou, MatchesHandComputedOverlaps)
{
    DOUBLES_EQUAL(1.0, plateIou({0, 0, 10, 10}, {0, 0, 10, 10}), 1e-12);
    DOUBLES_EQUAL(0.0, plateIou({0, 0, 10, 10}, {20, 20, 5, 5}), 1e-12);
    /* half overlap: intersection 50, union 150 */
    DOUBLES_EQUAL(1.0 / 3.0, plateIou({0, 0, 10, 10}, {5, 0, 10, 10}), 1e-12);
    DOUBLES_EQUAL(0.0, plateIou({0, 0, 0, 0}, {0, 0, 0, 0}), 1e-12);
}

#include <cmath>
#include <string>

#include <opencv2/core.hpp>

#include "sim/renderer.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::sim;

namespace {

/* A dark car crossing the line in lane 1 at 12 s; a truck in lane 1 a little behind it
 * for the occlusion test. */
const std::string kScenario = R"([scenario]
duration_s = 20

[[approaches]]
name = "north"
length_m = 100
[[approaches.lanes]]
number = 1
[[approaches.lanes]]
number = 2

[camera]
approach = "north"
width = 1280
height = 720

[[vehicles]]
plate = "7ABC123"
approach = "north"
lane = 1
speed_mph = 20
line_s = 12
length_m = 4.5
color = [30, 30, 30]
behaviour = "runs_red"
)";

double meanGray(const cv::Mat &img, cv::Rect r)
{
    r &= cv::Rect(0, 0, img.cols, img.rows);
    cv::Scalar m = cv::mean(img(r));
    return (m[0] + m[1] + m[2]) / 3;
}

} /* namespace */

TEST_GROUP(Renderer){};

TEST(Renderer, PinholeProjection)
{
    CameraSpec spec;
    spec.positionM = -10;
    spec.lateralM = 0;
    spec.heightM = 5;
    spec.pitchDeg = 0;
    spec.hfovDeg = 90;
    CameraModel cam(spec, 0);
    DOUBLES_EQUAL(640, cam.focalPx(), 1e-9);
    auto centre = cam.project({10, 0, 5});
    DOUBLES_EQUAL(640, centre->x, 1e-9);
    DOUBLES_EQUAL(360, centre->y, 1e-9);
    /* 20 m ahead, 1 m to the right and 1 m down: f/20 = 32 px per metre */
    auto p = cam.project({10, -1, 4});
    DOUBLES_EQUAL(672, p->x, 1e-9);
    DOUBLES_EQUAL(392, p->y, 1e-9);
    CHECK(!cam.project({-10.5, 0, 5}).has_value()); /* behind the camera */
}

TEST(Renderer, PlateIsDrawnWhereTheTruthSays)
{
    World world(parseScenario(kScenario, "r.toml"));
    Renderer renderer(world.scenario(), *world.scenario().camera);
    cv::Mat img(720, 1280, CV_8UC3);
    auto plates = renderer.render(world.sceneAt(12 * kNanosPerSecond), img);
    LONGS_EQUAL(1, plates.size());
    const PlateBox &p = plates[0];
    STRCMP_EQUAL("7ABC123", p.plate.c_str());
    DOUBLES_EQUAL(0, p.occluded, 1e-12);

    /* independently: the plate's centre is on the car's rear, 4.5 m behind the front
     * bumper (at the line), 0.48 m up, in the middle of lane 1 */
    auto centre = renderer.camera().project({-4.5, 1.8, 0.48});
    CHECK(centre.has_value());
    CHECK(p.box.contains(cv::Point(static_cast<int>(centre->x), static_cast<int>(centre->y))));
    /* and its size: 0.305 m wide at that depth */
    double depth = 0;
    {
        cv::Point3d c = renderer.camera().toCamera({-4.5, 1.8, 0.48});
        depth = c.z;
    }
    double expected = renderer.camera().focalPx() * 0.305 / depth;
    DOUBLES_EQUAL(expected, p.box.width, 2.5);

    /* a light plate with dark characters on a dark car */
    cv::Rect inner(p.box.x + p.box.width / 8, p.box.y + p.box.height / 8, p.box.width * 3 / 4,
                   p.box.height * 3 / 4);
    CHECK(meanGray(img, inner) > 150);
    cv::Mat gray;
    cv::Mat roi = img(inner);
    double minV, maxV;
    cv::Mat channels[3];
    cv::split(roi, channels);
    cv::minMaxLoc(channels[1], &minV, &maxV);
    CHECK(minV < 110); /* the characters */
    CHECK(maxV > 220); /* the background */
    cv::Rect below(p.box.x, p.box.y + p.box.height + 4, p.box.width, 6);
    CHECK(meanGray(img, below) < 80); /* the paint around it */

    /* without the car the same place is road */
    Renderer empty(world.scenario(), *world.scenario().camera);
    cv::Mat road(720, 1280, CV_8UC3);
    Scene none;
    empty.render(none, road);
    CHECK(meanGray(road, inner) < 130);
}

TEST(Renderer, PlateHiddenByANearerVehicleIsNotReported)
{
    std::string text = kScenario + R"(
[[vehicles]]
plate = "TRUCK1"
class = "truck"
approach = "north"
lane = 1
speed_mph = 20
line_s = 12.8
behaviour = "runs_red"
)";
    World world(parseScenario(text, "r.toml"));
    Renderer renderer(world.scenario(), *world.scenario().camera);
    cv::Mat img(720, 1280, CV_8UC3);
    auto plates = renderer.render(world.sceneAt(12 * kNanosPerSecond), img);
    for (const auto &p : plates)
        CHECK(p.plate != "7ABC123");
}

TEST(Renderer, StaticSceneShowsTheStopLine)
{
    World world(parseScenario(kScenario, "r.toml"));
    Renderer renderer(world.scenario(), *world.scenario().camera);
    Json g = renderer.geometry();
    auto line = g["lanes"][0]["stop_line_px"];
    int x = (line[0][0].get<int>() + line[1][0].get<int>()) / 2;
    int y = (line[0][1].get<int>() + line[1][1].get<int>()) / 2;
    /* just before the far edge of the stop line the road is painted white */
    auto p = renderer.camera().project({-0.2, 1.8, 0});
    CHECK(meanGray(renderer.background(),
                   cv::Rect(static_cast<int>(p->x) - 2, static_cast<int>(p->y) - 1, 5, 3)) > 190);
    CHECK(std::abs(p->y - y) < 20);
    CHECK(x > 0 && x < 1280);
}

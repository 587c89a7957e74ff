/* The console's `calibrate camera` session and [camera.calibration] in stoplined.toml:
 * a technician's points are checked as typed, a bad fit names the point to re-mark, and
 * a configuration with an unusable calibration is an error naming the key. */
#include <fstream>
#include <string>
#include <vector>

#include "firmware/stoplined/camera_calibration_config.h"
#include "firmware/stoplined/camera_calibration_draft.h"
#include "firmware/stoplined/daemon_config.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::firmware;

namespace {

/* The points an installer marks on the demo camera (stopline-sim --calibration
 * sim/scenarios/demo.toml): stop-line ends and loop corners. */
const std::vector<std::vector<std::string>> kDemoPoints{
        {"0", "0", "1201", "451"},   {"0", "3.6", "640", "451"},  {"0", "7.2", "79", "451"},
        {"-4", "0.9", "1191", "650"}, {"-4", "2.7", "824", "650"}, {"1", "0.9", "1037", "416"},
        {"1", "2.7", "772", "416"},   {"2.8", "0.9", "1001", "361"}, {"-4", "4.5", "456", "650"},
        {"1", "6.3", "243", "416"},  {"2.8", "6.3", "279", "361"}};

std::vector<std::string> words(std::vector<std::string> w)
{
    return w;
}

pipeline::CameraCalibration base()
{
    pipeline::CameraCalibration c;
    c.width = 1280;
    c.height = 720;
    c.lanes = {{1, 0, 3.6}, {2, 3.6, 7.2}};
    c.redLightZone = c.speedZone = {-6, 11.5};
    return c;
}

} /* namespace */

TEST_GROUP(CameraCalibrationConsole){};

TEST(CameraCalibrationConsole, pointsLanesAndZonesMakeACalibrationThatApplies)
{
    CameraCalibrationDraft d(base());
    CHECK(d.command(words({"apply"})).text.find("at least 4") != std::string::npos);
    for (const auto &p : kDemoPoints) {
        std::vector<std::string> w{"point"};
        w.insert(w.end(), p.begin(), p.end());
        auto r = d.command(w);
        CHECK_FALSE(r.apply);
        CHECK(r.text.find("point ") == 0);
    }
    CHECK(d.command(words({"zone", "speed", "-5", "11"})).text.find("[-5.00, 11.00]") !=
          std::string::npos);
    auto shown = d.command(words({"show"}));
    CHECK(shown.text.find("worst point") != std::string::npos);
    auto applied = d.command(words({"apply"}));
    CHECK(applied.apply);
    UNSIGNED_LONGS_EQUAL(kDemoPoints.size(), d.draft().points.size());
    DOUBLES_EQUAL(-5, d.draft().speedZone.fromM, 1e-9);
}

TEST(CameraCalibrationConsole, aMisclickedPointIsNamedAndNothingApplies)
{
    CameraCalibrationDraft d(base());
    for (std::size_t i = 0; i < kDemoPoints.size(); ++i) {
        std::vector<std::string> w{"point"};
        w.insert(w.end(), kDemoPoints[i].begin(), kDemoPoints[i].end());
        if (i == 4)
            w[3] = "864"; /* 40 px to the right of the loop corner */
        d.command(w);
    }
    auto r = d.command(words({"apply"}));
    CHECK_FALSE(r.apply);
    CHECK(r.text.find("point 5") != std::string::npos);
    /* Typing mistakes are refused with the usage, not stored. */
    CHECK(d.command(words({"point", "0", "x", "1", "2"})).text.find("usage") == 0);
    CHECK(d.command(words({"point", "0", "0", "5000", "2"})).text.find("usage") == 0);
    CHECK(d.command(words({"lane", "1", "3", "2"})).text.find("usage") == 0);
    UNSIGNED_LONGS_EQUAL(kDemoPoints.size(), d.draft().points.size());
}

TEST(CameraCalibrationConsole, theWrittenSectionReadsBackAsTheSameCalibration)
{
    CameraCalibrationDraft d(base());
    for (const auto &p : kDemoPoints) {
        std::vector<std::string> w{"point"};
        w.insert(w.end(), p.begin(), p.end());
        d.command(w);
    }
    const std::string text = cameraCalibrationToml(d.draft());
    pipeline::CameraCalibration back;
    ConfigSchema schema;
    addCameraCalibration(schema, &back);
    auto errors = schema.apply(toml::parse(text), "camera_calibration.toml");
    CHECK(errors.empty());
    UNSIGNED_LONGS_EQUAL(d.draft().points.size(), back.points.size());
    UNSIGNED_LONGS_EQUAL(2, back.lanes.size());
    DOUBLES_EQUAL(d.draft().points[3].pixel.y, back.points[3].pixel.y, 1e-6);
    CHECK(cameraCalibrationProblems(back, 1280, 720).empty());
    CHECK_FALSE(cameraCalibrationProblems(back, 1920, 1080).empty());
}

TEST(CameraCalibrationConsole, theShippedSimulatorExampleIsCalibrated)
{
    LoadResult r = loadConfig(std::string(STOPLINE_EXAMPLES_DIR) + "/sim.toml");
    CHECK(r.errors.empty());
    if (!r.loaded)
        return;
    const pipeline::CameraCalibration &c = r.loaded->config.camera.calibration;
    CHECK(c.points.size() >= 6);
    UNSIGNED_LONGS_EQUAL(2, c.lanes.size());
    pipeline::RoadHomography h = pipeline::RoadHomography::fit(c.points);
    CHECK(h.worstResidualPx() < 1.0);
}

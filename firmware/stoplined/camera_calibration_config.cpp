#include "firmware/stoplined/camera_calibration_config.h"

#include <cstdio>

namespace stopline::firmware {

void addCameraCalibration(ConfigSchema &s, pipeline::CameraCalibration *c)
{
    const std::string k = "camera.calibration.";
    s.addString(k + "id", &c->cameraId, "names the calibration in records and logs");
    s.addUnsigned(k + "width", &c->width, 0, 10000, "image size the points were marked in");
    s.addUnsigned(k + "height", &c->height, 0, 10000);
    s.addTableArray(k + "points", [c](std::size_t) {
        c->points.emplace_back();
        pipeline::MarkedPoint &p = c->points.back();
        ConfigSchema e;
        e.addDouble("along_m", &p.road.alongM, -500, 500, "metres along from the stop line");
        e.addDouble("across_m", &p.road.acrossM, -100, 100, "metres across from the kerb");
        e.addDouble("x", &p.pixel.x, -10000, 20000, "pixel column where it was marked");
        e.addDouble("y", &p.pixel.y, -10000, 20000, "pixel row");
        for (const char *key : {"along_m", "across_m", "x", "y"})
            e.require(key);
        return e;
    });
    s.addTableArray(k + "lanes", [c](std::size_t) {
        c->lanes.emplace_back();
        pipeline::LaneBand &l = c->lanes.back();
        ConfigSchema e;
        e.addUnsigned("lane", &l.lane, 1, 16);
        e.addDouble("from_m", &l.fromM, -100, 100, "kerb-side edge, metres across");
        e.addDouble("to_m", &l.toM, -100, 100);
        for (const char *key : {"lane", "from_m", "to_m"})
            e.require(key);
        return e;
    });
    s.addDouble(k + "red_light_zone_from_m", &c->redLightZone.fromM, -200, 200);
    s.addDouble(k + "red_light_zone_to_m", &c->redLightZone.toM, -200, 200);
    s.addDouble(k + "speed_zone_from_m", &c->speedZone.fromM, -200, 200);
    s.addDouble(k + "speed_zone_to_m", &c->speedZone.toM, -200, 200);
    s.addDouble(k + "b_shot_rear_past_line_m", &c->bShotRearPastLineM, 0, 50);
    s.addDouble(k + "speed_b_shot_distance_m", &c->speedBShotDistanceM, 0.5, 100);
    s.addDouble(k + "photo_speed_tolerance_mph", &c->photoSpeedToleranceMph, 0.1, 20);
}

std::vector<std::string> cameraCalibrationProblems(const pipeline::CameraCalibration &c,
                                                   long long width, long long height)
{
    std::vector<std::string> out;
    if (c.points.empty())
        return out;
    const std::string k = "camera.calibration";
    if (static_cast<long long>(c.width) != width || static_cast<long long>(c.height) != height)
        out.push_back(k + ".width: the points were marked in a " + std::to_string(c.width) +
                      "x" + std::to_string(c.height) + " image, the camera delivers " +
                      std::to_string(width) + "x" + std::to_string(height));
    try {
        pipeline::RoadHomography::fit(c.points);
    } catch (const pipeline::CalibrationError &e) {
        out.push_back(k + ".points: " + e.what());
    }
    for (const std::string &p : pipeline::calibrationProblems(c))
        out.push_back(k + ": " + p);
    return out;
}

std::string cameraCalibrationToml(const pipeline::CameraCalibration &c)
{
    char buf[256];
    std::string out = "[camera.calibration]\n";
    out += "id = \"" + c.cameraId + "\"\n";
    std::snprintf(buf, sizeof buf,
                  "width = %u\nheight = %u\nred_light_zone_from_m = %.2f\nred_light_zone_to_m = "
                  "%.2f\nspeed_zone_from_m = %.2f\nspeed_zone_to_m = %.2f\n"
                  "b_shot_rear_past_line_m = %.2f\nspeed_b_shot_distance_m = %.2f\n"
                  "photo_speed_tolerance_mph = %.2f\n",
                  c.width, c.height, c.redLightZone.fromM, c.redLightZone.toM, c.speedZone.fromM,
                  c.speedZone.toM, c.bShotRearPastLineM, c.speedBShotDistanceM,
                  c.photoSpeedToleranceMph);
    out += buf;
    for (const pipeline::MarkedPoint &p : c.points) {
        std::snprintf(buf, sizeof buf,
                      "\n[[camera.calibration.points]]\nalong_m = %.3f\nacross_m = %.3f\nx = "
                      "%.1f\ny = %.1f\n",
                      p.road.alongM, p.road.acrossM, p.pixel.x, p.pixel.y);
        out += buf;
    }
    for (const pipeline::LaneBand &l : c.lanes) {
        std::snprintf(buf, sizeof buf,
                      "\n[[camera.calibration.lanes]]\nlane = %u\nfrom_m = %.3f\nto_m = %.3f\n",
                      l.lane, l.fromM, l.toM);
        out += buf;
    }
    return out;
}

} /* namespace stopline::firmware */

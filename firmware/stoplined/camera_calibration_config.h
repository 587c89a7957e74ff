#pragma once

#include <string>
#include <vector>

#include "firmware/config/config_schema.h"
#include "pipeline/scene/road_calibration.h"

/* [camera.calibration] in stoplined.toml: the marked points, the lanes' bands and the
 * photo zones (docs/camera-calibration.md), as keys of the daemon's schema, and the
 * checks that make a bad calibration an error naming its key at start-up. */
namespace stopline::firmware {

void addCameraCalibration(ConfigSchema &schema, pipeline::CameraCalibration *calibration);

/* Every problem with a calibration for an image of width x height, each as
 * "key: what is wrong"; empty when it can be used (or has no points: uncalibrated). */
std::vector<std::string> cameraCalibrationProblems(const pipeline::CameraCalibration &calibration,
                                                   long long width, long long height);

/* The calibration as a [camera.calibration] TOML section (the console writes it). */
std::string cameraCalibrationToml(const pipeline::CameraCalibration &calibration);

} /* namespace stopline::firmware */

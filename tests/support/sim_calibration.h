#pragma once

#include "pipeline/scene/road_calibration.h"
#include "sim/renderer.h"
#include "sim/scenario.h"

/* The camera calibration an installer would mark in a snapshot of a scenario's camera
 * (the renderer's painted features, to the pixel; its lanes; its readable-plate zone),
 * shared by the unit tests of the binder and the HIL rig. */
namespace stopline::testkit {

pipeline::CameraCalibration markedCalibration(const sim::Scenario &scenario,
                                              const sim::Renderer &renderer);

} /* namespace stopline::testkit */

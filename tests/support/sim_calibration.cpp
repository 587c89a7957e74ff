#include "sim_calibration.h"

namespace stopline::testkit {

pipeline::CameraCalibration markedCalibration(const sim::Scenario &scenario,
                                              const sim::Renderer &renderer)
{
    const auto g = renderer.geometry();
    pipeline::CameraCalibration c;
    c.cameraId = scenario.camera->id + "-" + scenario.name;
    c.width = static_cast<unsigned>(scenario.camera->width);
    c.height = static_cast<unsigned>(scenario.camera->height);
    for (const auto &m : g["marks"])
        c.points.push_back({{m[0].get<double>(), m[1].get<double>()},
                            {m[2].get<double>(), m[3].get<double>()}});
    for (const auto &l : g["lane_bands"])
        c.lanes.push_back(
                {l["lane"].get<unsigned>(), l["from_m"].get<double>(), l["to_m"].get<double>()});
    if (g["plate_zone_m"].is_array())
        c.redLightZone = c.speedZone = {g["plate_zone_m"][0].get<double>(),
                                        g["plate_zone_m"][1].get<double>()};
    return c;
}

} /* namespace stopline::testkit */

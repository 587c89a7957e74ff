#include "firmware/stoplined/camera_calibration_draft.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace stopline::firmware {

namespace {

bool number(const std::string &text, double *out)
{
    try {
        std::size_t used = 0;
        *out = std::stod(text, &used);
        return used == text.size() && std::isfinite(*out);
    } catch (const std::exception &) {
        return false;
    }
}

std::string fixed(double v, int decimals = 2)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

} /* namespace */

CameraCalibrationDraft::CameraCalibrationDraft(const pipeline::CameraCalibration &current)
    : draft_(current)
{
    draft_.points.clear();
}

const char *CameraCalibrationDraft::usage()
{
    return "usage: calibrate camera point ALONG ACROSS X Y | lane N FROM TO | zone "
           "red_light|speed FROM TO | show | clear | apply\n"
           "  ALONG: metres along from the stop line (negative before it), ACROSS: metres "
           "from the kerb, X Y: the pixel in snapshot-latest.jpg (take it with `snapshot`)";
}

CameraCalibrationDraft::Reply CameraCalibrationDraft::command(const std::vector<std::string> &a)
{
    const std::string what = a.empty() ? "" : a[0];
    double v[4] = {0, 0, 0, 0};
    auto numbers = [&](std::size_t n) {
        if (a.size() != n + 1)
            return false;
        for (std::size_t i = 0; i < n; ++i)
            if (!number(a[i + 1], &v[i]))
                return false;
        return true;
    };
    if (what == "point") {
        if (!numbers(4) || v[2] < 0 || v[3] < 0 ||
            (draft_.width && (v[2] >= draft_.width || v[3] >= draft_.height)))
            return {std::string(usage()) + "\n(the pixel must lie in the " +
                    std::to_string(draft_.width) + "x" + std::to_string(draft_.height) +
                    " image)"};
        draft_.points.push_back({{v[0], v[1]}, {v[2], v[3]}});
        return {"point " + std::to_string(draft_.points.size()) + ": road (" + fixed(v[0]) + ", " +
                fixed(v[1]) + ") m at pixel (" + fixed(v[2], 0) + ", " + fixed(v[3], 0) + ")" +
                (draft_.points.size() < 4 ? "; at least 4 needed" : "")};
    }
    if (what == "lane") {
        if (!numbers(3) || v[0] < 1 || v[0] > 16 || v[0] != std::floor(v[0]) || !(v[2] > v[1]))
            return {"usage: calibrate camera lane N FROM TO (metres from the kerb, FROM < TO)"};
        const unsigned lane = static_cast<unsigned>(v[0]);
        bool replaced = false;
        for (pipeline::LaneBand &l : draft_.lanes)
            if (l.lane == lane) {
                l = {lane, v[1], v[2]};
                replaced = true;
            }
        if (!replaced)
            draft_.lanes.push_back({lane, v[1], v[2]});
        return {"lane " + std::to_string(lane) + ": [" + fixed(v[1]) + ", " + fixed(v[2]) +
                "] m from the kerb"};
    }
    if (what == "zone") {
        if (a.size() != 4 || (a[1] != "red_light" && a[1] != "speed") ||
            !number(a[2], &v[0]) || !number(a[3], &v[1]) || !(v[1] > v[0]))
            return {"usage: calibrate camera zone red_light|speed FROM TO (metres along, FROM < "
                    "TO)"};
        (a[1] == "speed" ? draft_.speedZone : draft_.redLightZone) = {v[0], v[1]};
        return {"photo zone " + a[1] + ": [" + fixed(v[0]) + ", " + fixed(v[1]) + "] m along"};
    }
    if (what == "clear") {
        draft_.points.clear();
        return {"points cleared; lanes and zones kept"};
    }
    if (what == "show")
        return {show()};
    if (what == "apply") {
        try {
            pipeline::RoadHomography::fit(draft_.points);
        } catch (const pipeline::CalibrationError &e) {
            return {"not applied: " + std::string(e.what())};
        }
        if (auto problems = pipeline::calibrationProblems(draft_); !problems.empty())
            return {"not applied: " + problems.front()};
        return {show(), true};
    }
    return {usage()};
}

std::string CameraCalibrationDraft::show() const
{
    std::string out;
    std::vector<double> residuals;
    std::string fit;
    try {
        pipeline::RoadHomography h = pipeline::RoadHomography::fit(draft_.points, 1e9);
        residuals = h.residualsPx();
        fit = "fit: worst point " + fixed(h.worstResidualPx()) + " px off";
    } catch (const pipeline::CalibrationError &e) {
        fit = "no fit yet: " + std::string(e.what());
    }
    for (std::size_t i = 0; i < draft_.points.size(); ++i) {
        const pipeline::MarkedPoint &p = draft_.points[i];
        out += "point " + std::to_string(i + 1) + ": road (" + fixed(p.road.alongM) + ", " +
               fixed(p.road.acrossM) + ") pixel (" + fixed(p.pixel.x, 0) + ", " +
               fixed(p.pixel.y, 0) + ")" +
               (i < residuals.size() ? ", " + fixed(residuals[i]) + " px off" : "") + "\n";
    }
    for (const pipeline::LaneBand &l : draft_.lanes)
        out += "lane " + std::to_string(l.lane) + ": [" + fixed(l.fromM) + ", " + fixed(l.toM) +
               "] m\n";
    out += "photo zones: red_light [" + fixed(draft_.redLightZone.fromM) + ", " +
           fixed(draft_.redLightZone.toM) + "], speed [" + fixed(draft_.speedZone.fromM) + ", " +
           fixed(draft_.speedZone.toM) + "] m\n";
    return out + fit;
}

} /* namespace stopline::firmware */

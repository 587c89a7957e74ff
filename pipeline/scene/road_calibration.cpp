#include "pipeline/scene/road_calibration.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace stopline::pipeline {

namespace {

/* Hartley normalisation: centroid to the origin, mean distance sqrt(2). Without it the
 * DLT's equations mix metres and thousands of pixels and the fit loses digits. */
cv::Matx33d normaliser(const std::vector<cv::Point2d> &pts)
{
    cv::Point2d c(0, 0);
    for (const auto &p : pts)
        c += p;
    c *= 1.0 / static_cast<double>(pts.size());
    double mean = 0;
    for (const auto &p : pts)
        mean += std::hypot(p.x - c.x, p.y - c.y);
    mean /= static_cast<double>(pts.size());
    const double s = mean > 0 ? std::sqrt(2.0) / mean : 1.0;
    return {s, 0, -s * c.x, 0, s, -s * c.y, 0, 0, 1};
}

cv::Point2d apply(const cv::Matx33d &h, const cv::Point2d &p, double *w = nullptr)
{
    cv::Vec3d v = h * cv::Vec3d(p.x, p.y, 1);
    if (w)
        *w = v[2];
    return {v[0] / v[2], v[1] / v[2]};
}

std::string fmt(double v)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
}

} /* namespace */

RoadHomography RoadHomography::fit(const std::vector<MarkedPoint> &points, double maxResidualPx)
{
    if (points.size() < 4)
        throw CalibrationError("a camera calibration needs at least 4 marked points, got " +
                               std::to_string(points.size()));
    std::vector<cv::Point2d> road, image;
    for (const auto &m : points) {
        road.emplace_back(m.road.alongM, m.road.acrossM);
        image.push_back(m.pixel);
    }
    const cv::Matx33d tr = normaliser(road), ti = normaliser(image);
    cv::Mat a(static_cast<int>(2 * points.size()), 9, CV_64F, cv::Scalar(0));
    for (std::size_t i = 0; i < points.size(); ++i) {
        const cv::Point2d r = apply(tr, road[i]), p = apply(ti, image[i]);
        double *row0 = a.ptr<double>(static_cast<int>(2 * i));
        double *row1 = a.ptr<double>(static_cast<int>(2 * i + 1));
        const double e0[9] = {r.x, r.y, 1, 0, 0, 0, -p.x * r.x, -p.x * r.y, -p.x};
        const double e1[9] = {0, 0, 0, r.x, r.y, 1, -p.y * r.x, -p.y * r.y, -p.y};
        std::copy(e0, e0 + 9, row0);
        std::copy(e1, e1 + 9, row1);
    }
    cv::SVD svd(a, cv::SVD::FULL_UV);
    /* A unique solution needs the null space to be one-dimensional: with four points
     * three of which lie on one line, the second-smallest singular value is zero too. */
    const int n = svd.w.rows;
    const double largest = svd.w.at<double>(0);
    const double second = n >= 8 ? svd.w.at<double>(7) : 0;
    if (n < 8 || second < 1e-6 * largest)
        throw CalibrationError("the marked points do not span the road (three or more in one "
                               "line): mark points across the lanes and along the approach");
    cv::Mat h = svd.vt.row(8).reshape(1, 3);
    cv::Matx33d hn;
    for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c)
            hn(r, c) = h.at<double>(r, c);

    RoadHomography out;
    out.roadToImage_ = ti.inv() * hn * tr;
    out.roadToImage_ *= 1.0 / out.roadToImage_(2, 2);
    out.imageToRoad_ = out.roadToImage_.inv();

    /* Every marked point must lie in front of the camera, on the same side of the
     * horizon: a fit that puts some behind it is not a view of this road. */
    double firstW = 0;
    for (std::size_t i = 0; i < points.size(); ++i) {
        double w = 0;
        const cv::Point2d p = apply(out.roadToImage_, road[i], &w);
        if (i == 0)
            firstW = w;
        if ((w > 0) != (firstW > 0))
            throw CalibrationError("the marked points cannot all be on the road in front of "
                                   "the camera: check point " +
                                   std::to_string(i + 1));
        out.residuals_.push_back(std::hypot(p.x - image[i].x, p.y - image[i].y));
    }
    if (firstW < 0) {
        out.roadToImage_ *= -1.0;
        out.imageToRoad_ = out.roadToImage_.inv();
    }
    const double worst = out.worstResidualPx();
    if (worst > maxResidualPx) {
        auto it = std::max_element(out.residuals_.begin(), out.residuals_.end());
        throw CalibrationError("the marked points do not fit one road plane: point " +
                               std::to_string(it - out.residuals_.begin() + 1) + " is " +
                               fmt(worst) + " px off (at most " + fmt(maxResidualPx) +
                               "): re-mark it or check its road position");
    }
    return out;
}

std::optional<cv::Point2d> RoadHomography::toImage(const RoadPoint &p) const
{
    double w = 0;
    cv::Point2d px = apply(roadToImage_, {p.alongM, p.acrossM}, &w);
    if (!(w > 1e-9))
        return std::nullopt;
    return px;
}

std::optional<RoadPoint> RoadHomography::toRoad(const cv::Point2d &pixel) const
{
    double w = 0;
    cv::Point2d r = apply(imageToRoad_, pixel, &w);
    /* Behind the horizon the inverse lands on the road behind the camera: reject it by
     * mapping back (the forward map's w must be positive). */
    if (!std::isfinite(r.x) || !std::isfinite(r.y) || std::fabs(w) < 1e-12)
        return std::nullopt;
    if (!toImage({r.x, r.y}))
        return std::nullopt;
    return RoadPoint{r.x, r.y};
}

double RoadHomography::pixelsPerMetreAcross(const RoadPoint &p) const
{
    auto a = toImage({p.alongM, p.acrossM - 0.5}), b = toImage({p.alongM, p.acrossM + 0.5});
    if (!a || !b)
        return 0;
    return std::hypot(a->x - b->x, a->y - b->y);
}

double RoadHomography::worstResidualPx() const
{
    return residuals_.empty() ? 0 : *std::max_element(residuals_.begin(), residuals_.end());
}

const LaneBand *CameraCalibration::findLane(unsigned lane) const
{
    for (const LaneBand &b : lanes)
        if (b.lane == lane)
            return &b;
    return nullptr;
}

std::vector<std::string> calibrationProblems(const CameraCalibration &c)
{
    std::vector<std::string> out;
    if (c.lanes.empty())
        out.push_back("no lanes: each lane's band across the road is needed to find vehicles");
    for (std::size_t i = 0; i < c.lanes.size(); ++i) {
        const LaneBand &l = c.lanes[i];
        if (l.lane == 0)
            out.push_back("lane numbers start at 1 (the kerb lane)");
        if (!(l.toM - l.fromM >= 1.5))
            out.push_back("lane " + std::to_string(l.lane) + ": band [" + fmt(l.fromM) + ", " +
                          fmt(l.toM) + "] m is narrower than 1.5 m");
        for (std::size_t j = 0; j < i; ++j) {
            const LaneBand &o = c.lanes[j];
            if (o.lane == l.lane)
                out.push_back("lane " + std::to_string(l.lane) + " given twice");
            else if (l.fromM < o.toM - 0.01 && o.fromM < l.toM - 0.01)
                out.push_back("lanes " + std::to_string(o.lane) + " and " +
                              std::to_string(l.lane) + " overlap");
        }
    }
    auto zone = [&](const char *name, const RoadSpan &z) {
        if (!(z.toM > z.fromM))
            out.push_back(std::string(name) + ": from must be before to");
    };
    zone("photo_zone.red_light", c.redLightZone);
    zone("photo_zone.speed", c.speedZone);
    if (!(c.speedBShotDistanceM > 0) ||
        c.speedBShotDistanceM > c.speedZone.toM - c.speedZone.fromM - 1)
        out.push_back("speed_b_shot_distance_m must be positive and at least 1 m shorter than "
                      "the speed photo zone");
    if (!c.redLightZone.contains(c.bShotRearPastLineM))
        out.push_back("b_shot_rear_past_line_m must lie in the red-light photo zone");
    if (!(c.photoSpeedToleranceMph > 0))
        out.push_back("photo_speed_tolerance_mph must be positive");
    return out;
}

std::string describeCalibration(const CameraCalibration &c, const RoadHomography &h)
{
    std::string s = c.cameraId + ": " + std::to_string(c.points.size()) + " points, worst " +
                    fmt(h.worstResidualPx()) + " px; lanes";
    for (const LaneBand &l : c.lanes)
        s += " " + std::to_string(l.lane) + " [" + fmt(l.fromM) + ", " + fmt(l.toM) + "]";
    s += "; photo zones red_light [" + fmt(c.redLightZone.fromM) + ", " + fmt(c.redLightZone.toM) +
         "] speed [" + fmt(c.speedZone.fromM) + ", " + fmt(c.speedZone.toM) + "] m";
    return s;
}

} /* namespace stopline::pipeline */

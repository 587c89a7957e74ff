#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

/* Where the road is in the camera's image. A point on the road is given in the same
 * coordinates the loops, the stop line and the radar use: metres along the approach
 * from the stop line's far edge (positive: past the line, into the intersection) and
 * metres across from the kerb (positive: to the left of the direction of travel). The
 * road is a plane, so one homography maps it to image pixels; a technician measures it
 * by marking four or more painted features whose road position is known (stop-line
 * ends, loop corners, lane-line dash ends) in a snapshot. */
namespace stopline::pipeline {

/* The calibration cannot be used; the message says why (too few points, three in a
 * line, points that do not fit one plane). */
class CalibrationError : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

struct RoadPoint
{
    double alongM = 0;
    double acrossM = 0;
};

/* One marked feature: where it is on the road and where the technician saw it. */
struct MarkedPoint
{
    RoadPoint road;
    cv::Point2d pixel;
};

/* A lane's band across the road, from the kerb. */
struct LaneBand
{
    unsigned lane = 0; /* 1 = kerb lane, as the loops number them */
    double fromM = 0;  /* kerb side */
    double toM = 0;
    double middleM() const { return (fromM + toM) / 2; }
    double widthM() const { return toM - fromM; }
};

/* A stretch of road along the approach, [fromM, toM]. */
struct RoadSpan
{
    double fromM = 0;
    double toM = 0;
    bool contains(double along) const { return along >= fromM && along <= toM; }
};

/* The homography from road metres to image pixels, fitted to marked points. */
class RoadHomography
{
public:
    /* Least squares over all points (normalised DLT). Throws CalibrationError for fewer
     * than four points, for points that do not span the road (three or more in one
     * line), and for a fit whose worst point is more than `maxResidualPx` off. */
    static RoadHomography fit(const std::vector<MarkedPoint> &points, double maxResidualPx = 3.0);

    /* Pixel of a road point; nothing when the point is behind the camera (at or past the
     * horizon). */
    std::optional<cv::Point2d> toImage(const RoadPoint &p) const;
    /* Road point under a pixel; nothing when the pixel is above the horizon. */
    std::optional<RoadPoint> toRoad(const cv::Point2d &pixel) const;

    /* Metres of road across per pixel at a road point, in the image row there: how big
     * a metre is where the vehicle stands. */
    double pixelsPerMetreAcross(const RoadPoint &p) const;

    const cv::Matx33d &matrix() const { return roadToImage_; }
    /* Reprojection error of each marked point, pixels, in the order given. */
    const std::vector<double> &residualsPx() const { return residuals_; }
    double worstResidualPx() const;

private:
    cv::Matx33d roadToImage_ = cv::Matx33d::eye();
    cv::Matx33d imageToRoad_ = cv::Matx33d::eye();
    std::vector<double> residuals_;
};

/* Everything the daemon knows about one camera's view, as configured and as the
 * console's `calibrate camera` seals it. */
struct CameraCalibration
{
    std::string cameraId;
    unsigned width = 0; /* image size the points were marked in */
    unsigned height = 0;
    std::vector<MarkedPoint> points;
    std::vector<LaneBand> lanes;
    /* Photo zones: where on the approach a vehicle's rear (its plate) is sharp and
     * large enough to read, per rule. */
    RoadSpan redLightZone{-6, 8};
    RoadSpan speedZone{-4, 10};
    /* The red-light B-shot: the first frame in which the vehicle's rear is this far past
     * the stop line, i.e. the whole vehicle is in the intersection. */
    double bShotRearPastLineM = 0.5;
    /* The speed B-shot: the first frame in which the vehicle's rear has moved this far
     * down the road from where it was in the A-shot. */
    double speedBShotDistanceM = 6.0;
    /* The second speed from the two photographs must agree with the radar this well. */
    double photoSpeedToleranceMph = 3.0;

    const LaneBand *findLane(unsigned lane) const;
};

/* Checks a calibration's own consistency (lanes that overlap or are empty, zones with
 * from >= to, a B distance longer than the zone); returns every problem found. The
 * homography is checked by RoadHomography::fit. */
std::vector<std::string> calibrationProblems(const CameraCalibration &calibration);

/* "cal: 6 points, worst 0.4 px; lanes 1 [0.0, 3.6] 2 [3.6, 7.2]; ..." for logs and
 * the calibration record. */
std::string describeCalibration(const CameraCalibration &calibration,
                                const RoadHomography &homography);

} /* namespace stopline::pipeline */

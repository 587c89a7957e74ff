#pragma once

#include <vector>

#include <opencv2/core.hpp>

#include "pipeline/scene/road_calibration.h"

/* A lane seen from above. The camera image is resampled through the road homography
 * onto a grid laid on the lane: rows step along the approach (row 0 nearest the
 * camera), columns across the lane's middle. In that grid a vehicle is a run of rows
 * that differ from the empty road, and the first row of the run is where the vehicle
 * meets the road nearest the camera: its rear, whose shadow and tyres lie on the road
 * plane, so its position in metres is exact whatever the vehicle's height. Its tall
 * parts fall further along the same rows (a plane homography smears them away from the
 * camera), which is why only the run's start is used as a position.
 *
 * The camera is assumed to look down the approach at departing traffic (rear plates),
 * as the photo zones are configured; vehicles move towards larger rows. */
namespace stopline::pipeline {

struct VehicleRear
{
    double alongM = 0; /* the rear's ground contact, metres from the stop line */
    double seenM = 0;  /* length of the run (the vehicle and what of it falls behind) */
    /* The run begins at the near edge of the view: the rear is out of the image, and
     * alongM is only where the view starts. */
    bool clipped = false;
};

struct RearFinderOptions
{
    int threshold = 28;         /* grey levels (any channel) from the background */
    double rowFraction = 0.35;  /* of a row's visible cells differing: the row is occupied */
    double minRunM = 0.6;       /* shorter runs are noise, not vehicles */
    /* Gaps up to this long inside one vehicle are bridged (a window or a body panel the
     * colour of the road); two vehicles closer than this in one lane are one run. */
    double maxGapM = 1.0;
    double minVisibleRow = 0.5; /* rows less visible than this are outside the view */
};

class LaneView
{
public:
    /* Grid from along.fromM to along.toM every stepM, across the lane's middle within
     * `insetM` of its edges (so a neighbour's mirror does not count), every 0.1 m. */
    LaneView(const RoadHomography &homography, const LaneBand &lane, RoadSpan along,
             cv::Size image, double stepM = 0.05, double insetM = 0.9);

    unsigned lane() const { return lane_.lane; }
    const LaneBand &band() const { return lane_; }
    int rows() const { return mapX_.rows; }
    double alongAt(int row) const { return along_.fromM + row * stepM_; }
    double stepM() const { return stepM_; }

    /* The grid cells of an image (8-bit BGR of the calibrated size): CV_8UC3. */
    cv::Mat sample(const cv::Mat &bgr) const;
    /* Cells that fall inside the image: CV_8U, 255 inside. */
    const cv::Mat &visible() const { return visible_; }
    /* Fraction of the rows in [fromM, toM] that are in view. */
    double coverage(RoadSpan span, double minVisibleRow = 0.5) const;

    /* Vehicles in a sample, nearest the camera first. */
    std::vector<VehicleRear> findRears(const cv::Mat &sample, const cv::Mat &background,
                                       const RearFinderOptions &options = {}) const;

private:
    LaneBand lane_;
    RoadSpan along_;
    double stepM_;
    cv::Mat mapX_, mapY_; /* CV_32F image coordinates of each cell */
    cv::Mat visible_;
};

/* Per-cell median of samples of the same view (CV_8UC3, equal sizes): the empty road,
 * from frames in which traffic moves through. Throws std::invalid_argument when empty. */
cv::Mat medianBackground(const std::vector<cv::Mat> &samples);

} /* namespace stopline::pipeline */

#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "sim/scenario.h"
#include "sim/world.h"

/* The simulated camera: a pinhole camera over the approach, drawing the road, the stop
 * line, the loops, the signal heads and the vehicles at their true positions, each with
 * a plate of real proportions (US 12 x 6 in) whose text is legible. The static scene is
 * drawn once; each frame copies it and draws what moves, which keeps 720p30 cheap on a
 * small machine. Reports where each visible plate landed, for the ground truth. */
namespace stopline::sim {

/* A world point: x along the approach from the stop line, y left of the kerb, z up. */
struct WorldPoint
{
    double x = 0, y = 0, z = 0;
};

class CameraModel
{
public:
    CameraModel(const CameraSpec &spec, double defaultLateralM);

    /* Camera coordinates: right, down, depth (metres). */
    cv::Point3d toCamera(const WorldPoint &p) const;
    /* Pixel of a point, or nothing when it is behind the near plane. */
    std::optional<cv::Point2d> project(const WorldPoint &p) const;
    /* A planar polygon clipped to the near plane and projected. */
    std::vector<cv::Point2d> projectPolygon(const std::vector<WorldPoint> &poly) const;
    double focalPx() const { return focal_; }
    WorldPoint position() const { return pos_; }
    int width() const { return width_; }
    int height() const { return height_; }

private:
    cv::Point2d toPixel(const cv::Point3d &c) const;

    WorldPoint pos_;
    cv::Point3d right_, down_, forward_;
    double focal_ = 1;
    int width_ = 0, height_ = 0;
};

struct PlateBox
{
    unsigned vehicle = 0;
    std::string plate;
    cv::Rect box;        /* pixels, axis-aligned around the plate's four corners */
    double occluded = 0; /* fraction of the box covered by nearer vehicles */
};

class Renderer
{
public:
    Renderer(const Scenario &scenario, const CameraSpec &spec);

    int width() const { return camera_.width(); }
    int height() const { return camera_.height(); }

    /* Draws the scene into `image` (CV_8UC3, width x height; may wrap a caller's
     * buffer). Returns the plates that are fully in the frame, at least plate_min_px
     * wide, facing the camera and less than half hidden. */
    std::vector<PlateBox> render(const Scene &scene, cv::Mat &image);

    const cv::Mat &background() const { return background_; }
    const CameraModel &camera() const { return camera_; }

    /* Where the fixed scene lands in the image (stop line ends per lane), for the truth
     * header so a pipeline test can calibrate against it. */
    Json geometry() const;

private:
    struct Face
    {
        std::vector<cv::Point2d> poly;
        cv::Scalar color;
    };

    void drawBackground();
    void drawGround(cv::Mat &img, const std::vector<WorldPoint> &poly, const cv::Scalar &color);
    void drawHeads(const Scene &scene, cv::Mat &img) const;
    std::vector<Face> vehicleFaces(const SceneVehicle &v) const;
    const cv::Mat &plateTemplate(const std::string &text);

    const Scenario &scenario_;
    const ApproachSpec &approach_;
    CameraSpec spec_;
    CameraModel camera_;
    cv::Mat background_;
    std::map<std::string, cv::Mat> plates_;
};

} /* namespace stopline::sim */

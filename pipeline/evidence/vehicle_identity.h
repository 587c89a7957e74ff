#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "hal/frame.h"
#include "pipeline/frame_ring/frame_ring.h"
#include "pipeline/scene/lane_view.h"
#include "pipeline/scene/road_calibration.h"
#include "pipeline/trigger/decision.h"

/* Binds a violation to the one vehicle the photographs show, or says why it cannot.
 * A rule decides from sensors that do not see plates (loops, a Doppler radar that
 * measures 25-55 m up the road); the photographs are evidence only if they show the
 * vehicle those sensors measured. So the shots are chosen where that vehicle is:
 *
 *  - red light: the A-shot at the stop-line crossing; the loops give the vehicle's
 *    speed and length, hence where its rear is in that frame; the B-shot is the first
 *    frame in which that rear, followed frame by frame, is past the line.
 *  - speed: the radar gives the speed and when the vehicle was in the beam, hence when
 *    it can be in the photo zone; every vehicle found entering the zone in that span is
 *    followed, its speed measured from its positions in two frames (the two-image
 *    method), and the one vehicle whose photo speed agrees with the radar is the
 *    accused. None, or two in the zone at once, and there is no citation.
 *
 * The plate is then searched only in the image region where that vehicle's rear is.
 * Stateless after construction; bind() may run on several workers at once. */
namespace stopline::pipeline {

struct VehicleIdentity
{
    Reason reason = Reason::None; /* None: bound */
    std::string why;              /* what was found, for the record and the log */
    std::string method;           /* "loops+image", "radar+image" */
    unsigned lane = 0;
    hal::FramePtr a, b;
    double aRearM = 0, bRearM = 0; /* the rear's position in each shot, metres along */
    /* Later frames that could stand as the B-shot (the vehicle still followed, still in
     * the zone), with its rear in each: where the plate is looked for when neither shot
     * shows it readably. */
    std::vector<std::pair<hal::FramePtr, double>> laterB;
    cv::Rect aRegion, bRegion;     /* where the plate is searched, image pixels */
    std::optional<double> photoSpeedMph;
    double radarSpeedMph = 0; /* speed cases: what the photo speed was compared with */
    RoadSpan zone;            /* the rule's photo zone */
    Nanos searchedFromNs = 0, searchedToNs = 0;
    unsigned vehiclesSeen = 0; /* vehicles followed in the zone during the search */

    bool bound() const { return reason == Reason::None; }
};

/* The speed between two sightings of a rear (the two-image method), mph. */
double photoSpeedMph(const hal::Frame &a, double aRearM, const hal::Frame &b, double bRearM);

class VehicleBinder
{
public:
    /* Throws CalibrationError for a calibration that cannot be used. */
    explicit VehicleBinder(CameraCalibration calibration, RearFinderOptions finder = {});

    VehicleIdentity bind(const Decision &decision, const Snapshot &snapshot) const;

    /* Dates a red-light crossing from the frames of the plan's dating span (see
     * crossing_dating.cpp): when the exit loop fired, the vehicle's front was at the
     * loop's leading edge, so it was at the stop line when its rear — which the camera
     * sees on the road — was that distance further back. Never throws for what the frames
     * show; CameraCrossing::how says what was measured or why nothing could be. */
    CameraCrossing dateCrossing(const Decision &decision, const Snapshot &snapshot) const;

    /* The empty road is learnt over the last minute: call about once a second with the
     * newest frame (from a worker: it resamples the lanes). A vehicle that waited at the
     * line for half the clip would be part of a background taken from the clip alone;
     * over a minute only a vehicle parked for half of it is. Until enough frames are in,
     * bind() uses the snapshot's own frames. Thread-safe. */
    void learnBackground(const hal::Frame &frame) const;
    std::size_t backgroundSamples() const;

    /* Where a rear at `alongM` in `lane` has its plate: the lane's width (and a margin)
     * at that point, from just below its road contact to 1.3 m above it. Empty when the
     * point is out of view. */
    cv::Rect plateRegion(const LaneBand &lane, double alongM) const;

    const CameraCalibration &calibration() const { return calibration_; }
    const RoadHomography &homography() const { return homography_; }

private:
    struct Sighting
    {
        std::size_t frame = 0;
        double rearM = 0;
    };
    struct Followed
    {
        unsigned lane = 0;
        std::vector<Sighting> path;
    };

    const LaneView *view(unsigned lane) const;
    /* Per view, per search frame: the vehicles found. */
    std::vector<std::vector<std::vector<VehicleRear>>> observe(
            const std::vector<hal::FramePtr> &frames, const Snapshot &snapshot) const;
    VehicleIdentity bindRedLight(const Decision &decision, const Snapshot &snapshot) const;
    VehicleIdentity bindSpeed(const Decision &decision, const Snapshot &snapshot) const;

    /* Per lane view: the learnt background, or none yet. */
    std::shared_ptr<const std::vector<cv::Mat>> learntBackground() const;

    CameraCalibration calibration_;
    RoadHomography homography_;
    RearFinderOptions finder_;
    std::vector<LaneView> views_;

    mutable std::mutex backgroundLock_;
    /* What the road looks like is learnt, not configured: state, but no part of what
     * the binder decides from a calibration, hence mutable behind the lock. */
    mutable std::deque<std::vector<cv::Mat>> backgroundSamples_; /* per frame, per view */
    mutable std::shared_ptr<const std::vector<cv::Mat>> background_;
    mutable std::size_t sinceMedian_ = 0;
};

} /* namespace stopline::pipeline */

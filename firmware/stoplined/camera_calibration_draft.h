#pragma once

#include <string>
#include <vector>

#include "pipeline/scene/road_calibration.h"

/* The technician's camera calibration in progress on the console: marked points, lane
 * bands and photo zones, checked as they are entered and fitted on request, until
 * `calibrate camera apply` hands a usable calibration to the daemon to seal. Pure text
 * in, text out, so every reply is unit-tested without a daemon. */
namespace stopline::firmware {

class CameraCalibrationDraft
{
public:
    /* Starts from the calibration in force: its lanes and zones are kept, its points
     * are not (points belong to one snapshot). */
    explicit CameraCalibrationDraft(const pipeline::CameraCalibration &current);

    struct Reply
    {
        std::string text;
        bool apply = false; /* the draft fits and should be sealed and used */
    };

    /* The words after "calibrate camera": point, lane, zone, show, clear, apply. */
    Reply command(const std::vector<std::string> &args);

    const pipeline::CameraCalibration &draft() const { return draft_; }

    static const char *usage();

private:
    std::string show() const;

    pipeline::CameraCalibration draft_;
};

} /* namespace stopline::firmware */

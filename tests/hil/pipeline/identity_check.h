#pragma once

#include <string>
#include <vector>

#include "pipeline_rig.h"

/* Does every sealed record show the vehicle it accuses, and only that one? Checked
 * against the simulator's frame truth (which plates the renderer drew where in each
 * frame), never against what the pipeline believes: the accused is found from the
 * truth's crossing (red light: lane and time) or beam pass (speed: the vehicle in the
 * radar's beam at the measurement), and then
 *  - its plate is listed in the A-shot's and the B-shot's frame truth;
 *  - the best plate candidate overlaps its rendered plate with IoU >= 0.5;
 *  - no candidate overlaps another vehicle's plate (IoU >= 0.3);
 *  - speed records: the photo speed agrees with the radar within 2 mph. */
namespace stopline::hil {

struct IdentityCheck
{
    std::vector<std::string> problems;
    std::vector<std::string> lines; /* one per record, for the log */
    int records = 0;
    int speedRecords = 0;
    double worstPhotoRadarMph = 0; /* |photo - radar| over the speed records */
};

IdentityCheck checkIdentity(const RigRun &run);

} /* namespace stopline::hil */

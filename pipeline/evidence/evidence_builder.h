#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "evidence.pb.h"
#include "hal/frame.h"
#include "pipeline/frame_ring/frame_ring.h"
#include "pipeline/evidence/vehicle_identity.h"
#include "pipeline/plate/plate_locator.h"
#include "pipeline/trigger/decision.h"

namespace stopline::pipeline {

/* Evidence could not be built (no frame near the event, an image that will not
 * encode); the message says which. The decision is still logged by the caller. */
class EvidenceError : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

/* How pictures go into a record. Shots stay at full resolution (legibility in court);
 * the clip is decimated and scaled down to keep records small — the clip frames'
 * width, height, sequence numbers and capture instants in the record show exactly
 * which camera frames were kept. */
struct EvidenceOptions
{
    int shotJpegQuality = 90; /* A-shot and B-shot */
    double clipFps = 5.0;     /* clip frames per second kept; <= 0 keeps every frame */
    int clipWidth = 640;      /* clip frames scaled to this width (aspect kept); 0: as is */
    int clipJpegQuality = 70;
    int plateCandidates = 3; /* the best plus up to two more */
    int cropJpegQuality = 95;
    double cropMargin = 0.15;                       /* of the box size on each side, for context */
    bool locateOnBShot = true;                      /* also look for plates on the B-shot */
    Nanos snapshotTimeoutNs = 10 * kNanosPerSecond; /* camera stall: give up waiting */
    /* The A- or B-shot furthest allowed from its planned instant: beyond it (a camera
     * stall, dropped frames) the citation is refused as evidence_incomplete instead of
     * sealing a picture of another moment. */
    Nanos maxShotOffsetNs = 100 * kNanosPerMilli;
};

/* Who and where: constant for a site, from configuration and calibration. */
struct SiteIdentity
{
    std::string deviceSerial;
    evidence::Location location; /* lane is set per violation for red light */
    std::string redLightStatute; /* e.g. "RCW 46.63.170" */
    std::string redLightDescription;
    std::string speedStatute;
    std::string speedDescription;
    std::string calibrationId;
    std::string configHash;      /* SHA-256 hex of the effective configuration */
    std::string softwareVersion; /* empty: stopline::kSoftwareVersion */
};

/* What held when the decision was made; taken on the event thread and carried to the
 * worker with the decision. */
struct CaptureContext
{
    evidence::ClockState clock;
    Nanos utcMinusMonotonicNs = 0; /* UTC = monotonic + this, from hal::Clock */
    std::optional<evidence::RadarIdentity> radar;
    std::optional<evidence::SelfCheck> latestSelfCheck;
};

/* Where the times of one build went (for the benchmark and the status page). */
struct BuildStats
{
    double totalMs = 0;
    double shotsMs = 0; /* colour conversion + JPEG of A and B */
    double plateMs = 0; /* plate location + crops */
    double clipMs = 0;
    std::size_t clipFrames = 0;
    std::size_t bytes = 0; /* all blobs */
};

/* The frames a decision needs from the ring: A and B nearest, the clip decimated. */
SnapshotRequest snapshotRequestFor(const Decision &decision, const EvidenceOptions &options);

/* An Instant for a monotonic time, with UTC from the context's offset. */
evidence::Instant instantAt(Nanos monotonicNs, const CaptureContext &context);

/* The frame as 8-bit BGR (a view when it already is, else converted). Throws
 * EvidenceError for a frame without pixels. */
cv::Mat toBgr(const hal::Frame &frame);

/* The frame scaled to `width` pixels wide (aspect kept; 0 or narrower: as is) for
 * the clip, cheaply: YUV420 frames are reduced before colour conversion. */
cv::Mat clipImage(const hal::Frame &frame, int width);

/* JPEG bytes of an image; throws EvidenceError when OpenCV cannot encode it. */
std::string encodeJpeg(const cv::Mat &image, int quality);

/* The photographs bound to the accused vehicle, and the plates found in its own image
 * regions (in the shots' pixels, best first). */
struct BoundShots
{
    VehicleIdentity identity;
    std::vector<PlateBox> aPlates, bPlates;
    double toleranceMph = 0; /* the calibration's photo-speed tolerance */
    std::string calibration; /* describeCalibration() of the calibration used */
};

/* Plate candidates inside `region` of an image, in the image's pixels. */
std::vector<PlateBox> locateInRegion(const PlateLocator &locator, const cv::Mat &bgr,
                                     const cv::Rect &region);

/* Binds the decision to one vehicle (VehicleBinder::bind) and looks for its plate in its
 * regions of both shots; identity.reason is PlateNotFound when neither has one. */
BoundShots bindShots(const VehicleBinder &binder, const PlateLocator &locator,
                     const Decision &decision, const Snapshot &snapshot, bool locateOnBShot);

/* The whole violation record from a Cite decision and its snapshot: every field the
 * decision, the context and the site provide; A-shot and B-shot JPEGs, plate
 * candidates with crops naming their source frame's hash, the clip, the signal
 * timeline or the speed measurement. With `bound` the shots and plates are the bound
 * vehicle's and the record carries how they were bound; without it (no camera
 * calibration: unit tests, a bench) the shots are the frames nearest the planned
 * instants and plates are searched in the whole frame. Heavy (JPEG, plate location): run
 * on a worker. Blob hashes are set; seq, prev_hash and the signature are the sealer's.
 * Throws EvidenceError when the snapshot has no A-shot. */
evidence::Record buildViolationRecord(const Decision &decision, const Snapshot &snapshot,
                                      const SiteIdentity &site, const CaptureContext &context,
                                      const EvidenceOptions &options, const PlateLocator &locator,
                                      BuildStats *stats = nullptr,
                                      const BoundShots *bound = nullptr);

/* A radar self-check as the drivers report it, independent of the proto. */
struct SelfCheckResult
{
    enum class Kind { PowerOn, Periodic, Fork, Reset, Recovery };
    struct Item
    {
        std::string name; /* "identity", "frequency_band", "clock_advancing", ... */
        bool passed = false;
        std::string detail;
    };
    Kind kind = Kind::Periodic;
    Nanos atNs = 0;
    bool passed = false;
    std::vector<Item> items;
    double referenceSpeed = 0; /* fork nominal */
    double measuredSpeed = 0;
    double tolerance = 0;
    drivers::SpeedUnit unit = drivers::SpeedUnit::Mph;
};

/* Radar identity as read with ?P ?V ?B ?U ?R ?F. */
struct RadarInfo
{
    std::string product;
    std::string version;
    std::string build;
    std::string uid;
    std::string resetReason;
    double frequencyGhz = 0;
    std::string serialPort;
};

evidence::RadarIdentity toProto(const RadarInfo &radar);
evidence::SelfCheck toProto(const SelfCheckResult &check, const CaptureContext &context);
evidence::SpeedUnit toProto(drivers::SpeedUnit unit);
evidence::Phase toProto(drivers::Phase phase);

/* A self-check record (every self-check is sealed into the chain; the latest one also
 * travels in each speed violation). `context.radar` names the radar checked. */
evidence::Record buildSelfCheckRecord(const SelfCheckResult &check, const SiteIdentity &site,
                                      const CaptureContext &context);

/* A technician's calibration change. `site.calibrationId` is the id in force before;
 * the record carries the new one in its body and as its calibration_id. */
struct CalibrationChangeInfo
{
    std::string key; /* "stop_line_from_entry_m", "radar.cosine_angle_deg", ... */
    std::string oldValue;
    std::string newValue;
    std::string technician;
    std::string newCalibrationId;
    std::string note;
    std::string expires; /* ISO-8601 date of the next required calibration */
};

evidence::Record buildCalibrationRecord(const CalibrationChangeInfo &change,
                                        const SiteIdentity &site, const CaptureContext &context);

} /* namespace stopline::pipeline */

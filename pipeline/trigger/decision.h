#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/events.h"
#include "hal/time.h"

namespace stopline::pipeline {

/* Why a rule decided not to cite. Every refusal carries one (the first that applies, in
 * the documented order of each rule), so status pages and statistics can say how many
 * vehicles were not cited and why — the audits of commercial systems are audits of
 * exactly these counts. */
enum class Reason {
    None, /* a citation */
    /* shared */
    EnforcementSuspended, /* the daemon suspended enforcement (spool full, camera, clock) */
    /* red light */
    SignalFault,      /* a signal-sensing fault overlapped the timeline we would rely on */
    SignalUnknown,    /* the phase at the crossing is not known (no history, dark, flashing) */
    NotRed,           /* crossed on green or yellow: lawful */
    WithinGrace,      /* time into red at or below the grace period */
    YellowTooShort,   /* the yellow actually shown was shorter than the minimum */
    YellowUnmeasured, /* no yellow was seen before this red (just started, lost edges) */
    RightTurnExempt,  /* right turn on a lane whose policy is `never` */
    RightTurnStopped, /* right turn after a complete stop, policy `cite_unless_stopped` */
    BelowMinSpeed,    /* creeping or stopping vehicle that touched the loops */
    NoContinuation,   /* the vehicle was not seen continuing through the intersection */
    BadCrossing,      /* loop times or spacing make no physical sense */
    UnknownLane,      /* a crossing for an approach/lane not in the configuration */
    /* school zone */
    BeaconOff,
    NotInSession,  /* not a school day per the calendar */
    OutsideWindow, /* school day, but outside the enforcement window */
    SelfCheckFailed,
    SelfCheckStale, /* no passed self-check within the configured age */
    MultiTarget,    /* two or more targets at different speeds in the beam */
    SpeedSpread,    /* one vehicle's readings spread more than allowed */
    UnderThreshold, /* not faster than limit + threshold_over */
    TooFewSamples,  /* the vehicle left the beam before a speed could be established */
    RadarGap,       /* the radar fell silent mid-pass for longer than a track survives */
    RadarReset,     /* the radar restarted during the pass: its speeds cannot be trusted */
    /* shared, decided after the rule */
    EvidenceIncomplete, /* a shot is further from its planned instant than allowed */
    Duplicate,          /* the same vehicle's violation was already cited */
    /* shared, decided from the photographs (pipeline/evidence/vehicle_identity.h) */
    VehicleNotInView,   /* the accused vehicle is not where the photographs should show it */
    PlateNotFound,      /* the vehicle is in view but no plate in its own image region */
    IdentityAmbiguous,  /* another vehicle is in the photo zone with it */
    PhotoSpeedMismatch, /* the speed from the two photographs disagrees with the radar */
};

inline constexpr std::size_t kReasonCount =
        static_cast<std::size_t>(Reason::PhotoSpeedMismatch) + 1;

/* "within_grace", "yellow_too_short", ...; "cite" for Reason::None. */
const char *reasonName(Reason reason);

enum class ViolationKind { RedLight, SchoolZoneSpeed };

const char *violationKindName(ViolationKind kind);

/* Per-lane right-turn-on-red policy (docs/enforcement-rules.md). */
enum class TurnPolicy { Cite, CiteUnlessStopped, Never };

const char *turnPolicyName(TurnPolicy policy);

/* Parses "cite", "cite_unless_stopped", "never". */
std::optional<TurnPolicy> parseTurnPolicy(std::string_view text);

/* When to take pictures, relative to the event (stop-line crossing or speed
 * measurement point). Part of each rule's configuration because the B-shot delay is
 * also what "time into red at B" is measured at. */
struct CaptureTiming
{
    Nanos bShotDelayNs = 1 * kNanosPerSecond; /* B-shot this long after the event */
    Nanos clipBeforeNs = 3 * kNanosPerSecond;
    Nanos clipAfterNs = 3 * kNanosPerSecond;
    /* Red light: how long after the crossing the B-shot is looked for in every frame
     * (the vehicle found past the line); a slow vehicle that takes longer is not in
     * the intersection in time to be photographed there. */
    Nanos searchNs = 3 * kNanosPerSecond;
    /* How far past the line the front must go before the B-shot can be taken: a long
     * car's 6.5 m plus the calibration's B position (its rear 0.5 m past the line). At the
     * speed at the line this gives the search span, which is as long as the signal must
     * be known to stay red (a fault before its end refuses). */
    double searchTravelM = 7.0;
};

/* Which frames to capture for a decision. */
struct CapturePlan
{
    Nanos aShotNs = 0; /* the event itself */
    Nanos bShotNs = 0;
    Nanos clipFromNs = 0;
    Nanos clipToNs = 0;
    /* Every frame of [searchFromNs, searchToNs] is kept so the shots can be chosen where
     * the vehicle is (empty when from > to: the shots are taken at aShotNs, bShotNs). */
    Nanos searchFromNs = 0;
    Nanos searchToNs = -1;
    /* Red light, calibrated camera, a slow pass: every frame of [datingFromNs,
     * datingToNs] is also kept, so the camera can date the crossing the loops cannot
     * (a vehicle that stood on them). Empty when from > to. */
    Nanos datingFromNs = 0;
    Nanos datingToNs = -1;

    bool dating() const { return datingFromNs <= datingToNs; }
};

/* The stop-line crossing as the camera dated it (VehicleBinder::dateCrossing): the
 * answer to a Capture whose plan asked for dating, fed back to the red-light rule. */
struct CameraCrossing
{
    std::uint64_t decisionId = 0;
    bool dated = false;
    Nanos atNs = 0;
    Nanos earliestNs = 0;
    Nanos latestNs = 0;
    double speedMps = 0; /* at the line */
    double speedLowMps = 0;
    double speedHighMps = 0;
    /* Front (at the exit loop's edge when it fired) to the rear the camera saw then. */
    double vehicleLengthM = 0;
    std::string how; /* what was measured, or why the crossing could not be dated */
};

/* One radar reading as used by a rule, with everything the record needs. */
struct SpeedSample
{
    Nanos atNs = 0;
    double speed = 0; /* as the sensor sent it, signed, in `unit` */
    double magnitude = 0;
    unsigned targetIndex = 0; /* 0 = strongest target of its report */
    std::optional<double> sensorTimeS;
};

/* What the red-light rule measured: the evidence's signal timeline and speed at the
 * line come from here, not from a second opinion. */
struct RedLightFacts
{
    std::string approach;
    unsigned lane = 0;
    std::string head;
    drivers::LoopCrossing crossing; /* as the loop driver reported it */
    Nanos crossingNs = 0;           /* stop-line crossing: best estimate from the loops */
    /* The crossing is inferred, never observed: it lies in [earliest, latest] (see
     * drivers::estimateCrossing, whose method is named here). */
    Nanos crossingEarliestNs = 0;
    Nanos crossingLatestNs = 0;
    std::string crossingMethod;
    /* The vehicle stood on the loops: they cannot date its crossing. Undated unless the
     * camera dated it (cameraDated, crossingMethod "camera"). */
    bool stoppedOnLoops = false;
    bool cameraDated = false;
    std::string cameraDating;      /* what the camera measured, or why it could not date */
    double stopLineFromEntryM = 0; /* the lane's geometry the estimate used */
    double vehicleLengthM = 0;     /* measured by the camera's dating; 0: not measured */
    Nanos entryOffNs = 0;          /* 0 when not seen */
    Nanos exitOffNs = 0;
    Nanos redOnsetNs = 0;
    Nanos measuredYellowNs = 0; /* yellow shown before this red; 0 when none was shown */
    bool yellowMeasured = false;
    Nanos allRedNs = 0;                 /* red onset → conflicting green, 0 when not seen */
    Nanos timeIntoRedNs = 0;            /* at the crossing's best estimate */
    Nanos timeIntoRedUncertaintyNs = 0; /* the crossing's uncertainty */
    Nanos graceNs = 0;                  /* configured, in force */
    Nanos minYellowNs = 0;
    double speedAtLineMps = 0; /* from the loop pass, best estimate */
    double speedAtLineLowMps = 0;
    double speedAtLineHighMps = 0;
    double minSpeedMps = 0; /* configured for this lane */
    TurnPolicy turnPolicy = TurnPolicy::Cite;
    bool turnedRight = false;
    bool stopped = false;     /* a complete stop was detected before the line */
    std::string stopEvidence; /* how: "radar 0.4 mph", "radar silent 1.3 s", ... */
    bool continued = false;
    Nanos continuationNs = 0; /* when continuation was seen (exit loop cleared) */
    bool qualified = false;   /* time into red above the qualified threshold */
    Nanos qualifiedNs = 0;
    std::vector<drivers::PhaseChange> timeline; /* this head and its conflicting heads */
    std::vector<SpeedSample> radarSamples;      /* the speed track used for stop detection */
    drivers::SpeedUnit radarUnit = drivers::SpeedUnit::Mph;

    bool undated() const { return stoppedOnLoops && !cameraDated; }
};

/* What the school-zone rule measured. Speeds in `unit` (the configuration's). */
struct SpeedFacts
{
    std::vector<SpeedSample> samples; /* every target of every report of the track */
    drivers::SpeedUnit unit = drivers::SpeedUnit::Mph;
    double cosineAngleDeg = 0;
    double measuredSpeed = 0;  /* median of the strongest target's |speed|, uncorrected */
    double correctedSpeed = 0; /* measured / cos(angle): the figure compared and cited */
    double limit = 0;
    double thresholdOver = 0;
    double spread = 0;             /* max - min of the corrected strongest-target readings */
    unsigned targetsInBeam = 0;    /* most distinct speeds seen in one report */
    std::string multiTargetPolicy; /* "discard_pass" or "discard_reports" */
    Nanos longestGapNs = 0;        /* longest radar silence inside the pass */
    bool beaconFlashing = false;
    Nanos beaconSinceNs = 0;
    bool schoolInSession = false;
    std::string calendarEntry;     /* the calendar line that put school in session */
    std::string enforcementWindow; /* "07:30-09:00" */
    bool selfCheckPassed = false;
    Nanos selfCheckAtNs = 0;
    Nanos trackStartNs = 0;
    Nanos trackEndNs = 0;
};

/* A rule's output. A candidate violation produces exactly two decisions with the same
 * id: first `Capture` (take the pictures now: the frames are in the ring or about to
 * arrive), then either `Cite` or `NoCite` (with the reason) once the rule has seen
 * enough (continuation, the end of the radar track). Refusals that need no pictures
 * produce only a `NoCite`. */
struct Decision
{
    enum class Verdict { Capture, Cite, NoCite };

    std::uint64_t id = 0; /* unique within one rule instance */
    ViolationKind kind = ViolationKind::RedLight;
    Verdict verdict = Verdict::NoCite;
    Reason reason = Reason::None;
    Nanos eventNs = 0;   /* stop-line crossing or speed-measurement point */
    Nanos triggerNs = 0; /* sampleNs of the driver event that produced this decision */
    CapturePlan plan;
    std::optional<RedLightFacts> redLight;
    std::optional<SpeedFacts> speed;
};

const char *verdictName(Decision::Verdict verdict);

/* Final decisions counted by reason (Reason::None counts citations), for the
 * heartbeat and statistics. */
class ReasonCounts
{
public:
    void count(Reason reason) { ++counts_[static_cast<std::size_t>(reason)]; }
    std::uint64_t operator[](Reason reason) const
    {
        return counts_[static_cast<std::size_t>(reason)];
    }
    std::uint64_t citations() const { return (*this)[Reason::None]; }
    std::uint64_t total() const;
    /* "cite=3 within_grace=1 ..." with zero counts left out. */
    std::string summary() const;

private:
    std::array<std::uint64_t, kReasonCount> counts_{};
};

/* Unit conversions for radar speeds (the OPS243 can report in any of these). */
double toMetersPerSecond(double speed, drivers::SpeedUnit unit);
double fromMetersPerSecond(double mps, drivers::SpeedUnit unit);
inline double convertSpeed(double speed, drivers::SpeedUnit from, drivers::SpeedUnit to)
{
    return from == to ? speed : fromMetersPerSecond(toMetersPerSecond(speed, from), to);
}
inline constexpr double kMetersPerSecondPerMph = 0.44704;

const char *speedUnitName(drivers::SpeedUnit unit);

} /* namespace stopline::pipeline */

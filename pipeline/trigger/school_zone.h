#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/events.h"
#include "pipeline/trigger/decision.h"

namespace stopline::pipeline {

struct CivilDate
{
    int year = 1970;
    int month = 1; /* 1..12 */
    int day = 1;   /* 1..31 */

    auto operator<=>(const CivilDate &) const = default;
    std::string text() const; /* "2026-09-01" */
};

/* Local civil time of an event. The rules never read a clock: the daemon converts the
 * event's UTC time with the site's time zone and passes it in. */
struct CivilTime
{
    CivilDate date;
    int weekday = 0; /* 0 = Sunday .. 6 = Saturday */
    int secondOfDay = 0;
};

/* Local civil time (process time zone, TZ) of a UTC instant; for the daemon. */
CivilTime civilTimeFromUtc(std::int64_t utcNs);

/* "YYYY-MM-DD"; nullopt when malformed or not a real date. */
std::optional<CivilDate> parseDate(std::string_view text);

/* A daily enforcement window in local time, [from, to). */
struct TimeWindow
{
    int fromSecond = 0;
    int toSecond = 0;
    std::string text; /* "07:30-09:00" */
};

/* "HH:MM-HH:MM" with from < to; nullopt when malformed. */
std::optional<TimeWindow> parseWindow(std::string_view text);

/* When school is in session and when the zone is enforced. A day is a school day when
 * it falls in a session, on a school weekday, and is not a no-school day. */
struct SchoolCalendar
{
    struct Session
    {
        CivilDate first;
        CivilDate last; /* inclusive */
        std::string name;
    };
    struct NoSchoolDay
    {
        CivilDate date;
        std::string name;
    };
    std::vector<Session> sessions;
    std::vector<NoSchoolDay> noSchoolDays;
    std::array<bool, 7> schoolWeekdays{false, true, true, true, true, true, false};
    std::vector<TimeWindow> windows;

    struct Verdict
    {
        bool inSession = false;
        std::string entry; /* the calendar line that decided: session or no-school day */
        bool inWindow = false;
        std::string window; /* the window we are in (or the day's windows) */
    };
    Verdict check(const CivilTime &time) const;
};

enum class TravelDirection { Inbound, Outbound, Both };

/* What a second target at a different speed during a vehicle's pass does. OIML R 91 asks
 * that a speed never be attributed to the wrong vehicle: the safe reading, and the
 * default, discards the whole pass; the alternative keeps only the reports in which the
 * vehicle was alone in the beam. The policy in force is named in the record. */
enum class MultiTargetPolicy { DiscardPass, DiscardReports };

const char *multiTargetPolicyName(MultiTargetPolicy policy);

/* "discard_pass", "discard_reports". */
std::optional<MultiTargetPolicy> parseMultiTargetPolicy(std::string_view text);

/* Every number of the school-zone rule (docs/enforcement-rules.md). Speeds are in
 * `unit`; radar readings in another unit are converted. */
struct SchoolZoneConfig
{
    double limit = 20.0;         /* posted limit while the beacon flashes */
    double thresholdOver = 10.0; /* cite only above limit + thresholdOver */
    drivers::SpeedUnit unit = drivers::SpeedUnit::Mph;
    double cosineAngleDeg = 0.0;     /* beam to travel, from calibration */
    double maxSpread = 2.0;          /* one vehicle's corrected readings (Sensys Gatso: 2 mph) */
    double sameSpeedTolerance = 1.0; /* targets closer than this are one vehicle */
    Nanos selfCheckMaxAgeNs = 15 * 60 * kNanosPerSecond;
    /* The longest silence a vehicle's track survives (a Doppler radar can drop a few
     * reports). A longer silence followed by readings of the same speed is a gap in the
     * evidence: the pass is refused with radar_gap. */
    Nanos trackGapNs = 500 * kNanosPerMilli;
    Nanos passGapNs = 2 * kNanosPerSecond; /* silence that ends a vehicle's pass */
    /* After a silence over track_gap, a first reading weaker than this fraction of the last
     * one (inbound; stronger by its inverse, outbound) is the next vehicle entering the far
     * end of the beam, not the same one reappearing: the pass before ends cleanly. Without
     * magnitudes the two cannot be told apart and the silence is a radar_gap. */
    double newVehicleMagnitudeRatio = 0.8;
    MultiTargetPolicy multiTarget = MultiTargetPolicy::DiscardPass;
    double trackBreak = 5.0;           /* a single-target jump this large starts a new vehicle */
    unsigned minSamples = 3;           /* readings before a speed counts as measured */
    std::size_t maxTrackSamples = 256; /* a parked-in-beam target cannot grow memory */
    Nanos eventSlackNs = 200 * kNanosPerMilli; /* poll() waits this past the gap */
    TravelDirection direction = TravelDirection::Inbound;
    std::string beacon; /* the zone's beacon; empty: any beacon */
    SchoolCalendar calendar;
    CaptureTiming capture;
    /* Where the radar measures and where the camera can photograph a plate, metres along
     * the approach from the stop line (negative: before it). The radar measures up the
     * road, out of the camera's view, so the photographs are looked for in every frame of
     * the span in which a vehicle at the measured speed can be in the photo zone: from
     * its leaving the beam's near end at the earliest to its leaving the zone having
     * entered the beam's far end at the latest. 0/0 for the zone: no search (the shots
     * are taken at the measurement). */
    double beamFarM = -55;
    double beamNearM = -25;
    double photoZoneFromM = 0;
    double photoZoneToM = 0;
    double speedUncertainty = 0.1;               /* the search allows this fraction either way */
    Nanos searchMarginNs = 300 * kNanosPerMilli; /* and this much time either side */
    Nanos maxSearchNs = 6 * kNanosPerSecond;     /* frames are held: bound the span */
};

/* Every problem with a configuration, each naming the field; empty when valid. */
std::vector<std::string> validate(const SchoolZoneConfig &config);

/* The school-zone speed rule as a pure, deterministic state machine. Radar reports are
 * grouped into one track per vehicle (ended by silence, or by a jump in a lone
 * target's speed). Once a track has `minSamples` readings the preconditions are
 * checked at each reading — enforcement not suspended, beacon flashing, school in
 * session, inside an enforcement window, a passed self-check younger than the maximum
 * age — and as soon as they hold and the readings so far are consistent (one target,
 * spread within limit) and over limit + threshold, the rule asks for pictures
 * (Capture, event = that reading). When the track ends the whole track is judged:
 * the first of too_few_samples, the precondition reason, multi_target, speed_spread,
 * under_threshold; else Cite. The cited speed is the median of the strongest target's
 * readings divided by cos(angle). */
class SchoolZoneRule
{
public:
    /* Throws std::invalid_argument listing every validate() problem. */
    explicit SchoolZoneRule(SchoolZoneConfig config);

    void onBeacon(const drivers::BeaconState &state);
    /* The controller-side radar self-check result (power-on, periodic, fork). */
    void onSelfCheck(bool passed, Nanos atNs);
    /* The radar restarted at `atNs` (the driver saw it): speeds are not valid until a
     * passed self-check, and the pass the beam was in the middle of is refused. */
    void onRadarReset(Nanos atNs);
    /* `civil` is the local civil time of report.at (see civilTimeFromUtc). */
    std::vector<Decision> onRadar(const drivers::RadarReport &report, const CivilTime &civil);
    /* Ends a track whose vehicle has left the beam; call a few times a second. */
    std::vector<Decision> poll(Nanos nowNs);

    void setSuspended(bool suspended) { suspended_ = suspended; }
    bool suspended() const { return suspended_; }

    const ReasonCounts &counts() const { return counts_; }
    const SchoolZoneConfig &config() const { return config_; }
    bool tracking() const { return track_.has_value(); }

private:
    struct Track
    {
        std::uint64_t candidateId = 0; /* 0: no Capture issued */
        Nanos startNs = 0;
        Nanos lastNs = 0;
        std::vector<double> readings;     /* strongest target's corrected |speed| */
        std::vector<double> soloReadings; /* the same, from reports with one vehicle */
        std::vector<double> lastSpeeds;   /* relevant targets of the latest report */
        Nanos longestGapNs = 0;
        double lastMagnitude = 0;              /* strongest relevant target of the latest report */
        std::optional<double> lastSensorTimeS; /* the radar's clock at the latest report */
        bool radarGap = false;                 /* a silence over track_gap inside the pass */
        bool radarReset = false;               /* the radar restarted while it was open */
        std::vector<SpeedSample> samples;
        bool multiTarget = false;
        unsigned targetsInBeam = 0;
        Reason precondition = Reason::None;
        SpeedFacts conditions; /* beacon, calendar, self-check at the last evaluation */
        Decision capture;
    };

    Reason preconditions(Nanos atNs, const CivilTime &civil, SpeedFacts *facts) const;
    void summarize(const Track &track, SpeedFacts *facts) const;
    const std::vector<double> &countedReadings(const Track &track) const;
    /* Silence since the track's latest reading: on the radar's clock when both reports
     * carry it (a host that read the port late sees a burst, not a gap), else on ours. */
    static Nanos silenceBefore(const Track &track, const drivers::RadarReport &report);
    Decision finish(Track &track, Nanos triggerNs);
    /* The frames to keep for a vehicle measured at `speedMps` now, tracked since
     * `trackStartNs`: see SchoolZoneConfig::photoZoneFromM. */
    CapturePlan shotPlan(Nanos atNs, Nanos trackStartNs, double speedMps) const;
    bool relevant(double speed) const;

    SchoolZoneConfig config_;
    double cosine_ = 1.0;
    bool suspended_ = false;
    std::uint64_t nextId_ = 1;
    ReasonCounts counts_;
    struct Beacon
    {
        bool active = false;
        Nanos sinceNs = 0;
    };
    std::map<std::string, Beacon> beacons_;
    bool selfCheckKnown_ = false;
    bool selfCheckPassed_ = false;
    Nanos selfCheckAtNs_ = 0;
    bool resetPending_ = false;          /* a radar reset not yet followed by a passed check */
    std::optional<Nanos> recoveredAtNs_; /* the passed check after the last reset */
    std::optional<Track> track_;
};

} /* namespace stopline::pipeline */

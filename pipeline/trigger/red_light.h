#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "drivers/events.h"
#include "pipeline/trigger/decision.h"

namespace stopline::pipeline {

/* A signal head and the heads whose green conflicts with its red (for the all-red
 * clearance in the record). */
struct HeadConfig
{
    std::string name;
    std::vector<std::string> conflicting;
};

/* One monitored lane: which loops, which head, where the stop line is. */
struct LaneConfig
{
    std::string approach;  /* matches drivers::LoopCrossing::approach */
    unsigned lane = 1;     /* 1 = leftmost lane of the approach */
    std::string head;      /* the signal head that controls this lane */
    std::string entryLoop; /* LoopPresence names; exit: continuation, entry: dwell */
    std::string exitLoop;  /* empty: reaching the exit loop is the continuation */
    /* Distance along travel from the entry loop's leading edge to the stop line, in
     * metres; at most the loop spacing (the exit loop must be at or past the line, so
     * the crossing is interpolated, never extrapolated forward). */
    double stopLineFromEntryM = 0;
    bool rightTurn = false; /* a right-turn lane: its vehicles turn right on red */
    TurnPolicy turnPolicy = TurnPolicy::Cite; /* applies when rightTurn */
    double minSpeedMph = -1; /* per-lane minimum speed at the line; < 0: the rule's */
    /* The radar watches this lane, so its reports form the speed track used to detect
     * a complete stop. Without it, a stop is inferred from the entry loop's dwell. */
    bool radarTrack = false;
};

/* Every number of the red-light rule (docs/enforcement-rules.md), defaults from
 * that page. Durations in nanoseconds, speeds in mph. */
struct RedLightConfig
{
    Nanos graceNs = 300 * kNanosPerMilli;             /* cite only when time into red > grace */
    Nanos minYellowNs = 3000 * kNanosPerMilli;        /* MUTCD minimum; refuse below */
    double minSpeedMph = 15.0;                        /* at the line, from the loop pair */
    Nanos qualifiedNs = 1000 * kNanosPerMilli;        /* German "qualified" violation */
    Nanos continuationWindowNs = 3 * kNanosPerSecond; /* exit loop cleared by then after exit-on */
    Nanos eventSlackNs = 500 * kNanosPerMilli;        /* wait for late (debounced) events */
    double completeStopMph = 1.0;                   /* a track reading at or below this is a stop */
    Nanos stopLookbackNs = 10 * kNanosPerSecond;    /* how far before the line to look */
    Nanos radarSilenceStopNs = 1 * kNanosPerSecond; /* Doppler sees no stopped car */
    Nanos entryDwellStopNs = 3 * kNanosPerSecond;   /* loop-only lanes */
    Nanos historyNs = 10 * 60 * kNanosPerSecond;    /* phase and presence history kept */
    /* How long after a crossing a signal fault that had already begun may still be
     * unrecognised (the phase decoder needs 2 s to call a head dark and two flash periods
     * to call it flashing, and reports the steady phase meanwhile): no decision is final
     * before this has passed. The daemon derives it from the decoder's configuration. */
    Nanos signalSettleNs = 6 * kNanosPerSecond;
    /* The start acceleration assumed for a vehicle pulling away from a stop on the loops
     * (see drivers::LoopGeometry). */
    double maxStartAccelMps2 = 3.0;
    /* With a calibrated camera (setCameraDating), a pass slower than this on average
     * between the loops' leading edges may stand on the loops, which then cannot date
     * its crossing: the camera is asked to, from the frames of the datingBeforeNs before
     * the exit loop fired, and the judgment waits up to cameraDatingWaitNs past its
     * settle time for the answer. */
    double cameraDatingBelowMps = 6.0;
    Nanos cameraDatingBeforeNs = 3 * kNanosPerSecond;
    Nanos cameraDatingWaitNs = 12 * kNanosPerSecond;
    std::vector<HeadConfig> heads; /* heads with conflicting heads; others are implied */
    std::vector<LaneConfig> lanes;
    CaptureTiming capture;
};

/* Every problem with a configuration, each naming the field ("lanes[1].head: ...");
 * empty when valid. */
std::vector<std::string> validate(const RedLightConfig &config);

/* The red-light rule as a pure, deterministic state machine: it is fed the drivers'
 * events with their kernel timestamps and never reads a clock, sleeps or does I/O, so
 * it runs on the event thread in microseconds and a test can replay any timeline.
 *
 * A crossing (LoopCrossing from the loop driver, at exit-on) is refused at once only
 * for an unknown lane, an implausible pass or a suspension. Otherwise it waits for the
 * facts: the trailing edges of the pass (the exit loop clearing is the continuation),
 * and `signalSettleNs` after the crossing, by which time any fault that had begun is
 * recognised. Pictures are asked for at once (Capture) whenever the head showed red
 * during the pass, so a later Cite has its frames. The final judgment, from poll() or
 * onLoopPresence(), estimates the crossing as an interval from all four loop instants
 * and checks in this order, the first failing one being the reason: no signal fault
 * overlapping the yellow, the crossing interval or the B-shot; phase red at the latest
 * possible crossing (conflict = fault; dark/flashing/unknown = signal_unknown), for a
 * vehicle that stood on the loops red anywhere in its interval; right-turn policy
 * (never, or stopped under cite_unless_stopped); an undated crossing (stood on the
 * loops) = below_min_speed; time into red minus its uncertainty > grace; yellow
 * measured and >= minimum; lowest possible speed at the line >= minimum; continuation
 * seen within the window.
 *
 * With camera dating on, a slow pass's Capture asks for dating frames (plan.dating());
 * its judgment waits for onCameraCrossing(), and a crossing the camera dated more
 * narrowly than the loops (always, for one that stood on them) is judged by the
 * camera's interval (method "camera"). */
class RedLightRule
{
public:
    /* Throws std::invalid_argument listing every validate() problem. */
    explicit RedLightRule(RedLightConfig config);

    void onPhaseChange(const drivers::PhaseChange &change);
    void onSignalFault(const drivers::SignalFault &fault);
    void onRadar(const drivers::RadarReport &report);
    std::vector<Decision> onLoopPresence(const drivers::LoopPresence &presence);
    std::vector<Decision> onLoopCrossing(const drivers::LoopCrossing &crossing);

    /* Judges the candidates whose facts are all in by `nowNs`; call from a timer a few
     * times a second. */
    std::vector<Decision> poll(Nanos nowNs);

    /* While suspended, new crossings are refused with enforcement_suspended. */
    void setSuspended(bool suspended) { suspended_ = suspended; }

    /* A calibrated camera can date crossings (the daemon turns this on and off with the
     * camera calibration). */
    void setCameraDating(bool on) { cameraDating_ = on; }
    bool cameraDating() const { return cameraDating_; }
    /* The camera's answer to a Capture that asked for dating; unknown ids are ignored. */
    std::vector<Decision> onCameraCrossing(const CameraCrossing &crossing);
    bool suspended() const { return suspended_; }

    const ReasonCounts &counts() const { return counts_; }
    std::size_t pendingCount() const { return pending_.size(); }
    const RedLightConfig &config() const { return config_; }

private:
    struct FaultInterval
    {
        int kind; /* drivers::SignalFault::Kind */
        Nanos startNs;
        Nanos endNs; /* INT64_MAX while active */
    };
    struct Presence
    {
        Nanos atNs;
        bool occupied;
    };
    struct RadarEntry
    {
        Nanos atNs;
        std::vector<drivers::RadarTarget> targets;
        drivers::SpeedUnit unit;
        std::optional<double> sensorTimeS;
    };
    struct Candidate
    {
        Decision decision;
        const LaneConfig *lane;
        Nanos deadlineNs; /* continuation must be seen by then */
        Nanos settledNs;  /* no judgment before this (signalSettleNs after the crossing) */
        bool captured = false;
        bool datingAsked = false; /* the Capture asked the camera to date the crossing */
        std::optional<CameraCrossing> camera;
    };

    const LaneConfig *findLane(const std::string &approach, unsigned lane) const;
    const drivers::PhaseChange *phaseAt(const std::string &head, Nanos t) const;
    bool faultDuring(const std::string &head, Nanos from, Nanos to) const;
    /* Did the head show `phase` at any moment of [from, to]? */
    bool shownDuring(const std::string &head, drivers::Phase phase, Nanos from, Nanos to) const;
    Nanos timelineStart(const std::string &head, Nanos redOnsetNs) const;
    void fillTimeline(RedLightFacts *facts, Nanos from, Nanos to) const;
    void detectStop(const LaneConfig &lane, RedLightFacts *facts) const;
    std::optional<Nanos> firstRelease(const std::string &loop, Nanos after, Nanos until) const;
    void estimate(const LaneConfig &lane, RedLightFacts *facts) const;
    static void applyCamera(const CameraCrossing &camera, RedLightFacts *facts);
    void measureYellow(const drivers::PhaseChange &red, RedLightFacts *facts) const;
    Reason judge(Candidate &c, Nanos nowNs);
    bool ready(const Candidate &c, Nanos nowNs) const;
    std::vector<Decision> settle(Nanos nowNs);
    Decision refuse(Decision d, Reason reason);
    void prune(Nanos nowNs);

    RedLightConfig config_;
    bool suspended_ = false;
    bool cameraDating_ = false;
    std::uint64_t nextId_ = 1;
    ReasonCounts counts_;
    std::map<std::string, std::deque<drivers::PhaseChange>> phases_;
    std::map<std::string, std::vector<FaultInterval>> faults_;
    std::map<std::string, std::deque<Presence>> presence_;
    std::deque<RadarEntry> radar_;
    std::vector<Candidate> pending_;
    Nanos newestNs_ = 0;
    Nanos polledNs_ = 0; /* the latest poll(): when a fact that comes between polls is judged */
};

} /* namespace stopline::pipeline */

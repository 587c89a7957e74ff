#pragma once

#include <deque>
#include <map>
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
    Nanos continuationWindowNs = 3 * kNanosPerSecond; /* after the crossing */
    Nanos eventSlackNs = 500 * kNanosPerMilli;        /* wait for late (debounced) events */
    double completeStopMph = 1.0;                   /* a track reading at or below this is a stop */
    Nanos stopLookbackNs = 10 * kNanosPerSecond;    /* how far before the line to look */
    Nanos radarSilenceStopNs = 1 * kNanosPerSecond; /* Doppler sees no stopped car */
    Nanos entryDwellStopNs = 3 * kNanosPerSecond;   /* loop-only lanes */
    Nanos historyNs = 10 * 60 * kNanosPerSecond;    /* phase and presence history kept */
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
 * A crossing (LoopCrossing from the loop driver) is judged at once against the
 * signal history: the stop-line crossing time is interpolated between the loops, the
 * phase at that instant looked up, the yellow that preceded the red measured edge to
 * edge. Checks in this order, the first failing one being the reason: lane known,
 * crossing plausible, enforcement not suspended, no active signal fault, phase red
 * (conflict = fault; dark/flashing/unknown = signal_unknown), no fault during the
 * yellow and red, time into red > grace, yellow measured and >= minimum, right-turn
 * policy, speed at the line >= minimum. A crossing passing all of these becomes a
 * candidate (Capture), confirmed as Cite when the exit loop clears within the
 * continuation window, or refused with no_continuation by poll(). */
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

    /* Refuses candidates whose continuation window (plus event slack) has passed by
     * `nowNs`; call from a timer a few times a second. */
    std::vector<Decision> poll(Nanos nowNs);

    /* While suspended, new crossings are refused with enforcement_suspended. */
    void setSuspended(bool suspended) { suspended_ = suspended; }
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
        Nanos timelineFromNs;
    };

    const LaneConfig *findLane(const std::string &approach, unsigned lane) const;
    const drivers::PhaseChange *phaseAt(const std::string &head, Nanos t) const;
    bool faultDuring(const std::string &head, Nanos from, Nanos to) const;
    void fillTimeline(RedLightFacts *facts, Nanos from, Nanos to) const;
    void detectStop(const LaneConfig &lane, RedLightFacts *facts) const;
    bool continuationSeen(const Candidate &c, Nanos *at) const;
    Decision refuse(Decision d, Reason reason);
    Decision finish(Candidate &c, Decision::Verdict verdict, Reason reason, Nanos triggerNs);
    void prune(Nanos nowNs);

    RedLightConfig config_;
    bool suspended_ = false;
    std::uint64_t nextId_ = 1;
    ReasonCounts counts_;
    std::map<std::string, std::deque<drivers::PhaseChange>> phases_;
    std::map<std::string, std::vector<FaultInterval>> faults_;
    std::map<std::string, std::deque<Presence>> presence_;
    std::deque<RadarEntry> radar_;
    std::vector<Candidate> pending_;
    Nanos newestNs_ = 0;
};

} /* namespace stopline::pipeline */

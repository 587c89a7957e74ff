/* HIL (issue 13): the rules' outcome and reason for every vehicle of three scenarios
 * written to provoke them — signal faults and camera stalls at the moment of a crossing
 * (enforce_faults), vehicles that do not drive at constant speed (enforce_motion), radar
 * silences and a shared beam during a speeder's pass (enforce_speed). For each vehicle the
 * simulator's ground truth says what the rules must conclude; the test fails on any
 * false citation, duplicate or wrong reason, and checks that every recorded crossing
 * interval holds the true crossing and every recorded time into red is within its
 * recorded uncertainty of the truth. */
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "identity_check.h"
#include "pipeline_rig.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::pipeline;
using Json = nlohmann::json;

namespace {

constexpr Nanos kMs = kNanosPerMilli;
constexpr Nanos kS = kNanosPerSecond;
constexpr double kGraceS = 0.3, kMinYellowS = 3.0, kBShotS = 1.0;
constexpr double kLimit = 25, kThresholdOver = 10;
/* The scenarios' loops: entry 1.8 m ending 4.0 m before the line, exit 1.8 m from 1.0 m
 * past it. */
constexpr double kEntryFrom = -5.8, kEntryTo = -4.0, kExitFrom = 1.0, kExitTo = 2.8;
constexpr double kStopLineFromEntryM = 5.8, kSpacingM = 6.8, kLoopLengthM = 1.8;

hil::RigConfig rigConfig(const std::string &scenario, bool lane1RightTurn)
{
    hil::RigConfig c;
    c.scenario = std::string(SCENARIO_DIR) + "/" + scenario;
    c.signal.heads = {{"NB", "NB_RED", "NB_YELLOW", "NB_GREEN"},
                      {"EB", "EB_RED", "EB_YELLOW", "EB_GREEN"}};
    c.redLight.graceNs = static_cast<Nanos>(kGraceS * kS);
    c.redLight.minYellowNs = static_cast<Nanos>(kMinYellowS * kS);
    c.redLight.capture.bShotDelayNs = static_cast<Nanos>(kBShotS * kS);
    c.redLight.signalSettleNs = drivers::faultRecognitionLatency(c.signal);
    c.redLight.heads.push_back({"NB", {"EB"}});
    for (unsigned lane : {1u, 2u}) {
        const std::string n = std::to_string(lane);
        c.loops.lanes.push_back({"north", lane, "LOOP_NORTH_" + n + "_ENTRY",
                                 "LOOP_NORTH_" + n + "_EXIT", kSpacingM, kLoopLengthM,
                                 kLoopLengthM});
        LaneConfig l;
        l.approach = "north";
        l.lane = lane;
        l.head = "NB";
        l.entryLoop = "LOOP_NORTH_" + n + "_ENTRY";
        l.exitLoop = "LOOP_NORTH_" + n + "_EXIT";
        l.stopLineFromEntryM = kStopLineFromEntryM;
        if (lane == 1 && lane1RightTurn) {
            l.rightTurn = true;
            l.turnPolicy = TurnPolicy::CiteUnlessStopped;
            l.minSpeedMph = 5;
        }
        c.redLight.lanes.push_back(l);
    }
    c.schoolZone = [](const CivilTime &today) {
        SchoolZoneConfig s;
        s.limit = kLimit;
        s.thresholdOver = kThresholdOver;
        s.cosineAngleDeg = 12;
        s.beacon = "SZ";
        s.calendar.sessions.push_back({today.date, today.date, "hil"});
        s.calendar.schoolWeekdays.fill(true);
        s.calendar.windows.push_back(*parseWindow("00:00-24:00"));
        return s;
    };
    return c;
}

struct Interval
{
    Nanos from = 0, to = 0;
    bool overlaps(Nanos a, Nanos b) const { return from <= b && a <= to; }
    bool covers(Nanos t, Nanos margin) const { return from <= t - margin && t + margin <= to; }
};

/* What the truth says of one scenario run, indexed for the expectations. */
struct Truth
{
    Nanos t0 = 0;
    std::map<std::string, Json> enter, crossing, exit;
    std::map<std::string, double> stoppedAtX; /* front position when it stopped */
    std::map<std::string, std::map<std::string, std::vector<Nanos>>> loopOn; /* plate, loop */
    std::vector<Interval> signalFaults, cameraStalls, radarSilences;
    std::vector<Interval> radarResets; /* a restart (boot) or a stream switched to other units */
    std::set<std::string> sharedBeam;  /* in a radar report with another vehicle's target */
    /* The sensor time of every report that saw the vehicle: the gaps the radar really left. */
    std::map<std::string, std::vector<double>> reportedAtS;

    explicit Truth(const std::vector<Json> &records)
    {
        std::map<std::string, Nanos> open;
        for (const Json &r : records) {
            const std::string type = r["type"];
            const Nanos t = r["t_ns"].get<Nanos>();
            if (type == "start")
                t0 = r["t0_ns"].get<Nanos>();
            else if (type == "vehicle_enter")
                enter[r["plate"]] = r;
            else if (type == "crossing")
                crossing[r["plate"]] = r;
            else if (type == "vehicle_exit")
                exit[r["plate"]] = r;
            else if (type == "vehicle_stop")
                stoppedAtX[r["plate"]] = r["x_m"].get<double>();
            else if (type == "loop" && r["occupied"].get<bool>())
                loopOn[r["plate"]][r["loop"]].push_back(t);
            else if (type == "fault" && r["kind"] == "radar_units")
                radarResets.push_back({t, t});
            else if (type == "signal_fault" || type == "fault") {
                const std::string key = type == "fault" ? r["kind"].get<std::string>() : "signal";
                if (r["active"].get<bool>())
                    open[key] = t;
                else if (open.count(key)) {
                    Interval iv{open[key], t};
                    (key == "signal"         ? signalFaults
                     : key == "camera_stall" ? cameraStalls
                     : key == "radar_reset"  ? radarResets
                                             : radarSilences)
                            .push_back(iv);
                    open.erase(key);
                }
            } else if (type == "radar") {
                std::set<std::string> plates;
                for (const Json &target : r["targets"])
                    for (const Json &v : target["vehicles"])
                        plates.insert(v["plate"]);
                if (r["targets"].size() >= 2 && plates.size() >= 2)
                    sharedBeam.insert(plates.begin(), plates.end());
                for (const std::string &p : plates)
                    reportedAtS[p].push_back(r["sensor_time_s"].get<double>());
            }
        }
    }

    /* Did the vehicle stand (stop) with any part of it over a loop? */
    bool stoodOnLoops(const std::string &plate) const
    {
        auto s = stoppedAtX.find(plate);
        if (s == stoppedAtX.end())
            return false;
        const double front = s->second, rear = front - enter.at(plate)["length_m"].get<double>();
        return (rear <= kEntryTo && front >= kEntryFrom) || (rear <= kExitTo && front >= kExitFrom);
    }
};

/* The reasons the rules may give for a vehicle's crossing, from the truth alone. */
std::set<std::string> expectedRedLight(const Truth &t, const std::string &plate,
                                       Nanos uncertaintyNs, bool lane1RightTurn)
{
    const Json &c = t.crossing.at(plate);
    const Nanos at = c["t_ns"].get<Nanos>();
    const unsigned lane = c["lane"].get<unsigned>();
    const bool red = c["phase"] == "red";
    const double tir = red ? c["time_into_red_s"].get<double>() : 0;
    const double yellow = c.value("yellow_s", 0.0);
    /* A fault in the red this crossing relies on (from its yellow to the B-shot). */
    const Nanos redFrom = red ? at - static_cast<Nanos>((tir + yellow) * kS) : at;
    for (const Interval &f : t.signalFaults)
        if (f.overlaps(redFrom, at + static_cast<Nanos>((kBShotS + 0.1) * kS)))
            return {"signal_fault"};
    const bool rightTurnLane = lane == 1 && lane1RightTurn;
    if (t.stoodOnLoops(plate)) {
        /* Undated: it may have crossed at any moment of its stand. */
        if (rightTurnLane)
            return {"right_turn_stopped"};
        /* not_red only when no red was shown at all while it stood; a crossing on red
         * is inside that time, so it must be below_min_speed. */
        return red ? std::set<std::string>{"below_min_speed"}
                   : std::set<std::string>{"below_min_speed", "not_red"};
    }
    if (!red)
        return {"not_red"};
    if (tir <= kGraceS)
        return {"within_grace"};
    std::set<std::string> out;
    if (tir - kGraceS <= 2.0 * uncertaintyNs / kS)
        out.insert("within_grace"); /* the rule abstains inside its uncertainty */
    if (yellow < kMinYellowS - 1e-6)
        return {"yellow_too_short"};
    if (rightTurnLane && c["stopped_before_line"].get<bool>())
        return {"right_turn_stopped"};
    if (c["speed_mph"].get<double>() < (rightTurnLane ? 5 : 15)) {
        out.insert("below_min_speed");
        return out;
    }
    /* A camera stall around either shot: no picture of that moment. */
    const Nanos margin = 40 * kMs;
    for (const Interval &s : t.cameraStalls)
        if (s.covers(at, margin) || s.covers(at + static_cast<Nanos>(kBShotS * kS), margin)) {
            out.insert("evidence_incomplete");
            return out;
        }
    out.insert("cite");
    return out;
}

constexpr double kRecoveryS = 5.0; /* reset seen -> recovery check passed, at most */

std::set<std::string> expectedSpeed(const Truth &t, const std::string &plate)
{
    const Json &b = t.exit.at(plate)["in_beam"];
    const Nanos from = t.t0 + b["from_ns_rel"].get<Nanos>(),
                to = t.t0 + b["to_ns_rel"].get<Nanos>();
    if (b["beacon_active"] != "all")
        return {"beacon_off"};
    /* A radar restart or a switch of units while the vehicle was in the beam, or in the
     * recovery after it (stated: the driver is measuring again within kRecoveryS, and a
     * pass starting less than the 2 s pass gap after that may have begun unmeasured). */
    for (const Interval &r : t.radarResets)
        if (r.overlaps(from - static_cast<Nanos>((kRecoveryS + 2.0) * kS), to))
            return {"radar_reset"};
    /* A silence during the pass is a gap when the reports either side of it are more
     * than the rule's 500 ms apart on the sensor's clock (a 0.3 s silence can be 0.48 s
     * between reports at 5.6 reports/s, or 0.53 s when it swallows two). */
    const std::vector<double> &seen =
            t.reportedAtS.count(plate) ? t.reportedAtS.at(plate) : std::vector<double>{};
    double longest = 0;
    for (std::size_t i = 1; i < seen.size(); ++i)
        longest = std::max(longest, seen[i] - seen[i - 1]);
    for (const Interval &s : t.radarSilences)
        if (s.overlaps(from, to) && longest > 0.5)
            return {"radar_gap"};
    if (t.sharedBeam.count(plate))
        return {"multi_target"};
    if (b["min_speed_mph"].get<double>() <= kLimit + kThresholdOver)
        return {"under_threshold"};
    if (b["max_speed_mph"].get<double>() - b["min_speed_mph"].get<double>() > 2.0)
        return {"speed_spread"};
    return {"cite"};
}

std::string join(const std::set<std::string> &s)
{
    std::string out;
    for (const std::string &x : s)
        out += (out.empty() ? "" : "|") + x;
    return out;
}

struct Findings
{
    std::vector<std::string> problems;
    double worstConstantMs = 0, worstTurningMs = 0, worstUndatedMs = 0;
    double worstPhotoRadarMph = 0;
    double worstRadarTruthMph = 0; /* a cited speed against the vehicle's true speed */
    int redVehicles = 0, speedVehicles = 0;
    std::vector<drivers::radar::RadarSelfCheck> radarChecks;
    std::vector<drivers::radar::RadarSelfCheck::Kind> sealedRadarChecks;
};

Findings check(const std::string &scenario, bool lane1RightTurn, bool checkSpeedReasons)
{
    Findings f;
    hil::RigRun run = hil::runRig(rigConfig(scenario, lane1RightTurn), VERIFY_BIN);
    for (const std::string &p : run.setupProblems)
        f.problems.push_back(scenario + ": " + p);
    if (!run.ran)
        return f;
    const Truth truth(run.truth);
    std::printf("\n== %s: red light %s | school zone %s\n", scenario.c_str(),
                run.redLightCounts.summary().c_str(), run.schoolZoneCounts.summary().c_str());

    /* Cited decisions become refusals when the pictures or the chain say so. */
    std::map<std::pair<int, std::uint64_t>, std::string> sealedAs;
    for (const auto &o : run.outcomes)
        if (o.result.refusal != Reason::None)
            std::printf("refused %s #%llu: %s\n", violationKindName(o.decision.kind),
                        static_cast<unsigned long long>(o.decision.id), o.result.error.c_str());
    for (const auto &o : run.outcomes)
        sealedAs[{static_cast<int>(o.decision.kind), o.decision.id}] =
                o.result.refusal != Reason::None ? reasonName(o.result.refusal)
                : o.result.ok()                  ? "cite"
                                                 : "failed: " + o.result.error;
    auto outcome = [&](const Decision &d) -> std::string {
        if (d.verdict != Decision::Verdict::Cite)
            return reasonName(d.reason);
        auto it = sealedAs.find({static_cast<int>(d.kind), d.id});
        return it == sealedAs.end() ? "cite (never sealed)" : it->second;
    };

    /* Red light: each decision is the vehicle whose front reached its exit loop then. */
    std::map<std::string, std::vector<const Decision *>> redOf;
    for (const Decision &d : run.finals) {
        if (!d.redLight)
            continue;
        const std::string exitLoop = "LOOP_NORTH_" + std::to_string(d.redLight->lane) + "_EXIT";
        std::string who;
        for (const auto &[plate, loops] : truth.loopOn) {
            auto it = loops.find(exitLoop);
            if (it != loops.end())
                for (Nanos on : it->second)
                    if (std::llabs(on - d.redLight->crossing.exitOnNs) < 3 * kMs)
                        who = plate;
        }
        if (who.empty())
            f.problems.push_back(scenario + ": red-light decision #" + std::to_string(d.id) +
                                 " matches no vehicle's exit-loop edge");
        else
            redOf[who].push_back(&d);
    }
    for (const auto &[plate, c] : truth.crossing) {
        ++f.redVehicles;
        auto it = redOf.find(plate);
        if (it == redOf.end()) {
            f.problems.push_back(scenario + ": " + plate + ": no red-light decision");
            continue;
        }
        if (it->second.size() > 1)
            f.problems.push_back(scenario + ": " + plate + ": " +
                                 std::to_string(it->second.size()) + " red-light decisions");
        const Decision &d = *it->second.front();
        const RedLightFacts &r = *d.redLight;
        const Nanos truthAt = c["t_ns"].get<Nanos>();
        const std::string got = outcome(d);
        const std::set<std::string> want =
                expectedRedLight(truth, plate, r.timeIntoRedUncertaintyNs, lane1RightTurn);
        const bool red = c["phase"] == "red";
        const double truthTir = red ? c["time_into_red_s"].get<double>() : NAN;
        std::printf("red   %s lane %u %-22s %-20s truth %s%s; crossing %s %+.1f ms ± %.1f ms%s\n",
                    plate.c_str(), r.lane, c["behaviour"].get<std::string>().c_str(), got.c_str(),
                    red ? ("red +" + std::to_string(truthTir) + " s").c_str()
                        : c["phase"].get<std::string>().c_str(),
                    want.count(got) ? "" : (" WANT " + join(want)).c_str(),
                    r.crossingMethod.c_str(), (r.crossingNs - truthAt) / 1e6,
                    r.timeIntoRedUncertaintyNs / 1e6,
                    r.undated() ? " (undated: stood on the loops)" : "");
        if (!r.cameraDating.empty())
            std::printf("      %s\n", r.cameraDating.c_str());
        if (!want.count(got))
            f.problems.push_back(scenario + ": " + plate + ": " + got + ", truth implies " +
                                 join(want));
        if (got == "cite" && red && truthTir <= kGraceS)
            f.problems.push_back(scenario + ": " + plate + " cited at or below the grace");
        if (!(r.crossingEarliestNs <= truthAt && truthAt <= r.crossingLatestNs))
            f.problems.push_back(scenario + ": " + plate +
                                 ": the true crossing is outside the recorded interval");
        /* Time into red as the driver saw it: where a fault governed the lamps inside this
         * red, the red shown began at the fault's end, not the controller's red onset of
         * the truth, so only the interval above is compared. */
        const bool faultInRed = want.count("signal_fault") > 0;
        if (red && r.redOnsetNs && !r.undated() && !faultInRed) {
            const double errNs = (r.crossingNs - r.redOnsetNs) - truthTir * kS;
            if (std::fabs(errNs) > r.timeIntoRedUncertaintyNs)
                f.problems.push_back(scenario + ": " + plate + ": time into red off by " +
                                     std::to_string(errNs / 1e6) + " ms, uncertainty " +
                                     std::to_string(r.timeIntoRedUncertaintyNs / 1e6) + " ms");
        }
        const double uncMs = r.timeIntoRedUncertaintyNs / 1e6;
        const std::string behaviour = c["behaviour"];
        const bool constant = behaviour == "runs_red" &&
                              std::fabs(c["speed_mph"].get<double>() -
                                        truth.enter.at(plate)["speed_mph"].get<double>()) < 0.01;
        const bool turning =
                behaviour == "right_turn_rolling" || behaviour == "right_turn_after_stop";
        if (r.undated())
            f.worstUndatedMs = std::max(f.worstUndatedMs, uncMs);
        else if (turning)
            f.worstTurningMs = std::max(f.worstTurningMs, uncMs);
        else if (constant)
            f.worstConstantMs = std::max(f.worstConstantMs, uncMs);
        if (constant && uncMs > 50)
            f.problems.push_back(scenario + ": " + plate + ": uncertainty over 50 ms");
        /* A turner that stood on the loops is dated by the camera (calibrated here). */
        if (turning && uncMs > 150)
            f.problems.push_back(scenario + ": " + plate + ": uncertainty over 150 ms" +
                                 (r.undated() ? " (undated)" : ""));
    }

    /* School zone: each decision's pass holds the vehicles in the beam then. */
    std::map<std::string, std::vector<const Decision *>> speedOf;
    for (const Decision &d : run.finals) {
        if (!d.speed)
            continue;
        for (const auto &[plate, e] : truth.exit) {
            if (!e.contains("in_beam"))
                continue;
            const Json &b = e["in_beam"];
            const Nanos from = truth.t0 + b["from_ns_rel"].get<Nanos>();
            const Nanos to = truth.t0 + b["to_ns_rel"].get<Nanos>();
            if (d.speed->trackStartNs <= to + 150 * kMs && from - 150 * kMs <= d.speed->trackEndNs)
                speedOf[plate].push_back(&d);
        }
    }
    for (const auto &[plate, e] : truth.exit) {
        if (!e.contains("in_beam"))
            continue;
        ++f.speedVehicles;
        const std::set<std::string> want = expectedSpeed(truth, plate);
        auto it = speedOf.find(plate);
        std::vector<std::string> got;
        if (it != speedOf.end())
            for (const Decision *d : it->second)
                got.push_back(outcome(*d));
        const int cites = static_cast<int>(std::count(got.begin(), got.end(), "cite"));
        std::string gotText;
        for (const std::string &g : got)
            gotText += (gotText.empty() ? "" : ",") + g;
        std::printf("speed %s %-22s truth %s\n", plate.c_str(),
                    gotText.empty() ? "(no decision)" : gotText.c_str(), join(want).c_str());
        if (cites > 1)
            f.problems.push_back(scenario + ": " + plate + " cited " + std::to_string(cites) +
                                 " times");
        if (it != speedOf.end())
            for (const Decision *d : it->second)
                if (outcome(*d) == "cite")
                    f.worstRadarTruthMph = std::max(
                            f.worstRadarTruthMph,
                            std::abs(d->speed->correctedSpeed - e["max_speed_mph"].get<double>()));
        if (cites > 0 && !want.count("cite"))
            f.problems.push_back(scenario + ": " + plate + " cited, truth implies " + join(want));
        if (want.count("cite") && cites != 1)
            f.problems.push_back(scenario + ": " + plate + " not cited (" + gotText + ")");
        if (checkSpeedReasons) {
            if (got.size() != 1)
                f.problems.push_back(scenario + ": " + plate + ": " + std::to_string(got.size()) +
                                     " speed decisions, one expected");
            else if (!want.count(got.front()))
                f.problems.push_back(scenario + ": " + plate + ": " + got.front() +
                                     ", truth implies " + join(want));
        }
    }
    if (run.verifyStatus != 0)
        f.problems.push_back(scenario + ": stopline-verify refused the records:\n" +
                             run.verifyOutput);
    const hil::IdentityCheck identity = hil::checkIdentity(run);
    for (const std::string &line : identity.lines)
        std::printf("identity %s\n", line.c_str());
    for (const std::string &p : identity.problems)
        f.problems.push_back(scenario + ": " + p);
    f.worstPhotoRadarMph = identity.worstPhotoRadarMph;
    f.radarChecks = run.radarChecks;
    f.sealedRadarChecks = run.sealedRadarChecks;
    for (const std::string &p : f.problems)
        std::printf("PROBLEM %s\n", p.c_str());
    run.finish(!f.problems.empty());
    return f;
}

std::string report(const Findings &f)
{
    std::string out;
    for (const std::string &p : f.problems)
        out += p + "; ";
    return out;
}

} /* namespace */

TEST_GROUP(EnforcementHil){};

TEST(EnforcementHil, faultAndStallOnsetsNeverCite)
{
    Findings f = check("enforce_faults.toml", false, false);
    CHECK(f.redVehicles >= 13);
    STRCMP_EQUAL("", report(f).c_str());
    std::printf("worst uncertainty: constant-speed runners %.1f ms\n", f.worstConstantMs);
}

TEST(EnforcementHil, turningBrakingAndCreepingVehiclesGetTheirReasonAndTime)
{
    Findings f = check("enforce_motion.toml", true, false);
    CHECK(f.redVehicles >= 11);
    STRCMP_EQUAL("", report(f).c_str());
    std::printf("worst uncertainty: constant-speed runners %.1f ms, right turns (rolling, and "
                "after a stop dated by the camera) %.1f ms, undated (stood on the loops) %.0f ms\n",
                f.worstConstantMs, f.worstTurningMs, f.worstUndatedMs);
}

/* An OPS243 of current firmware with a 20 degree cosine correction saved in flash: it
 * restarts (watchdog) while RST0002 is in the beam, coming back with 15 degrees in flash
 * (a changed saved setting), and later its stream switches to m/s while RST0004 is in the beam.
 * Neither pass is cited (radar_reset), each restart is a sealed Reset record followed by a passed,
 * sealed Recovery within kRecoveryS, the saved angle is found and cleared each time, and
 * the cited speeds before and after are the true ones within 0.5 mph. */
TEST(EnforcementHil, aRadarResetNeverCitesAndRecovers)
{
    using Kind = drivers::radar::RadarSelfCheck::Kind;
    Findings f = check("enforce_radar.toml", false, true);
    CHECK(f.speedVehicles >= 5);
    STRCMP_EQUAL("", report(f).c_str());
    std::vector<const drivers::radar::RadarSelfCheck *> resets, recoveries;
    for (const auto &c : f.radarChecks) {
        std::printf("radar check %d %s:", static_cast<int>(c.kind), c.passed ? "passed" : "FAILED");
        for (const auto &i : c.items)
            std::printf(" [%s %s: %s]", i.passed ? "ok" : "FAIL", i.name.c_str(), i.detail.c_str());
        std::printf("\n");
        if (c.kind == Kind::Reset)
            resets.push_back(&c);
        if (c.kind == Kind::Recovery)
            recoveries.push_back(&c);
    }
    LONGS_EQUAL(2, resets.size());
    LONGS_EQUAL(2, recoveries.size());
    const std::string first = resets[0]->item("reset_detected")->detail;
    const std::string second = resets[1]->item("reset_detected")->detail;
    CHECK_TEXT(first.find("a plain line while JSON output is set") != std::string::npos,
               first.c_str());
    CHECK_TEXT(second.find("a line in m-per-sec instead of mph") != std::string::npos,
               second.c_str());
    for (std::size_t i = 0; i < 2; ++i) {
        CHECK(recoveries[i]->passed);
        /* from the line that showed the restart to the end of the passed recovery check */
        const double took = double(recoveries[i]->at.seenNs - resets[i]->at.sampleNs) / kS;
        std::printf("reset %zu: recovered in %.2f s\n", i + 1, took);
        CHECK_TEXT(took > 0 && took <= kRecoveryS, std::to_string(took).c_str());
    }
    /* the flash-saved angle was found and cleared at power-on and after the restart */
    const std::string powerOn = f.radarChecks.at(0).item("settings")->detail;
    const std::string afterReset = recoveries[0]->item("settings")->detail;
    CHECK_TEXT(powerOn.find("cosine_found 20.00 in") != std::string::npos, powerOn.c_str());
    CHECK_TEXT(afterReset.find("cosine_found 15.00 in") != std::string::npos, afterReset.c_str());
    for (const std::string &s : {powerOn, afterReset})
        CHECK_TEXT(s.find("cosine_inbound 0.00") != std::string::npos, s.c_str());
    CHECK(std::count(f.sealedRadarChecks.begin(), f.sealedRadarChecks.end(), Kind::Reset) == 2);
    CHECK(std::count(f.sealedRadarChecks.begin(), f.sealedRadarChecks.end(), Kind::Recovery) == 2);
    std::printf("cited speeds vs truth: worst %.2f mph\n", f.worstRadarTruthMph);
    CHECK(f.worstRadarTruthMph <= 0.5);
}

TEST(EnforcementHil, radarGapsAndASharedBeamNeverCiteTwiceOrWrongly)
{
    Findings f = check("enforce_speed.toml", false, true);
    CHECK(f.speedVehicles >= 7);
    STRCMP_EQUAL("", report(f).c_str());
    std::printf("photo speed vs radar: worst %.2f mph\n", f.worstPhotoRadarMph);
}

namespace {

/* What became of each vehicle a rule cited: "cite" when sealed, else the refusal. */
std::map<std::string, std::string> citedOutcomes(const hil::RigRun &run)
{
    const Truth truth(run.truth);
    std::map<std::string, std::string> out;
    for (const auto &o : run.outcomes) {
        const Decision &d = o.decision;
        std::string plate;
        if (d.redLight) {
            Nanos best = 500 * kMs;
            for (const auto &[p, c] : truth.crossing)
                if (c["lane"].get<unsigned>() == d.redLight->lane &&
                    std::llabs(c["t_ns"].get<Nanos>() - d.eventNs) < best) {
                    best = std::llabs(c["t_ns"].get<Nanos>() - d.eventNs);
                    plate = p;
                }
        } else {
            for (const auto &[p, e] : truth.exit)
                if (e.contains("in_beam") &&
                    d.eventNs >= truth.t0 + e["in_beam"]["from_ns_rel"].get<Nanos>() - 300 * kMs &&
                    d.eventNs <= truth.t0 + e["in_beam"]["to_ns_rel"].get<Nanos>() + 300 * kMs)
                    plate += (plate.empty() ? "" : "+") + p;
        }
        out[plate.empty() ? "?" : plate] = o.result.refusal != Reason::None
                                                   ? reasonName(o.result.refusal)
                                           : o.result.ok() ? "cite"
                                                           : "failed: " + o.result.error;
    }
    return out;
}

/* Runs a scenario for identity: every sealed record must show its vehicle (checkIdentity),
 * and each listed vehicle must end as listed. */
std::string identityRun(const std::string &scenario,
                        const std::map<std::string, std::string> &expected,
                        const std::string &calibrateFrom = {})
{
    hil::RigConfig config = rigConfig(scenario, true);
    if (!calibrateFrom.empty())
        config.calibrationScenario = std::string(SCENARIO_DIR) + "/" + calibrateFrom;
    hil::RigRun run = hil::runRig(config, VERIFY_BIN);
    std::string problems;
    for (const std::string &p : run.setupProblems)
        problems += p + "; ";
    if (!run.ran)
        return problems;
    std::printf("\n== %s: red light %s | school zone %s\n", scenario.c_str(),
                run.redLightCounts.summary().c_str(), run.schoolZoneCounts.summary().c_str());
    const hil::IdentityCheck identity = hil::checkIdentity(run);
    for (const std::string &line : identity.lines)
        std::printf("identity %s\n", line.c_str());
    for (const std::string &p : identity.problems)
        problems += p + "; ";
    for (const auto &o : run.outcomes)
        if (!o.result.ok())
            std::printf("refused %s #%llu: %s\n", violationKindName(o.decision.kind),
                        static_cast<unsigned long long>(o.decision.id), o.result.error.c_str());
    const auto got = citedOutcomes(run);
    for (const auto &[plate, outcome] : got)
        std::printf("outcome %s: %s\n", plate.c_str(), outcome.c_str());
    for (const auto &[plate, want] : expected) {
        auto it = got.find(plate);
        const std::string have = it == got.end() ? "no citation attempted" : it->second;
        if (have != want)
            problems += plate + ": " + have + ", expected " + want + "; ";
    }
    if (run.verifyStatus != 0)
        problems += "stopline-verify refused the records; ";
    std::printf("photo speed vs radar: worst %.2f mph over %d speed records\n",
                identity.worstPhotoRadarMph, identity.speedRecords);
    run.finish(!problems.empty());
    return problems;
}

} /* namespace */

TEST_GROUP(IdentityHil){};

TEST(IdentityHil, demoRecordsShowTheAccusedVehicle)
{
    STRCMP_EQUAL("", identityRun("demo.toml", {{"4RUN808", "cite"},
                                               {"5KDR221", "cite"},
                                               {"7LTE909", "cite"},
                                               {"8XYZ789", "cite"},
                                               {"9FST321", "cite"},
                                               {"6MTR262", "cite"}})
                             .c_str());
}

TEST(IdentityHil, mixedTrafficRecordsShowTheAccusedVehicle)
{
    STRCMP_EQUAL("", identityRun("hil_mix.toml", {}).c_str());
}

TEST(IdentityHil, twoVehiclesAbreastInThePhotoZoneAreNotCited)
{
    STRCMP_EQUAL("", identityRun("identity_side_by_side.toml",
                                 {{"4TWIN11+4TWIN22", "identity_ambiguous"}, {"8SOLO41", "cite"}})
                             .c_str());
}

TEST(IdentityHil, aSpeederHiddenBehindATruckIsNotCited)
{
    /* The radar measured the speeder alone, but where the photographs should show it the
     * truck stands between it and the camera: the measured vehicle is not in view. */
    STRCMP_EQUAL("", identityRun("identity_hidden_by_truck.toml",
                                 {{"9HIDE44", "vehicle_not_in_view"}, {"7CLEAR9", "cite"}})
                             .c_str());
}

TEST(IdentityHil, aCameraKnockedOffItsAimCitesNobody)
{
    STRCMP_EQUAL("", identityRun("identity_camera_away.toml",
                                 {{"4RUNRED", "vehicle_not_in_view"},
                                  {"8FAST40", "vehicle_not_in_view"}},
                                 "demo.toml")
                             .c_str());
}

#include "sim/world.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

namespace stopline::sim {

namespace {

/* Long enough for any vehicle in a scenario to have waited out a red and left. */
constexpr double kPlanSlackS = 900;
/* Time after the last event before a scenario without duration_s ends. */
constexpr double kTailS = 2.0;

Nanos signalHorizon(const Scenario &sc, Nanos holdNs)
{
    double last = sc.durationS;
    if (last <= 0)
        for (const auto &v : sc.vehicles)
            last = std::max(last, std::max(v.arriveS, v.lineS.value_or(0)) + kPlanSlackS);
    return secondsToNanos(std::max(last, 60.0)) + holdNs;
}

class HeadView : public SignalView
{
public:
    HeadView(const SignalTimeline &timeline, std::string head)
        : timeline_(timeline), head_(std::move(head))
    {}
    bool redAt(double t) const override
    {
        return timeline_.phaseAt(head_, secondsToNanos(t)) == HeadPhase::Red;
    }
    bool greenAt(double t) const override
    {
        return timeline_.phaseAt(head_, secondsToNanos(t)) == HeadPhase::Green;
    }
    std::optional<double> nextGreen(double t) const override
    {
        auto g = timeline_.nextGreen(head_, secondsToNanos(t));
        if (!g)
            return std::nullopt;
        return nanosToSeconds(*g);
    }

private:
    const SignalTimeline &timeline_;
    std::string head_;
};

std::string fmt(double v, int decimals = 2)
{
    std::ostringstream os;
    os.setf(std::ios::fixed);
    os.precision(decimals);
    os << v;
    return os.str();
}

double round3(double v)
{
    return std::round(v * 1000) / 1000;
}
double round6(double v)
{
    return std::round(v * 1e6) / 1e6;
}

bool inAny(const std::vector<Window> &windows, Nanos t)
{
    for (const auto &w : windows)
        if (t >= secondsToNanos(w.startS) && t < secondsToNanos(w.endS))
            return true;
    return false;
}

} /* namespace */

double classMagnitude(VehicleClass cls)
{
    switch (cls) {
    case VehicleClass::Car:
        return 900;
    case VehicleClass::Suv:
        return 1100;
    case VehicleClass::Truck:
        return 2500;
    case VehicleClass::Bus:
        return 3000;
    case VehicleClass::Motorcycle:
        return 300;
    }
    return 900;
}

World::World(Scenario scenario, Nanos holdNs)
    : scenario_(std::move(scenario)),
      signal_(scenario_.signal, scenario_.faults.signal, signalHorizon(scenario_, holdNs))
{
    resolveArrivals();
    planVehicles();

    double end = scenario_.durationS;
    if (end <= 0) {
        end = 5;
        for (const auto &v : vehicles_)
            end = std::max(end, v.exitTime + kTailS);
        for (const auto &b : scenario_.beacons)
            for (const auto &w : b.windows)
                end = std::max(end, w.endS + kTailS);
        auto windows = [&](const std::vector<Window> &ws) {
            for (const auto &w : ws)
                end = std::max(end, w.endS + kTailS);
        };
        windows(scenario_.faults.radarSilence);
        windows(scenario_.faults.cameraStall);
        for (const auto &f : scenario_.faults.radarGarbage)
            end = std::max(end, f.window.endS + kTailS);
        for (const auto &f : scenario_.faults.gpioChatter)
            end = std::max(end, f.window.endS + kTailS);
        for (const auto &f : scenario_.faults.signal)
            end = std::max(end, f.window.endS + kTailS);
        scenario_.durationS = end;
    }
    endNs_ = secondsToNanos(end);
    horizonNs_ = endNs_ + holdNs;
    for (const auto &v : vehicles_)
        if (v.exitTime > end)
            warnings_.push_back("vehicle " + std::to_string(v.spec.id) +
                                " is still on the road when the scenario ends at " + fmt(end) +
                                " s");
    for (const auto &w : scenario_.warnings)
        warnings_.push_back(w);

    buildLines();
    buildEdges();
    buildTruth();
    checkSpacing();
}

void World::resolveArrivals()
{
    std::vector<std::string> problems;
    for (auto &v : scenario_.vehicles) {
        if (!v.lineS)
            continue;
        const ApproachSpec *a = scenario_.findApproach(v.approach);
        bool turning = v.behaviour == Behaviour::RightTurnRolling ||
                       v.behaviour == Behaviour::RightTurnAfterStop;
        Path path(*a, v.lane, turning);
        Trajectory free = freeFlow(v, 0, path.endS());
        double toLine = free.timeAt(path.lineS()).value_or(0);
        v.arriveS = *v.lineS - toLine;
        if (v.arriveS < -1e-9)
            problems.push_back(scenario_.source + ": vehicle " + std::to_string(v.id) +
                               ": line_s = " + fmt(*v.lineS) + " is too early: it needs " +
                               fmt(toLine) + " s from the start of approach \"" + a->name +
                               "\" to the stop line");
        v.arriveS = std::max(0.0, v.arriveS);
    }
    if (!problems.empty())
        throw ScenarioError(problems);
}

void World::planVehicles()
{
    for (const auto &v : scenario_.vehicles) {
        const ApproachSpec *a = scenario_.findApproach(v.approach);
        std::optional<HeadView> view;
        if (!a->head.empty())
            view.emplace(signal_, a->head);
        vehicles_.push_back(planVehicle(v, *a, view ? &*view : nullptr));
        const VehiclePlan &p = vehicles_.back();
        if (v.behaviour == Behaviour::RunsRed && view && p.crossTime && !view->redAt(*p.crossTime))
            warnings_.push_back("vehicle " + std::to_string(v.id) +
                                " (runs_red) crosses the stop line at " + fmt(*p.crossTime) +
                                " s, when the signal is not red");
    }
    std::sort(vehicles_.begin(), vehicles_.end(), [](const VehiclePlan &x, const VehiclePlan &y) {
        return x.spec.arriveS < y.spec.arriveS ||
               (x.spec.arriveS == y.spec.arriveS && x.spec.id < y.spec.id);
    });
}

void World::buildLines()
{
    auto add = [&](const std::string &name) {
        lines_.push_back({static_cast<unsigned>(lines_.size()), name, false});
    };
    for (const auto &h : scenario_.signal.heads) {
        add(h.redLine);
        add(h.yellowLine);
        add(h.greenLine);
    }
    for (const auto &a : scenario_.approaches)
        for (const auto &l : a.lanes) {
            if (l.entryLoop)
                add(l.entryLoop->line);
            if (l.exitLoop)
                add(l.exitLoop->line);
        }
    for (const auto &b : scenario_.beacons)
        add(b.line);
}

void World::buildEdges()
{
    std::map<std::string, unsigned> offsets;
    for (const auto &l : lines_)
        offsets[l.name] = l.offset;
    /* Level changes per line before chatter: (time, level). */
    std::vector<std::vector<std::pair<Nanos, bool>>> base(lines_.size());

    for (const auto &h : scenario_.signal.heads) {
        const auto &changes = signal_.lampChanges(h.name);
        unsigned red = offsets[h.redLine], yellow = offsets[h.yellowLine],
                 green = offsets[h.greenLine];
        for (const auto &c : changes) {
            base[red].push_back({c.at, (c.lamps & kLampRed) != 0});
            base[yellow].push_back({c.at, (c.lamps & kLampYellow) != 0});
            base[green].push_back({c.at, (c.lamps & kLampGreen) != 0});
        }
    }

    /* Loops: a loop is occupied while any part of a vehicle is over it. */
    for (const auto &a : scenario_.approaches)
        for (const auto &lane : a.lanes) {
            for (int exit = 0; exit < 2; ++exit) {
                const auto &loop = exit ? lane.exitLoop : lane.entryLoop;
                if (!loop)
                    continue;
                double from = exit ? loop->distanceM : -loop->distanceM - loop->lengthM;
                double to = from + loop->lengthM;
                std::vector<std::pair<Nanos, Nanos>> spans;
                for (const auto &v : vehicles_) {
                    if (v.spec.approach != a.name || v.spec.lane != lane.number)
                        continue;
                    double sFrom = from + v.path.lineS();
                    double sTo = to + v.path.lineS() + v.spec.lengthM;
                    if (v.path.rightTurn() && sFrom >= v.path.straightEndS())
                        continue; /* turned away before reaching it */
                    auto on = v.motion.timeAt(sFrom);
                    if (!on)
                        continue;
                    auto off = v.motion.timeAt(sTo);
                    spans.push_back(
                            {secondsToNanos(*on), off ? secondsToNanos(*off) : horizonNs_ + 1});
                }
                std::sort(spans.begin(), spans.end());
                auto &out = base[offsets[loop->line]];
                Nanos curOn = 0, curOff = -1;
                for (const auto &[on, off] : spans) {
                    if (curOff >= 0 && on <= curOff) {
                        curOff = std::max(curOff, off);
                        continue;
                    }
                    if (curOff >= 0) {
                        out.push_back({curOn, true});
                        out.push_back({curOff, false});
                    }
                    curOn = on;
                    curOff = off;
                }
                if (curOff >= 0) {
                    out.push_back({curOn, true});
                    out.push_back({curOff, false});
                }
            }
        }

    for (const auto &b : scenario_.beacons) {
        auto &out = base[offsets[b.line]];
        for (const auto &w : b.windows) {
            Nanos s = secondsToNanos(w.startS), e = secondsToNanos(w.endS);
            Nanos period = secondsToNanos(b.periodS);
            Nanos on = secondsToNanos(b.periodS * b.onFraction);
            for (Nanos t = s; t < e; t += period) {
                out.push_back({t, true});
                out.push_back({std::min(t + on, e), false});
            }
        }
    }

    /* Chatter pulses invert the line for pulse_us, `rate_hz` times a second; the
     * output is the planned level XOR "inside a pulse". */
    std::vector<std::vector<std::pair<Nanos, bool>>> pulses(lines_.size());
    for (const auto &c : scenario_.faults.gpioChatter) {
        auto &out = pulses[offsets[c.line]];
        Nanos width = secondsToNanos(c.pulseUs * 1e-6);
        Nanos end = secondsToNanos(c.window.endS);
        Nanos burst = secondsToNanos(c.burstS), every = secondsToNanos(c.everyS);
        Nanos begin = secondsToNanos(c.window.startS);
        for (long k = 0;; ++k) {
            Nanos s = secondsToNanos(c.window.startS + k / c.rateHz);
            if (s >= end)
                break;
            if (burst > 0 && (s - begin) % every >= burst)
                continue;
            if (s <= 0)
                continue; /* the level at the start is the true one, not a glitch */
            out.push_back({s, true});
            out.push_back({s + width, false});
        }
    }

    for (auto &l : lines_) {
        auto &b = base[l.offset];
        auto &p = pulses[l.offset];
        std::stable_sort(b.begin(), b.end(),
                         [](const auto &x, const auto &y) { return x.first < y.first; });
        std::sort(p.begin(), p.end());
        /* Sweep both lists in time; at each instant apply everything due, then emit
         * one edge if the output level changed. */
        bool level = false, inPulse = false, out = false, initialSet = false;
        std::size_t i = 0, j = 0;
        while (i < b.size() || j < p.size()) {
            Nanos t = std::min(i < b.size() ? b[i].first : INT64_MAX,
                               j < p.size() ? p[j].first : INT64_MAX);
            while (i < b.size() && b[i].first == t)
                level = b[i++].second;
            while (j < p.size() && p[j].first == t)
                inPulse = p[j++].second;
            bool now = level != inPulse;
            if (t <= 0) {
                out = now;
                l.initial = now;
                initialSet = true;
                continue;
            }
            if (t > horizonNs_)
                break;
            if (!initialSet) {
                l.initial = false;
                initialSet = true;
            }
            if (now != out) {
                edges_.push_back({t, l.offset, now});
                out = now;
            }
        }
    }
    std::sort(edges_.begin(), edges_.end(), [](const GpioEdgeEvent &x, const GpioEdgeEvent &y) {
        if (x.at != y.at)
            return x.at < y.at;
        if (x.rising != y.rising)
            return !x.rising; /* lamps go dark before the next one lights */
        return x.offset < y.offset;
    });
}

std::optional<std::pair<double, double>> World::beamSpan(const VehiclePlan &plan) const
{
    if (!scenario_.radar || scenario_.radar->approach != plan.spec.approach)
        return std::nullopt;
    const RadarSpec &r = *scenario_.radar;
    double lo, hi;
    if (r.facingInbound) {
        lo = plan.path.lineS() + r.positionM - r.rangeMaxM;
        hi = plan.path.lineS() + r.positionM - r.rangeMinM;
    } else {
        lo = plan.path.lineS() + r.positionM + r.rangeMinM + plan.spec.lengthM;
        hi = plan.path.lineS() + r.positionM + r.rangeMaxM + plan.spec.lengthM;
    }
    lo = std::max(lo, 0.0);
    hi = std::min(hi, plan.path.straightEndS());
    if (hi <= lo)
        return std::nullopt;
    return std::make_pair(lo, hi);
}

void World::buildTruth()
{
    auto add = [&](Nanos at, Json rec) {
        if (at <= horizonNs_)
            truth_.push_back({at, std::move(rec)});
    };

    for (const auto &h : scenario_.signal.heads) {
        const auto &list = signal_.intervals(h.name);
        const PhaseInterval &first = signal_.intervalAt(h.name, 0);
        add(0, Json{{"type", "phase"},
                    {"head", h.name},
                    {"phase", headPhaseName(first.phase)},
                    {"initial", true},
                    {"since_s", round6(nanosToSeconds(first.start))}});
        for (std::size_t i = 1; i < list.size(); ++i) {
            if (list[i].start <= 0)
                continue;
            const PhaseInterval &prev = list[i - 1];
            add(list[i].start,
                Json{{"type", "phase"},
                     {"head", h.name},
                     {"phase", headPhaseName(list[i].phase)},
                     {"previous", headPhaseName(prev.phase)},
                     {"previous_duration_s", round6(nanosToSeconds(prev.end - prev.start))},
                     {"shown", signal_.faultAt(h.name, list[i].start) == nullptr}});
        }
    }
    for (const auto &f : scenario_.faults.signal) {
        for (int active = 1; active >= 0; --active)
            add(secondsToNanos(active ? f.window.startS : f.window.endS),
                Json{{"type", "signal_fault"},
                     {"head", f.head},
                     {"kind", signalFaultName(f.kind)},
                     {"active", active == 1}});
    }
    for (const auto &b : scenario_.beacons)
        for (const auto &w : b.windows)
            for (int active = 1; active >= 0; --active)
                add(secondsToNanos(active ? w.startS : w.endS),
                    Json{{"type", "beacon"}, {"beacon", b.name}, {"active", active == 1}});
    auto faultWindows = [&](const char *kind, const Window &w, Json extra) {
        for (int active = 1; active >= 0; --active) {
            Json rec{{"type", "fault"}, {"kind", kind}, {"active", active == 1}};
            for (auto &[k, v] : extra.items())
                rec[k] = v;
            add(secondsToNanos(active ? w.startS : w.endS), rec);
        }
    };
    for (const auto &f : scenario_.faults.radarGarbage)
        faultWindows("radar_garbage", f.window, Json{{"rate_hz", f.rateHz}});
    for (const auto &w : scenario_.faults.radarSilence)
        faultWindows("radar_silence", w, Json::object());
    for (const auto &w : scenario_.faults.cameraStall)
        faultWindows("camera_stall", w, Json::object());
    for (const auto &f : scenario_.faults.radarReset) {
        Json extra{{"cause", f.cause}};
        if (f.flashCosineDeg)
            extra["flash_cosine_deg"] = *f.flashCosineDeg;
        faultWindows("radar_reset", Window{f.atS, f.atS + f.bootS}, extra);
    }
    for (const auto &f : scenario_.faults.radarUnits)
        add(secondsToNanos(f.atS),
            Json{{"type", "fault"}, {"kind", "radar_units"}, {"active", true}, {"units", f.units}});
    for (const auto &c : scenario_.faults.gpioChatter)
        faultWindows("gpio_chatter", c.window,
                     Json{{"line", c.line},
                          {"rate_hz", c.rateHz},
                          {"pulse_us", c.pulseUs},
                          {"burst_s", c.burstS},
                          {"every_s", c.everyS}});

    for (const auto &v : vehicles_) {
        const VehicleSpec &s = v.spec;
        const ApproachSpec *a = scenario_.findApproach(s.approach);
        Json id{{"vehicle", s.id}, {"plate", s.plate}};
        Json enter = id;
        enter["type"] = "vehicle_enter";
        enter["class"] = vehicleClassName(s.cls);
        enter["behaviour"] = behaviourName(s.behaviour);
        enter["approach"] = s.approach;
        enter["lane"] = s.lane;
        enter["speed_mph"] = round3(s.speedMph);
        enter["length_m"] = s.lengthM;
        add(secondsToNanos(s.arriveS), enter);

        if (v.stopTime) {
            Json rec = id;
            rec["type"] = "vehicle_stop";
            rec["x_m"] = round3(v.motion.positionAt(*v.stopTime) - v.path.lineS());
            add(secondsToNanos(*v.stopTime), rec);
        }
        if (v.goTime) {
            Json rec = id;
            rec["type"] = "vehicle_go";
            add(secondsToNanos(*v.goTime), rec);
        }

        Json crossing = Json::object();
        if (v.crossTime) {
            Nanos tc = secondsToNanos(*v.crossTime);
            Json rec = id;
            rec["type"] = "crossing";
            rec["approach"] = s.approach;
            rec["lane"] = s.lane;
            rec["class"] = vehicleClassName(s.cls);
            rec["behaviour"] = behaviourName(s.behaviour);
            rec["speed_mph"] = round3(mpsToMph(v.motion.speedAt(*v.crossTime)));
            rec["stopped_before_line"] = v.stopTime && *v.stopTime <= *v.crossTime;
            rec["right_turn"] = v.path.rightTurn();
            if (!a->head.empty()) {
                const PhaseInterval &iv = signal_.intervalAt(a->head, tc);
                rec["head"] = a->head;
                rec["phase"] = headPhaseName(iv.phase);
                if (iv.phase == HeadPhase::Red) {
                    rec["time_into_red_s"] = round6(nanosToSeconds(tc - iv.start));
                    rec["time_into_red_ns"] = tc - iv.start;
                    const PhaseInterval &yellow = signal_.intervalAt(a->head, iv.start - 1);
                    if (yellow.phase == HeadPhase::Yellow)
                        rec["yellow_s"] = round6(nanosToSeconds(yellow.end - yellow.start));
                } else {
                    rec["time_into_red_s"] = nullptr;
                }
                if (iv.phase == HeadPhase::Yellow)
                    rec["time_into_yellow_s"] = round6(nanosToSeconds(tc - iv.start));
                rec["signal_fault"] = signal_.faultAt(a->head, tc) != nullptr;
            } else {
                rec["phase"] = nullptr;
            }
            crossing = rec;
            add(tc, rec);
        }

        /* Loop occupancy by this vehicle (the GPIO line is the union over vehicles). */
        const LaneSpec &lane = a->lanes[s.lane - 1];
        for (int exit = 0; exit < 2; ++exit) {
            const auto &loop = exit ? lane.exitLoop : lane.entryLoop;
            if (!loop)
                continue;
            double from = exit ? loop->distanceM : -loop->distanceM - loop->lengthM;
            double sFrom = from + v.path.lineS();
            double sTo = from + loop->lengthM + v.path.lineS() + s.lengthM;
            if (v.path.rightTurn() && sFrom >= v.path.straightEndS())
                continue;
            auto on = v.motion.timeAt(sFrom);
            auto off = v.motion.timeAt(sTo);
            for (int occupied = 1; occupied >= 0; --occupied) {
                auto t = occupied ? on : off;
                if (!t)
                    continue;
                Json rec = id;
                rec["type"] = "loop";
                rec["loop"] = loop->line;
                rec["occupied"] = occupied == 1;
                add(secondsToNanos(*t), rec);
            }
        }

        Json done = id;
        done["type"] = "vehicle_exit";
        done["behaviour"] = behaviourName(s.behaviour);
        done["approach"] = s.approach;
        done["lane"] = s.lane;
        double maxMph = 0;
        for (double t = s.arriveS; t <= v.exitTime; t += 0.01)
            maxMph = std::max(maxMph, mpsToMph(v.motion.speedAt(t)));
        done["max_speed_mph"] = round3(maxMph);
        done["crossing"] = crossing;
        if (auto span = beamSpan(v)) {
            auto t0 = v.motion.timeAt(span->first);
            auto t1 = v.motion.timeAt(span->second);
            if (t0) {
                double end = t1.value_or(v.exitTime);
                double lo = 1e9, hi = 0;
                for (double t = *t0; t <= end; t += 0.01) {
                    double mph = mpsToMph(v.motion.speedAt(t));
                    lo = std::min(lo, mph);
                    hi = std::max(hi, mph);
                }
                int covered = 0, samples = 0;
                for (double t = *t0; t <= end; t += 0.05, ++samples)
                    for (const auto &b : scenario_.beacons)
                        if (inAny(b.windows, secondsToNanos(t))) {
                            ++covered;
                            break;
                        }
                done["in_beam"] =
                        Json{{"from_ns_rel", secondsToNanos(*t0)},
                             {"to_ns_rel", secondsToNanos(end)},
                             {"min_speed_mph", round3(lo)},
                             {"max_speed_mph", round3(hi)},
                             {"beacon_active",
                              covered == 0 ? "none" : (covered == samples ? "all" : "some")}};
            }
        }
        add(secondsToNanos(v.exitTime), done);
    }

    std::stable_sort(truth_.begin(), truth_.end(),
                     [](const TruthRecord &x, const TruthRecord &y) { return x.at < y.at; });
}

void World::checkSpacing()
{
    for (std::size_t i = 0; i < vehicles_.size(); ++i)
        for (std::size_t j = i + 1; j < vehicles_.size(); ++j) {
            const VehiclePlan &a = vehicles_[i], &b = vehicles_[j];
            if (a.spec.approach != b.spec.approach || a.spec.lane != b.spec.lane)
                continue;
            double from = std::max(a.spec.arriveS, b.spec.arriveS);
            double to = std::min(a.exitTime, b.exitTime);
            for (double t = from; t <= to; t += 0.05) {
                double sa = a.motion.positionAt(t), sb = b.motion.positionAt(t);
                if (sa > a.path.straightEndS() || sb > b.path.straightEndS())
                    continue;
                const VehiclePlan &lead = sa >= sb ? a : b;
                double gap = std::abs(sa - sb) - lead.spec.lengthM;
                if (gap < 0) {
                    warnings_.push_back("vehicles " + std::to_string(a.spec.id) + " and " +
                                        std::to_string(b.spec.id) + " overlap in lane " +
                                        std::to_string(a.spec.lane) + " of approach " +
                                        a.spec.approach + " at " + fmt(t) +
                                        " s (vehicles do not follow each other; space them)");
                    break;
                }
            }
        }
}

std::vector<RadarReturn> World::radarReturns(Nanos t) const
{
    std::vector<RadarReturn> out;
    if (!scenario_.radar)
        return out;
    const RadarSpec &r = *scenario_.radar;
    double ts = nanosToSeconds(t);
    double cosA = std::cos(r.angleDeg * M_PI / 180);
    for (const auto &v : vehicles_) {
        if (ts < v.spec.arriveS || ts > v.exitTime)
            continue;
        auto span = beamSpan(v);
        if (!span)
            continue;
        double s = v.motion.positionAt(ts);
        if (s < span->first || s > span->second)
            continue;
        double x = s - v.path.lineS();
        double along = r.facingInbound ? r.positionM - x : (x - v.spec.lengthM) - r.positionM;
        RadarReturn ret;
        ret.vehicle = v.spec.id;
        ret.plate = v.spec.plate;
        ret.pathMps = v.motion.speedAt(ts);
        ret.losMps = ret.pathMps * cosA * (r.facingInbound ? 1 : -1);
        ret.rangeM = std::hypot(along, r.offsetM);
        double k = 25.0 / std::max(ret.rangeM, 5.0);
        ret.magnitude = classMagnitude(v.spec.cls) * k * k;
        out.push_back(ret);
    }
    std::sort(out.begin(), out.end(),
              [](const RadarReturn &x, const RadarReturn &y) { return x.magnitude > y.magnitude; });
    return out;
}

Scene World::sceneAt(Nanos t) const
{
    Scene scene;
    scene.at = t;
    double ts = nanosToSeconds(t);
    for (const auto &h : scenario_.signal.heads)
        scene.lamps.push_back({h.name, signal_.lampsAt(h.name, t)});
    if (!scenario_.camera)
        return scene;
    for (const auto &v : vehicles_) {
        if (v.spec.approach != scenario_.camera->approach)
            continue;
        if (ts < v.spec.arriveS || ts > v.exitTime)
            continue;
        double s = v.motion.positionAt(ts);
        scene.vehicles.push_back({&v, v.path.poseAt(s), v.motion.speedAt(ts)});
    }
    return scene;
}

bool World::radarSilent(Nanos t) const
{
    return inAny(scenario_.faults.radarSilence, t);
}

double World::radarGarbageRate(Nanos t) const
{
    double rate = 0;
    for (const auto &f : scenario_.faults.radarGarbage)
        if (t >= secondsToNanos(f.window.startS) && t < secondsToNanos(f.window.endS))
            rate += f.rateHz;
    return rate;
}

bool World::cameraStalled(Nanos t) const
{
    return inAny(scenario_.faults.cameraStall, t);
}

} /* namespace stopline::sim */

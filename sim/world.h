#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hal/time.h"
#include "sim/kinematics.h"
#include "sim/scenario.h"
#include "sim/signal_plan.h"

/* Everything that happens in a scenario, worked out before the clock starts: the GPIO
 * edges of every line, the ground-truth records of every event, and the positions of
 * every vehicle at any moment (for the radar and the camera). Precomputing keeps the
 * real-time part trivial (send what is due) and makes the truth exact: the time a
 * record carries is the time the edge is stamped with, to the nanosecond. All times
 * are nanoseconds from the scenario start. */
namespace stopline::sim {

using Json = nlohmann::ordered_json;

struct GpioLineInfo
{
    unsigned offset = 0;
    std::string name;
    bool initial = false; /* level at the scenario start */
};

struct GpioEdgeEvent
{
    Nanos at = 0;
    unsigned offset = 0;
    bool rising = false;
};

/* One ground-truth record; the runner adds the absolute timestamps when it writes it. */
struct TruthRecord
{
    Nanos at = 0;
    Json record;
};

/* A vehicle the radar's beam sees, with its true motion. */
struct RadarReturn
{
    unsigned vehicle = 0;
    std::string plate;
    double pathMps = 0; /* true speed along the road */
    double losMps = 0;  /* along the beam: true * cos(angle), positive inbound */
    double rangeM = 0;
    double magnitude = 0;
};

struct SceneVehicle
{
    const VehiclePlan *plan = nullptr;
    Pose pose;
    double speedMps = 0;
};

/* What the camera sees at one moment. */
struct Scene
{
    Nanos at = 0;
    std::vector<SceneVehicle> vehicles;                      /* on the camera's approach */
    std::vector<std::pair<std::string, std::uint8_t>> lamps; /* per head, as shown */
};

class World
{
public:
    /* Throws ScenarioError for what only the kinematics reveal (a vehicle told to reach
     * the line before it could). `holdNs` extends the signal plan past the scenario's
     * end for runs that keep serving (--hold). */
    explicit World(Scenario scenario, Nanos holdNs = 0);

    const Scenario &scenario() const { return scenario_; }
    Nanos endNs() const { return endNs_; }
    Nanos horizonNs() const { return horizonNs_; }

    const std::vector<GpioLineInfo> &lines() const { return lines_; }
    const std::vector<GpioEdgeEvent> &edges() const { return edges_; }
    const std::vector<TruthRecord> &truth() const { return truth_; }
    const std::vector<VehiclePlan> &vehicles() const { return vehicles_; }
    const SignalTimeline &signal() const { return signal_; }
    const std::vector<std::string> &warnings() const { return warnings_; }

    /* Vehicles in the radar's beam at t, strongest first; empty without a radar. */
    std::vector<RadarReturn> radarReturns(Nanos t) const;
    Scene sceneAt(Nanos t) const;

    bool radarSilent(Nanos t) const;
    /* Garbage lines per second at t (0: none). */
    double radarGarbageRate(Nanos t) const;
    bool cameraStalled(Nanos t) const;

    /* The path range [from, to] over which a vehicle is in the beam, if it ever is. */
    std::optional<std::pair<double, double>> beamSpan(const VehiclePlan &plan) const;

private:
    void resolveArrivals();
    void planVehicles();
    void buildLines();
    void buildEdges();
    void buildTruth();
    void checkSpacing();

    Scenario scenario_;
    Nanos endNs_ = 0;
    Nanos horizonNs_ = 0;
    SignalTimeline signal_;
    std::vector<VehiclePlan> vehicles_;
    std::vector<GpioLineInfo> lines_;
    std::vector<GpioEdgeEvent> edges_;
    std::vector<TruthRecord> truth_;
    std::vector<std::string> warnings_;
};

/* Typical radar cross-section of a class, as the OPS243 magnitude at 25 m. */
double classMagnitude(VehicleClass cls);

} /* namespace stopline::sim */

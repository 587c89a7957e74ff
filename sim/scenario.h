#pragma once

#include <array>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

/* The scenario a simulator run plays (sim/README.md documents every key). Loaded from
 * TOML and validated up front, so a typo in a test's scenario is an error naming the key
 * and line instead of a simulation that quietly does something else. Distances are
 * metres, speeds mph (as scenarios are written by people), times seconds from the start
 * of the scenario. */
namespace stopline::sim {

/* Every problem found in a scenario, each as "file:line:col: key: what is wrong". */
class ScenarioError : public std::runtime_error
{
public:
    explicit ScenarioError(std::vector<std::string> problems);
    const std::vector<std::string> &problems() const { return problems_; }

private:
    std::vector<std::string> problems_;
};

enum class Behaviour { Stops, RunsRed, RightTurnRolling, RightTurnAfterStop, Speeds, Complies };
enum class VehicleClass { Car, Suv, Truck, Bus, Motorcycle };
enum class SignalFaultKind { Stuck, Dark, FlashingRed, FlashingYellow, Conflict };
enum class RadarOutput { Plain, Json };
/* Which firmware's replies the emulated OPS243 gives: the 2018-19 releases (1.3.x,
 * AN-010-J / UM-003-A: {"Units":"mph"}, {"OutputFeature":"J"}) or the current ones
 * ({"SpeedUnit":"mph"}, {"SpeedOutputFeature":"J"}, cosine correction kept in flash). */
enum class RadarFirmware { Gen2019, Gen2025 };

const char *behaviourName(Behaviour behaviour);
const char *vehicleClassName(VehicleClass cls);
const char *signalFaultName(SignalFaultKind kind);

struct Window
{
    double startS = 0;
    double endS = 0;
    bool contains(double t) const { return t >= startS && t < endS; }
};

struct HeadSpec
{
    std::string name;
    std::string redLine;
    std::string yellowLine;
    std::string greenLine;
};

/* One phase of the ring: its heads show green, then yellow, then every head shows red
 * for the all-red interval. */
struct PhaseSpec
{
    std::vector<std::string> heads;
    double greenS = 0;
    double yellowS = 0;
    double allRedS = 0;
};

/* A one-off change of one phase in one cycle (1-based), e.g. a short yellow. */
struct PhaseOverride
{
    unsigned cycle = 1;
    unsigned phase = 1;
    std::optional<double> greenS;
    std::optional<double> yellowS;
    std::optional<double> allRedS;
};

struct SignalSpec
{
    std::vector<HeadSpec> heads;
    std::vector<PhaseSpec> phases;
    double offsetS = 0; /* how far into the cycle the scenario starts */
    std::vector<PhaseOverride> overrides;
    double cycleS() const;
};

/* A loop detector in a lane. For an entry loop `distanceM` is how far before the stop
 * line its downstream edge lies; for an exit loop how far after the line its upstream
 * edge lies. */
struct LoopSpec
{
    std::string line;
    double distanceM = 0;
    double lengthM = 1.8;
};

struct LaneSpec
{
    unsigned number = 1; /* 1 = kerb (rightmost) lane */
    bool rightTurn = false;
    std::optional<LoopSpec> entryLoop;
    std::optional<LoopSpec> exitLoop;
};

struct ApproachSpec
{
    std::string name;
    std::string head;     /* empty: no signal on this approach */
    double lengthM = 150; /* where vehicles appear, before the stop line */
    double exitM = 40;    /* where through vehicles leave, after the stop line */
    double speedLimitMph = 30;
    double laneWidthM = 3.6;
    double rightTurnStartM = 3; /* right-turners go straight this far past the line */
    double turnRadiusM = 9;
    double crossStreetM = 18; /* width of the cross street, drawn by the renderer */
    std::vector<LaneSpec> lanes;
};

struct BeaconSpec
{
    std::string name;
    std::string line;
    double periodS = 1.0;
    double onFraction = 0.5;
    std::vector<Window> windows;
};

struct RadarSpec
{
    std::string approach;
    double positionM = 0; /* along the direction of travel from the stop line (negative: before) */
    bool facingInbound = true; /* looks at oncoming traffic: positive speeds */
    double angleDeg = 0;       /* cosine angle between beam and travel direction */
    double offsetM = 0;        /* lateral offset from the lanes, for the reported range only */
    double rangeMinM = 3;
    double rangeMaxM = 80;
    std::optional<double> reportHz; /* default: sample rate / buffer size, as the sensor */
    double minSpeedMph = 0.5;       /* slower targets are below the sensor's clutter floor */
    double noiseMph = 0;            /* standard deviation of added noise */
    double frequencyGhz = 24.125;
    std::string product = "OPS243";
    std::string version = "1.3.1";
    std::string build = "20181005_1335";
    std::string uid = "b2000040b7a12400d5188041";
    /* power-on settings (the driver normally changes them) */
    std::string units = "mps";
    RadarOutput output = RadarOutput::Plain;
    bool jsonNumbers = false; /* JSON values as numbers instead of quoted strings */
    int decimals = 2;
    int targets = 1;
    bool magnitude = false;
    bool time = false;
    RadarFirmware firmware = RadarFirmware::Gen2019;
    /* Settings saved in the sensor's flash (A!), in force at every power-on: an inbound
     * cosine correction angle (current firmware only) and zero-fill reporting (BZ). */
    double flashCosineDeg = 0;
    bool flashZeroFill = false;
};

struct CameraSpec
{
    std::string id = "sim0";
    std::string approach;
    int width = 1280;
    int height = 720;
    double fps = 30;
    double positionM = -16; /* along the approach (negative: before the stop line) */
    std::optional<double>
            lateralM; /* from the kerb, to the left; default: over the lanes' middle */
    double heightM = 4.0;
    double pitchDeg = 12; /* down from the horizon */
    double yawDeg = 0;    /* left of the direction of travel */
    double hfovDeg = 28;
    int plateMinPx = 16; /* narrower plates are not reported as visible in the truth */
};

struct SpeedPoint
{
    double tS = 0; /* seconds after the vehicle appears */
    double mph = 0;
};

struct VehicleSpec
{
    unsigned id = 0;
    std::string plate;
    VehicleClass cls = VehicleClass::Car;
    std::string approach;
    unsigned lane = 1;
    double arriveS = 0; /* when it appears at the start of the approach */
    /* alternatively: when it would reach the stop line driving its profile undisturbed
     * (resolved into arriveS when the world is built) */
    std::optional<double> lineS;
    double speedMph = 30;
    std::vector<SpeedPoint> profile;
    Behaviour behaviour = Behaviour::Complies;
    double lengthM = 0; /* 0 before defaults are applied */
    double widthM = 0;
    double heightM = 0;
    std::array<int, 3> colorBgr{0, 0, 0};
    double stopS = 2.0;     /* dwell at the line for stops / right_turn_after_stop */
    double stopGapM = 0.5;  /* front bumper to stop line when stopped (negative: over it) */
    double turnMph = 10;    /* speed through a right turn */
    double decelMps2 = 3.0; /* comfortable braking */
    double accelMps2 = 2.0;
    double reactionS = 0.8; /* from green to moving off */
};

struct ChatterFault
{
    std::string line;
    double rateHz = 1000;
    double pulseUs = 50;
    /* Bursts: chatter for burstS out of every everyS (burstS 0: continuously). */
    double burstS = 0;
    double everyS = 1;
    Window window;
};

struct SignalFault
{
    std::string head;
    SignalFaultKind kind = SignalFaultKind::Stuck;
    Window window;
};

struct RadarGarbageFault
{
    double rateHz = 5;
    Window window;
};

/* The sensor restarts (its watchdog, a brown-out): silent for bootS, then back in its
 * power-on settings with its clock from zero; optionally with a flash setting changed. */
struct RadarResetFault
{
    double atS = 0;
    std::string cause = "watchdog"; /* watchdog, brownout, power */
    double bootS = 0.5;
    std::optional<double> flashCosineDeg;
};

/* The stream changes unit without a reset (someone on the port, a firmware fault). */
struct RadarUnitsFault
{
    double atS = 0;
    std::string units = "mps";
};

struct FaultSpec
{
    std::vector<RadarResetFault> radarReset;
    std::vector<RadarUnitsFault> radarUnits;
    std::vector<RadarGarbageFault> radarGarbage;
    std::vector<Window> radarSilence;
    std::vector<ChatterFault> gpioChatter;
    std::vector<SignalFault> signal;
    std::vector<Window> cameraStall;
};

struct Scenario
{
    std::string name;
    std::string description;
    std::string source;   /* file the scenario came from, for messages */
    double durationS = 0; /* 0 before defaults: until the last vehicle has left */
    unsigned seed = 1;
    std::string gpioChip = "gpiochip-sim0";
    std::string gpioLabel = "stopline-sim";
    SignalSpec signal;
    std::vector<ApproachSpec> approaches;
    std::vector<BeaconSpec> beacons;
    std::optional<RadarSpec> radar;
    std::optional<CameraSpec> camera;
    std::vector<VehicleSpec> vehicles;
    FaultSpec faults;
    std::vector<std::string> warnings; /* legal but probably not what was meant */

    const ApproachSpec *findApproach(std::string_view name) const;
    const HeadSpec *findHead(std::string_view name) const;
};

/* Parses and validates; throws ScenarioError listing every problem found. `source` names
 * the text in messages. Line names, vehicle timing and cross-references are checked
 * here; kinematic plausibility is checked when the world is built. */
Scenario parseScenario(std::string_view text, const std::string &source);

/* Reads a file and parses it; an unreadable file is a ScenarioError naming it. */
Scenario loadScenario(const std::string &path);

inline constexpr double kMetersPerSecondPerMph = 0.44704;
inline double mphToMps(double mph)
{
    return mph * kMetersPerSecondPerMph;
}
inline double mpsToMph(double mps)
{
    return mps / kMetersPerSecondPerMph;
}

} /* namespace stopline::sim */

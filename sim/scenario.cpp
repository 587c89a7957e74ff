#include "sim/scenario.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <toml++/toml.h>

namespace stopline::sim {

ScenarioError::ScenarioError(std::vector<std::string> problems)
    : std::runtime_error([&] {
          std::string all;
          for (const auto &p : problems)
              all += (all.empty() ? "" : "\n") + p;
          return all;
      }()),
      problems_(std::move(problems))
{}

const char *behaviourName(Behaviour behaviour)
{
    switch (behaviour) {
    case Behaviour::Stops:
        return "stops";
    case Behaviour::RunsRed:
        return "runs_red";
    case Behaviour::RightTurnRolling:
        return "right_turn_rolling";
    case Behaviour::RightTurnAfterStop:
        return "right_turn_after_stop";
    case Behaviour::Speeds:
        return "speeds";
    case Behaviour::Complies:
        return "complies";
    }
    return "?";
}

const char *vehicleClassName(VehicleClass cls)
{
    switch (cls) {
    case VehicleClass::Car:
        return "car";
    case VehicleClass::Suv:
        return "suv";
    case VehicleClass::Truck:
        return "truck";
    case VehicleClass::Bus:
        return "bus";
    case VehicleClass::Motorcycle:
        return "motorcycle";
    }
    return "?";
}

const char *signalFaultName(SignalFaultKind kind)
{
    switch (kind) {
    case SignalFaultKind::Stuck:
        return "stuck";
    case SignalFaultKind::Dark:
        return "dark";
    case SignalFaultKind::FlashingRed:
        return "flashing_red";
    case SignalFaultKind::FlashingYellow:
        return "flashing_yellow";
    case SignalFaultKind::Conflict:
        return "conflict";
    }
    return "?";
}

double SignalSpec::cycleS() const
{
    double sum = 0;
    for (const auto &p : phases)
        sum += p.greenS + p.yellowS + p.allRedS;
    return sum;
}

const ApproachSpec *Scenario::findApproach(std::string_view name) const
{
    for (const auto &a : approaches)
        if (a.name == name)
            return &a;
    return nullptr;
}

const HeadSpec *Scenario::findHead(std::string_view name) const
{
    for (const auto &h : signal.heads)
        if (h.name == name)
            return &h;
    return nullptr;
}

namespace {

const char *typeName(const toml::node &node)
{
    switch (node.type()) {
    case toml::node_type::string:
        return "a string";
    case toml::node_type::integer:
        return "an integer";
    case toml::node_type::floating_point:
        return "a float";
    case toml::node_type::boolean:
        return "a boolean";
    case toml::node_type::table:
        return "a table";
    case toml::node_type::array:
        return "an array";
    default:
        return "a date/time";
    }
}

std::string formatNumber(double v)
{
    std::ostringstream os;
    os << v;
    return os.str();
}

/* Collects problems with their places in the file. */
class Problems
{
public:
    explicit Problems(std::string source) : source_(std::move(source)) {}

    void add(const toml::source_region &where, const std::string &path, const std::string &what)
    {
        std::ostringstream os;
        os << source_;
        if (where.begin.line)
            os << ":" << where.begin.line << ":" << where.begin.column;
        os << ": " << (path.empty() ? "" : path + ": ") << what;
        list_.push_back(os.str());
    }

    /* A problem that is about the scenario as a whole, not one place in it. */
    void add(const std::string &path, const std::string &what) { add({}, path, what); }

    std::vector<std::string> &list() { return list_; }

private:
    std::string source_;
    std::vector<std::string> list_;
};

/* Reads one TOML table, checking each key's type and range and, at finish(), that no
 * key was left unread (a misspelt key is an error, never silently ignored). */
class TableReader
{
public:
    TableReader(const toml::table &table, std::string path, Problems &problems)
        : table_(table), path_(std::move(path)), problems_(problems)
    {}

    const std::string &path() const { return path_; }
    const toml::source_region &where() const { return table_.source(); }

    std::string keyPath(std::string_view key) const
    {
        return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
    }

    bool has(std::string_view key)
    {
        known_.insert(std::string(key));
        return table_.contains(key);
    }

    const toml::node *node(std::string_view key)
    {
        known_.insert(std::string(key));
        return table_.get(key);
    }

    void missing(std::string_view key)
    {
        problems_.add(table_.source(), keyPath(key), "required key is missing");
    }

    void bad(const toml::node &n, std::string_view key, const std::string &what)
    {
        problems_.add(n.source(), keyPath(key), what);
    }

    std::optional<double> maybeNumber(std::string_view key, double min, double max,
                                      bool required = false)
    {
        const toml::node *n = node(key);
        if (!n) {
            if (required)
                missing(key);
            return std::nullopt;
        }
        double v;
        if (auto i = n->as_integer())
            v = static_cast<double>(i->get());
        else if (auto f = n->as_floating_point())
            v = f->get();
        else {
            bad(*n, key, std::string("expected a number, got ") + typeName(*n));
            return std::nullopt;
        }
        if (!std::isfinite(v) || v < min || v > max) {
            bad(*n, key,
                "must be between " + formatNumber(min) + " and " + formatNumber(max) + " (got " +
                        formatNumber(v) + ")");
            return std::nullopt;
        }
        return v;
    }

    double number(std::string_view key, double fallback, double min, double max)
    {
        return maybeNumber(key, min, max).value_or(fallback);
    }

    std::optional<long long> integer(std::string_view key, long long min, long long max,
                                     bool required = false)
    {
        const toml::node *n = node(key);
        if (!n) {
            if (required)
                missing(key);
            return std::nullopt;
        }
        auto i = n->as_integer();
        if (!i) {
            bad(*n, key, std::string("expected an integer, got ") + typeName(*n));
            return std::nullopt;
        }
        if (i->get() < min || i->get() > max) {
            bad(*n, key,
                "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                        " (got " + std::to_string(i->get()) + ")");
            return std::nullopt;
        }
        return i->get();
    }

    std::optional<std::string> string(std::string_view key, bool required = false)
    {
        const toml::node *n = node(key);
        if (!n) {
            if (required)
                missing(key);
            return std::nullopt;
        }
        auto s = n->as_string();
        if (!s) {
            bad(*n, key, std::string("expected a string, got ") + typeName(*n));
            return std::nullopt;
        }
        return s->get();
    }

    std::optional<bool> boolean(std::string_view key)
    {
        const toml::node *n = node(key);
        if (!n)
            return std::nullopt;
        auto b = n->as_boolean();
        if (!b) {
            bad(*n, key, std::string("expected true or false, got ") + typeName(*n));
            return std::nullopt;
        }
        return b->get();
    }

    /* A string that must be one of `names`; returns its index. */
    std::optional<std::size_t> choice(std::string_view key, const std::vector<std::string> &names,
                                      bool required = false)
    {
        auto s = string(key, required);
        if (!s)
            return std::nullopt;
        for (std::size_t i = 0; i < names.size(); ++i)
            if (names[i] == *s)
                return i;
        std::string list;
        for (const auto &n : names)
            list += (list.empty() ? "" : ", ") + n;
        bad(*node(key), key, "unknown value \"" + *s + "\" (expected one of: " + list + ")");
        return std::nullopt;
    }

    const toml::table *table(std::string_view key)
    {
        const toml::node *n = node(key);
        if (!n)
            return nullptr;
        if (!n->as_table()) {
            bad(*n, key, std::string("expected a table, got ") + typeName(*n));
            return nullptr;
        }
        return n->as_table();
    }

    const toml::array *array(std::string_view key)
    {
        const toml::node *n = node(key);
        if (!n)
            return nullptr;
        if (!n->as_array()) {
            bad(*n, key, std::string("expected an array, got ") + typeName(*n));
            return nullptr;
        }
        return n->as_array();
    }

    /* An array of tables ([[key]] or key = [{...}, ...]), with each element's path. */
    std::vector<std::pair<const toml::table *, std::string>> tables(std::string_view key)
    {
        std::vector<std::pair<const toml::table *, std::string>> out;
        const toml::array *arr = array(key);
        if (!arr)
            return out;
        for (std::size_t i = 0; i < arr->size(); ++i) {
            const toml::node &n = *arr->get(i);
            std::string path = keyPath(key) + "[" + std::to_string(i) + "]";
            if (!n.as_table()) {
                problems_.add(n.source(), path,
                              std::string("expected a table, got ") + typeName(n));
                continue;
            }
            out.emplace_back(n.as_table(), path);
        }
        return out;
    }

    std::vector<std::string> strings(std::string_view key, bool required = false)
    {
        std::vector<std::string> out;
        const toml::node *n = node(key);
        if (!n) {
            if (required)
                missing(key);
            return out;
        }
        const toml::array *arr = n->as_array();
        if (!arr) {
            bad(*n, key, std::string("expected an array of strings, got ") + typeName(*n));
            return out;
        }
        for (std::size_t i = 0; i < arr->size(); ++i) {
            const toml::node &e = *arr->get(i);
            if (auto s = e.as_string())
                out.push_back(s->get());
            else
                problems_.add(e.source(), keyPath(key) + "[" + std::to_string(i) + "]",
                              std::string("expected a string, got ") + typeName(e));
        }
        return out;
    }

    /* Reports every key nobody asked for. */
    void finish()
    {
        for (auto &&[k, v] : table_) {
            if (known_.count(std::string(k.str())))
                continue;
            std::string expected;
            for (const auto &n : known_)
                expected += (expected.empty() ? "" : ", ") + n;
            problems_.add(k.source(), keyPath(k.str()),
                          "unknown key" + (expected.empty()
                                                   ? std::string()
                                                   : " (expected one of: " + expected + ")"));
        }
    }

    Problems &problems() { return problems_; }

private:
    const toml::table &table_;
    std::string path_;
    Problems &problems_;
    std::set<std::string> known_;
};

constexpr double kForever = 1e6;

Window readWindow(TableReader &r)
{
    Window w;
    auto start = r.maybeNumber("start_s", 0, kForever, true);
    auto end = r.maybeNumber("end_s", 0, kForever, true);
    w.startS = start.value_or(0);
    w.endS = end.value_or(0);
    if (start && end && *end <= *start)
        r.problems().add(r.where(), r.path(),
                         "end_s (" + formatNumber(*end) + ") must be after start_s (" +
                                 formatNumber(*start) + ")");
    return w;
}

std::string upper(std::string s)
{
    for (auto &c : s)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

bool validName(const std::string &s)
{
    if (s.empty() || s.size() > 63)
        return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
}

bool validPlate(const std::string &s)
{
    if (s.empty() || s.size() > 8)
        return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' || c == '-';
    });
}

struct ClassDefaults
{
    double lengthM, widthM, heightM;
};

ClassDefaults classDefaults(VehicleClass cls)
{
    switch (cls) {
    case VehicleClass::Car:
        return {4.5, 1.8, 1.45};
    case VehicleClass::Suv:
        return {4.9, 1.95, 1.75};
    case VehicleClass::Truck:
        return {9.0, 2.5, 3.2};
    case VehicleClass::Bus:
        return {12.0, 2.55, 3.1};
    case VehicleClass::Motorcycle:
        return {2.2, 0.8, 1.3};
    }
    return {4.5, 1.8, 1.45};
}

/* A palette of plausible car paints (BGR). */
constexpr std::array<std::array<int, 3>, 8> kPaints{{{40, 40, 160},
                                                     {170, 110, 40},
                                                     {200, 200, 200},
                                                     {40, 40, 40},
                                                     {60, 120, 60},
                                                     {230, 230, 235},
                                                     {30, 90, 170},
                                                     {120, 120, 130}}};

void readSignal(TableReader &r, Scenario &sc)
{
    sc.signal.offsetS = r.number("offset_s", 0, 0, 3600);
    auto cycle = r.maybeNumber("cycle_s", 1, 3600);
    for (auto &[t, path] : r.tables("heads")) {
        TableReader h(*t, path, r.problems());
        HeadSpec head;
        head.name = h.string("name", true).value_or("");
        if (!head.name.empty() && !validName(head.name))
            h.problems().add(h.where(), h.keyPath("name"),
                             "\"" + head.name + "\" is not a valid name (letters, digits, _ -)");
        std::string base = upper(head.name);
        head.redLine = h.string("red_line").value_or(base + "_RED");
        head.yellowLine = h.string("yellow_line").value_or(base + "_YELLOW");
        head.greenLine = h.string("green_line").value_or(base + "_GREEN");
        h.finish();
        if (sc.findHead(head.name))
            r.problems().add(t->source(), path, "duplicate head name \"" + head.name + "\"");
        sc.signal.heads.push_back(head);
    }
    for (auto &[t, path] : r.tables("phases")) {
        TableReader p(*t, path, r.problems());
        PhaseSpec phase;
        phase.heads = p.strings("heads", true);
        phase.greenS = p.maybeNumber("green_s", 0.5, 600, true).value_or(1);
        phase.yellowS = p.maybeNumber("yellow_s", 0, 60, true).value_or(1);
        phase.allRedS = p.maybeNumber("all_red_s", 0, 60).value_or(1.0);
        p.finish();
        for (const auto &h : phase.heads)
            if (!sc.findHead(h))
                r.problems().add(t->source(), path + ".heads",
                                 "unknown head \"" + h + "\" (declare it in [[signal.heads]])");
        sc.signal.phases.push_back(phase);
    }
    for (auto &[t, path] : r.tables("overrides")) {
        TableReader o(*t, path, r.problems());
        PhaseOverride ov;
        ov.cycle = static_cast<unsigned>(o.integer("cycle", 1, 100000, true).value_or(1));
        ov.phase = static_cast<unsigned>(o.integer("phase", 1, 64, true).value_or(1));
        ov.greenS = o.maybeNumber("green_s", 0.5, 600);
        ov.yellowS = o.maybeNumber("yellow_s", 0, 60);
        ov.allRedS = o.maybeNumber("all_red_s", 0, 60);
        o.finish();
        if (ov.phase > sc.signal.phases.size())
            r.problems().add(t->source(), path + ".phase",
                             "there are only " + std::to_string(sc.signal.phases.size()) +
                                     " phases");
        sc.signal.overrides.push_back(ov);
    }
    r.finish();

    if (!sc.signal.heads.empty() && sc.signal.phases.empty())
        r.problems().add(r.where(), "signal.phases", "heads are declared but no phases");
    for (const auto &h : sc.signal.heads) {
        int count = 0;
        for (const auto &p : sc.signal.phases)
            count += static_cast<int>(std::count(p.heads.begin(), p.heads.end(), h.name));
        if (count != 1)
            r.problems().add(r.where(), "signal",
                             "head \"" + h.name + "\" must be in exactly one phase (it is in " +
                                     std::to_string(count) + ")");
    }
    if (cycle && !sc.signal.phases.empty() && std::abs(*cycle - sc.signal.cycleS()) > 1e-6)
        r.problems().add(r.where(), "signal.cycle_s",
                         "is " + formatNumber(*cycle) + " but the phases add up to " +
                                 formatNumber(sc.signal.cycleS()));
}

std::optional<LoopSpec> readLoop(TableReader &lane, std::string_view key, const std::string &line,
                                 double maxDistance)
{
    const toml::table *t = lane.table(key);
    if (!t)
        return std::nullopt;
    TableReader r(*t, lane.keyPath(key), lane.problems());
    LoopSpec loop;
    loop.distanceM = r.maybeNumber("distance_m", 0, maxDistance, true).value_or(0);
    loop.lengthM = r.number("length_m", 1.8, 0.3, 30);
    loop.line = r.string("line").value_or(line);
    r.finish();
    return loop;
}

void readApproach(TableReader &r, Scenario &sc)
{
    ApproachSpec a;
    a.name = r.string("name", true).value_or("");
    if (!a.name.empty() && !validName(a.name))
        r.problems().add(r.where(), r.keyPath("name"),
                         "\"" + a.name + "\" is not a valid name (letters, digits, _ -)");
    if (auto head = r.string("head")) {
        a.head = *head;
        if (!sc.findHead(a.head))
            r.bad(*r.node("head"), "head", "unknown head \"" + a.head + "\"");
    }
    a.lengthM = r.number("length_m", 150, 20, 2000);
    a.exitM = r.number("exit_m", 40, 5, 500);
    a.speedLimitMph = r.number("speed_limit_mph", 30, 5, 100);
    a.laneWidthM = r.number("lane_width_m", 3.6, 2.5, 5);
    a.rightTurnStartM = r.number("right_turn_start_m", 3, 0, 50);
    a.turnRadiusM = r.number("turn_radius_m", 9, 3, 50);
    a.crossStreetM = r.number("cross_street_m", 18, 5, 60);
    for (auto &[t, path] : r.tables("lanes")) {
        TableReader l(*t, path, r.problems());
        LaneSpec lane;
        lane.number = static_cast<unsigned>(l.integer("number", 1, 8, true).value_or(1));
        lane.rightTurn = l.boolean("right_turn").value_or(lane.number == 1);
        std::string base = "LOOP_" + upper(a.name) + "_" + std::to_string(lane.number);
        lane.entryLoop = readLoop(l, "entry_loop", base + "_ENTRY", a.lengthM - 5);
        lane.exitLoop = readLoop(l, "exit_loop", base + "_EXIT", a.exitM - 2);
        l.finish();
        for (const auto &other : a.lanes)
            if (other.number == lane.number)
                r.problems().add(t->source(), path + ".number",
                                 "duplicate lane number " + std::to_string(lane.number));
        a.lanes.push_back(lane);
    }
    if (a.lanes.empty())
        r.problems().add(r.where(), r.keyPath("lanes"), "an approach needs at least one lane");
    std::sort(a.lanes.begin(), a.lanes.end(),
              [](const LaneSpec &x, const LaneSpec &y) { return x.number < y.number; });
    for (std::size_t i = 0; i < a.lanes.size(); ++i)
        if (a.lanes[i].number != i + 1) {
            r.problems().add(r.where(), r.keyPath("lanes"),
                             "lanes must be numbered 1.." + std::to_string(a.lanes.size()) +
                                     " from the kerb");
            break;
        }
    r.finish();
    if (sc.findApproach(a.name))
        r.problems().add(r.where(), r.path(), "duplicate approach name \"" + a.name + "\"");
    sc.approaches.push_back(std::move(a));
}

void readBeacon(TableReader &r, Scenario &sc)
{
    BeaconSpec b;
    b.name = r.string("name", true).value_or("");
    if (!b.name.empty() && !validName(b.name))
        r.problems().add(r.where(), r.keyPath("name"),
                         "\"" + b.name + "\" is not a valid name (letters, digits, _ -)");
    b.line = r.string("line").value_or("BEACON_" + upper(b.name));
    b.periodS = r.number("period_s", 1.0, 0.2, 10);
    b.onFraction = r.number("on_fraction", 0.5, 0.05, 0.95);
    for (auto &[t, path] : r.tables("windows")) {
        TableReader w(*t, path, r.problems());
        b.windows.push_back(readWindow(w));
        w.finish();
    }
    std::sort(b.windows.begin(), b.windows.end(),
              [](const Window &x, const Window &y) { return x.startS < y.startS; });
    for (std::size_t i = 1; i < b.windows.size(); ++i)
        if (b.windows[i].startS < b.windows[i - 1].endS)
            r.problems().add(r.where(), r.keyPath("windows"), "windows overlap");
    r.finish();
    sc.beacons.push_back(std::move(b));
}

/* The emulator's unit keys (sim/ops243.cpp names them as each firmware does). */
const std::vector<std::string> kRadarUnits{"mps", "mph", "kmh", "fps", "cps"};

void readRadar(TableReader &r, Scenario &sc)
{
    RadarSpec rd;
    rd.approach = r.string("approach", true).value_or("");
    if (!rd.approach.empty() && !sc.findApproach(rd.approach))
        r.bad(*r.node("approach"), "approach", "unknown approach \"" + rd.approach + "\"");
    rd.positionM = r.number("position_m", 0, -2000, 500);
    if (auto f = r.choice("facing", {"inbound", "outbound"}))
        rd.facingInbound = *f == 0;
    rd.angleDeg = r.number("angle_deg", 0, 0, 60);
    rd.offsetM = r.number("offset_m", 0, -30, 30);
    rd.rangeMinM = r.number("range_min_m", 3, 0, 100);
    rd.rangeMaxM = r.number("range_max_m", 80, 1, 300);
    if (rd.rangeMaxM <= rd.rangeMinM)
        r.problems().add(r.where(), r.keyPath("range_max_m"), "must be more than range_min_m");
    rd.reportHz = r.maybeNumber("report_hz", 0.5, 100);
    rd.minSpeedMph = r.number("min_speed_mph", 0.5, 0, 20);
    rd.noiseMph = r.number("noise_mph", 0, 0, 5);
    rd.frequencyGhz = r.number("frequency_ghz", 24.125, 1, 100);
    rd.product = r.string("product").value_or(rd.product);
    rd.version = r.string("version").value_or(rd.version);
    rd.build = r.string("build").value_or(rd.build);
    rd.uid = r.string("uid").value_or(rd.uid);
    if (auto u = r.choice("units", kRadarUnits))
        rd.units = kRadarUnits[*u];
    if (auto o = r.choice("output", {"plain", "json"}))
        rd.output = *o == 0 ? RadarOutput::Plain : RadarOutput::Json;
    rd.jsonNumbers = r.boolean("json_numbers").value_or(false);
    rd.decimals = static_cast<int>(r.integer("decimals", 0, 5).value_or(2));
    rd.targets = static_cast<int>(r.integer("targets", 1, 9).value_or(1));
    rd.magnitude = r.boolean("magnitude").value_or(false);
    rd.time = r.boolean("time").value_or(false);
    if (auto f = r.choice("firmware", {"2019", "2025"}))
        rd.firmware = *f == 0 ? RadarFirmware::Gen2019 : RadarFirmware::Gen2025;
    rd.flashCosineDeg = r.number("flash_cosine_deg", 0, 0, 60);
    rd.flashZeroFill = r.boolean("flash_zero_fill").value_or(false);
    r.finish();
    if (rd.flashCosineDeg != 0 && rd.firmware == RadarFirmware::Gen2019)
        r.problems().add(r.where(), r.keyPath("flash_cosine_deg"),
                         "2019 firmware has no cosine correction");
    sc.radar = rd;
}

void readCamera(TableReader &r, Scenario &sc)
{
    CameraSpec c;
    c.id = r.string("id").value_or(c.id);
    c.approach = r.string("approach", true).value_or("");
    if (!c.approach.empty() && !sc.findApproach(c.approach))
        r.bad(*r.node("approach"), "approach", "unknown approach \"" + c.approach + "\"");
    c.width = static_cast<int>(r.integer("width", 64, 4096).value_or(c.width));
    c.height = static_cast<int>(r.integer("height", 48, 4096).value_or(c.height));
    c.fps = r.number("fps", 30, 0.5, 120);
    c.positionM = r.number("position_m", c.positionM, -500, 100);
    c.lateralM = r.maybeNumber("lateral_m", -50, 50);
    c.heightM = r.number("height_m", c.heightM, 0.5, 30);
    c.pitchDeg = r.number("pitch_deg", c.pitchDeg, 0, 80);
    c.yawDeg = r.number("yaw_deg", c.yawDeg, -90, 90);
    c.hfovDeg = r.number("hfov_deg", c.hfovDeg, 5, 120);
    c.plateMinPx = static_cast<int>(r.integer("plate_min_px", 4, 400).value_or(c.plateMinPx));
    r.finish();
    sc.camera = c;
}

void readVehicle(TableReader &r, Scenario &sc, std::size_t index)
{
    VehicleSpec v;
    v.id = static_cast<unsigned>(r.integer("id", 1, 1000000).value_or(index + 1));
    v.plate = r.string("plate").value_or("SIM" + std::to_string(v.id));
    if (!validPlate(v.plate))
        r.problems().add(r.where(), r.keyPath("plate"),
                         "\"" + v.plate + "\" is not a plate: 1-8 of A-Z 0-9 space -");
    static const std::vector<std::string> classes{"car", "suv", "truck", "bus", "motorcycle"};
    if (auto c = r.choice("class", classes))
        v.cls = static_cast<VehicleClass>(*c);
    v.approach = r.string("approach", true).value_or("");
    const ApproachSpec *approach = sc.findApproach(v.approach);
    if (!v.approach.empty() && !approach)
        r.bad(*r.node("approach"), "approach", "unknown approach \"" + v.approach + "\"");
    v.lane = static_cast<unsigned>(r.integer("lane", 1, 8).value_or(1));
    if (approach && v.lane > approach->lanes.size())
        r.bad(*r.node("lane"), "lane",
              "approach \"" + approach->name + "\" has " + std::to_string(approach->lanes.size()) +
                      " lane(s)");

    auto arrive = r.maybeNumber("arrive_s", 0, kForever);
    auto line = r.maybeNumber("line_s", 0, kForever);
    if (arrive && line)
        r.problems().add(r.where(), r.path(), "give arrive_s or line_s, not both");
    else if (!arrive && !line && !r.has("arrive_s") && !r.has("line_s"))
        r.problems().add(r.where(), r.path(), "needs arrive_s or line_s");
    v.arriveS = arrive.value_or(0);
    if (line)
        v.lineS = line;

    v.speedMph = r.maybeNumber("speed_mph", 1, 150, true).value_or(30);
    for (auto &[t, path] : r.tables("profile")) {
        TableReader p(*t, path, r.problems());
        SpeedPoint pt;
        pt.tS = p.maybeNumber("t_s", 0.01, 600, true).value_or(1);
        pt.mph = p.maybeNumber("mph", 1, 150, true).value_or(v.speedMph);
        p.finish();
        if (!v.profile.empty() && pt.tS <= v.profile.back().tS)
            r.problems().add(t->source(), path + ".t_s", "profile times must increase");
        v.profile.push_back(pt);
    }
    static const std::vector<std::string> behaviours{
            "stops",  "runs_red", "right_turn_rolling", "right_turn_after_stop",
            "speeds", "complies"};
    if (auto b = r.choice("behaviour", behaviours, true))
        v.behaviour = static_cast<Behaviour>(*b);

    ClassDefaults d = classDefaults(v.cls);
    v.lengthM = r.number("length_m", d.lengthM, 1.5, 25);
    v.widthM = r.number("width_m", d.widthM, 0.5, 3);
    v.heightM = r.number("height_m", d.heightM, 0.8, 4.5);
    v.colorBgr = kPaints[v.id % kPaints.size()];
    if (const toml::node *n = r.node("color")) {
        const toml::array *a = n->as_array();
        bool ok = a && a->size() == 3;
        for (std::size_t i = 0; ok && i < 3; ++i) {
            auto c = a->get(i)->as_integer();
            ok = c && c->get() >= 0 && c->get() <= 255;
            if (ok)
                v.colorBgr[2 - i] = static_cast<int>(c->get()); /* written as [r, g, b] */
        }
        if (!ok)
            r.bad(*n, "color", "expected [r, g, b] with values 0-255");
    }
    v.stopS = r.number("stop_s", v.behaviour == Behaviour::Stops ? 1.0 : 2.0, 0, 600);
    v.stopGapM = r.number("stop_gap_m", 0.5, -3, 10);
    v.turnMph = r.number("turn_mph", 10, 2, 30);
    v.decelMps2 = r.number("decel_mps2", 3.0, 0.5, 9);
    v.accelMps2 = r.number("accel_mps2", 2.0, 0.3, 6);
    v.reactionS = r.number("reaction_s", 0.8, 0, 10);
    r.finish();

    if (approach) {
        double maxMph = v.speedMph;
        for (const auto &p : v.profile)
            maxMph = std::max(maxMph, p.mph);
        if (v.behaviour == Behaviour::Speeds && maxMph <= approach->speedLimitMph)
            r.problems().add(r.where(), r.keyPath("speed_mph"),
                             "behaviour \"speeds\" needs more than the speed limit of approach \"" +
                                     approach->name + "\" (" +
                                     formatNumber(approach->speedLimitMph) + " mph)");
        if (v.behaviour == Behaviour::Complies && maxMph > approach->speedLimitMph)
            r.problems().add(r.where(), r.keyPath("speed_mph"),
                             "behaviour \"complies\" must keep to the speed limit of approach \"" +
                                     approach->name + "\" (" +
                                     formatNumber(approach->speedLimitMph) + " mph)");
        bool turning = v.behaviour == Behaviour::RightTurnRolling ||
                       v.behaviour == Behaviour::RightTurnAfterStop;
        if (turning && v.lane <= approach->lanes.size() && !approach->lanes[v.lane - 1].rightTurn)
            r.problems().add(r.where(), r.keyPath("lane"),
                             "lane " + std::to_string(v.lane) +
                                     " is not a right-turn lane (set right_turn = true on it)");
        if (turning && v.turnMph >= v.speedMph)
            r.problems().add(r.where(), r.keyPath("turn_mph"),
                             "must be slower than speed_mph for a turning vehicle");
    }
    for (const auto &other : sc.vehicles)
        if (other.id == v.id)
            r.problems().add(r.where(), r.keyPath("id"),
                             "duplicate vehicle id " + std::to_string(v.id));
    sc.vehicles.push_back(std::move(v));
}

void readFaults(TableReader &r, Scenario &sc)
{
    for (auto &[t, path] : r.tables("radar_garbage")) {
        TableReader f(*t, path, r.problems());
        RadarGarbageFault g;
        g.rateHz = f.number("rate_hz", 5, 0.1, 1000);
        g.window = readWindow(f);
        f.finish();
        sc.faults.radarGarbage.push_back(g);
    }
    for (auto &[t, path] : r.tables("radar_reset")) {
        TableReader f(*t, path, r.problems());
        RadarResetFault g;
        g.atS = f.number("at_s", 0, 0, 1e6);
        if (auto c = f.choice("cause", {"watchdog", "brownout", "power"}))
            g.cause = std::array{"watchdog", "brownout", "power"}[*c];
        g.bootS = f.number("boot_s", 0.5, 0, 30);
        g.flashCosineDeg = f.maybeNumber("flash_cosine_deg", 0, 60);
        f.finish();
        sc.faults.radarReset.push_back(g);
    }
    for (auto &[t, path] : r.tables("radar_units")) {
        TableReader f(*t, path, r.problems());
        RadarUnitsFault g;
        g.atS = f.number("at_s", 0, 0, 1e6);
        if (auto u = f.choice("units", kRadarUnits, true))
            g.units = kRadarUnits[*u];
        f.finish();
        sc.faults.radarUnits.push_back(g);
    }
    for (auto &[t, path] : r.tables("radar_silence")) {
        TableReader f(*t, path, r.problems());
        sc.faults.radarSilence.push_back(readWindow(f));
        f.finish();
    }
    for (auto &[t, path] : r.tables("camera_stall")) {
        TableReader f(*t, path, r.problems());
        sc.faults.cameraStall.push_back(readWindow(f));
        f.finish();
    }
    for (auto &[t, path] : r.tables("gpio_chatter")) {
        TableReader f(*t, path, r.problems());
        ChatterFault c;
        c.line = f.string("line", true).value_or("");
        c.rateHz = f.number("rate_hz", 1000, 0.1, 20000);
        c.pulseUs = f.number("pulse_us", 50, 1, 1e6);
        c.burstS = f.number("burst_s", 0, 0.001, 3600);
        c.everyS = f.number("every_s", 1, 0.002, 3600);
        c.window = readWindow(f);
        f.finish();
        if (c.burstS > 0 && c.burstS >= c.everyS)
            r.problems().add(t->source(), path + ".burst_s", "must be shorter than every_s");
        if (c.pulseUs * 1e-6 >= 0.9 / c.rateHz)
            r.problems().add(t->source(), path + ".pulse_us",
                             "a pulse must be shorter than the chatter period (" +
                                     formatNumber(1e6 / c.rateHz) + " us)");
        sc.faults.gpioChatter.push_back(c);
    }
    for (auto &[t, path] : r.tables("signal")) {
        TableReader f(*t, path, r.problems());
        SignalFault s;
        s.head = f.string("head", true).value_or("");
        if (!s.head.empty() && !sc.findHead(s.head))
            f.bad(*f.node("head"), "head", "unknown head \"" + s.head + "\"");
        if (auto k = f.choice(
                    "kind", {"stuck", "dark", "flashing_red", "flashing_yellow", "conflict"}, true))
            s.kind = static_cast<SignalFaultKind>(*k);
        s.window = readWindow(f);
        f.finish();
        sc.faults.signal.push_back(s);
    }
    r.finish();
}

/* Line names must be unique across the chip, as on a real gpiochip. */
void checkLines(Scenario &sc, Problems &problems)
{
    std::map<std::string, std::string> owners;
    auto claim = [&](const std::string &line, const std::string &owner) {
        if (!validName(line)) {
            problems.add(owner, "\"" + line + "\" is not a valid line name (letters, digits, _ -)");
            return;
        }
        auto [it, inserted] = owners.emplace(line, owner);
        if (!inserted)
            problems.add(owner, "GPIO line \"" + line + "\" is also used by " + it->second);
    };
    for (const auto &h : sc.signal.heads) {
        claim(h.redLine, "signal head " + h.name);
        claim(h.yellowLine, "signal head " + h.name);
        claim(h.greenLine, "signal head " + h.name);
    }
    for (const auto &a : sc.approaches)
        for (const auto &l : a.lanes) {
            std::string owner = "approach " + a.name + " lane " + std::to_string(l.number);
            if (l.entryLoop)
                claim(l.entryLoop->line, owner + " entry loop");
            if (l.exitLoop)
                claim(l.exitLoop->line, owner + " exit loop");
        }
    for (const auto &b : sc.beacons)
        claim(b.line, "beacon " + b.name);
    for (std::size_t i = 0; i < sc.faults.gpioChatter.size(); ++i) {
        const auto &c = sc.faults.gpioChatter[i];
        if (!c.line.empty() && !owners.count(c.line)) {
            std::string known;
            for (const auto &[name, owner] : owners)
                known += (known.empty() ? "" : ", ") + name;
            problems.add("faults.gpio_chatter[" + std::to_string(i) + "].line",
                         "unknown GPIO line \"" + c.line + "\" (lines: " + known + ")");
        }
    }
}

} /* namespace */

Scenario parseScenario(std::string_view text, const std::string &source)
{
    toml::table root;
    try {
        root = toml::parse(text, source);
    } catch (const toml::parse_error &e) {
        std::ostringstream os;
        os << source << ":" << e.source().begin.line << ":" << e.source().begin.column
           << ": TOML syntax error: " << e.description();
        throw ScenarioError({os.str()});
    }

    Problems problems(source);
    Scenario sc;
    sc.source = source;
    TableReader top(root, "", problems);

    if (const toml::table *t = top.table("scenario")) {
        TableReader r(*t, "scenario", problems);
        sc.name = r.string("name").value_or("");
        sc.description = r.string("description").value_or("");
        sc.durationS = r.number("duration_s", 0, 0.5, 86400);
        sc.seed = static_cast<unsigned>(r.integer("seed", 0, 0xffffffffLL).value_or(1));
        r.finish();
    }
    if (sc.name.empty()) {
        std::string base = source.substr(source.find_last_of('/') + 1);
        sc.name = base.substr(0, base.find('.'));
    }
    if (const toml::table *t = top.table("gpio")) {
        TableReader r(*t, "gpio", problems);
        sc.gpioChip = r.string("chip").value_or(sc.gpioChip);
        sc.gpioLabel = r.string("label").value_or(sc.gpioLabel);
        r.finish();
    }
    if (const toml::table *t = top.table("signal")) {
        TableReader r(*t, "signal", problems);
        readSignal(r, sc);
    }
    for (auto &[t, path] : top.tables("approaches")) {
        TableReader r(*t, path, problems);
        readApproach(r, sc);
    }
    for (auto &[t, path] : top.tables("beacons")) {
        TableReader r(*t, path, problems);
        readBeacon(r, sc);
    }
    if (const toml::table *t = top.table("radar")) {
        TableReader r(*t, "radar", problems);
        readRadar(r, sc);
    }
    if (const toml::table *t = top.table("camera")) {
        TableReader r(*t, "camera", problems);
        readCamera(r, sc);
    }
    std::size_t index = 0;
    for (auto &[t, path] : top.tables("vehicles")) {
        TableReader r(*t, path, problems);
        readVehicle(r, sc, index++);
    }
    if (const toml::table *t = top.table("faults")) {
        TableReader r(*t, "faults", problems);
        readFaults(r, sc);
    }
    top.finish();

    if (sc.approaches.empty())
        problems.add("approaches", "a scenario needs at least one approach");
    checkLines(sc, problems);

    if (!problems.list().empty())
        throw ScenarioError(std::move(problems.list()));
    return sc;
}

Scenario loadScenario(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw ScenarioError({path + ": cannot open scenario file"});
    std::ostringstream text;
    text << in.rdbuf();
    return parseScenario(text.str(), path);
}

} /* namespace stopline::sim */

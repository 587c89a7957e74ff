#include <string>

#include "sim/scenario.h"

#include <CppUTest/TestHarness.h>

using namespace stopline::sim;

namespace {

/* A small valid scenario; tests append or replace parts of it. */
const std::string kBase = R"([scenario]
name = "t"
duration_s = 10

[[signal.heads]]
name = "NB"

[[signal.phases]]
heads = ["NB"]
green_s = 5
yellow_s = 3
all_red_s = 2

[[approaches]]
name = "north"
head = "NB"
length_m = 100

[[approaches.lanes]]
number = 1
entry_loop = { distance_m = 3.0 }
exit_loop = { distance_m = 1.0 }
)";

/* The problems a scenario text produces (empty when it parses). */
std::vector<std::string> problems(const std::string &text)
{
    try {
        parseScenario(text, "s.toml");
    } catch (const ScenarioError &e) {
        return e.problems();
    }
    return {};
}

bool anyContains(const std::vector<std::string> &list, const std::string &needle)
{
    for (const auto &p : list)
        if (p.find(needle) != std::string::npos)
            return true;
    return false;
}

std::string joined(const std::vector<std::string> &list)
{
    std::string all;
    for (const auto &p : list)
        all += p + "\n";
    return all;
}

} /* namespace */

TEST_GROUP(Scenario){};

TEST(Scenario, BaseParsesWithDefaults)
{
    Scenario sc = parseScenario(kBase, "s.toml");
    STRCMP_EQUAL("t", sc.name.c_str());
    DOUBLES_EQUAL(10, sc.durationS, 0);
    LONGS_EQUAL(1, sc.signal.heads.size());
    STRCMP_EQUAL("NB_RED", sc.signal.heads[0].redLine.c_str());
    STRCMP_EQUAL("NB_GREEN", sc.signal.heads[0].greenLine.c_str());
    DOUBLES_EQUAL(10, sc.signal.cycleS(), 1e-12);
    const ApproachSpec *a = sc.findApproach("north");
    CHECK(a != nullptr);
    CHECK(a->lanes[0].rightTurn); /* lane 1 is the kerb lane */
    STRCMP_EQUAL("LOOP_NORTH_1_ENTRY", a->lanes[0].entryLoop->line.c_str());
    DOUBLES_EQUAL(1.8, a->lanes[0].entryLoop->lengthM, 0);
    CHECK(!sc.radar);
    CHECK(!sc.camera);
}

TEST(Scenario, UnknownKeyNamesKeyAndLine)
{
    auto p = problems(kBase + "\n[[vehicles]]\napproach = \"north\"\nspeed_mph = 30\n"
                              "arrive_s = 1\nbehaviour = \"complies\"\nspaed_mph = 3\n");
    LONGS_EQUAL(1, p.size());
    /* the misspelt key is on line 29 of the text */
    CHECK_TEXT(anyContains(p, "s.toml:29:1: vehicles[0].spaed_mph: unknown key"),
               joined(p).c_str());
    CHECK_TEXT(anyContains(p, "speed_mph"), "the message lists the keys that are allowed");
}

TEST(Scenario, WrongTypeNamesExpectedType)
{
    auto p = problems(kBase + "\n[radar]\napproach = \"north\"\nangle_deg = \"twelve\"\n");
    LONGS_EQUAL(1, p.size());
    CHECK_TEXT(anyContains(p, "s.toml:26:13: radar.angle_deg: expected a number, got a string"),
               joined(p).c_str());
}

TEST(Scenario, OutOfRangeGivesBoundsAndValue)
{
    auto p = problems(kBase + "\n[camera]\napproach = \"north\"\nfps = 500\n");
    LONGS_EQUAL(1, p.size());
    CHECK_TEXT(anyContains(p, "camera.fps: must be between 0.5 and 120 (got 500)"),
               joined(p).c_str());
    CHECK(anyContains(p, "s.toml:26:7:"));
}

TEST(Scenario, SyntaxErrorIsReportedWithPosition)
{
    auto p = problems(kBase + "\n[radar\n");
    LONGS_EQUAL(1, p.size());
    CHECK_TEXT(anyContains(p, "s.toml:24:7: TOML syntax error"), joined(p).c_str());
}

TEST(Scenario, EveryProblemIsReportedNotJustTheFirst)
{
    auto p = problems(kBase + "\n[[vehicles]]\napproach = \"south\"\nspeed_mph = -3\n"
                              "behaviour = \"flies\"\narrive_s = 1\n");
    CHECK_TEXT(anyContains(p, "unknown approach \"south\""), joined(p).c_str());
    CHECK_TEXT(anyContains(p, "vehicles[0].speed_mph: must be between 1 and 150"),
               joined(p).c_str());
    CHECK_TEXT(anyContains(p, "unknown value \"flies\" (expected one of: stops, runs_red"),
               joined(p).c_str());
    CHECK(p.size() >= 3);
}

TEST(Scenario, ReferencesAreChecked)
{
    auto p = problems(kBase + "\n[[signal.phases]]\nheads = [\"EB\"]\ngreen_s = 5\nyellow_s = 3\n"
                              "\n[[faults.gpio_chatter]]\nline = \"NB_GREN\"\nstart_s = 1\n"
                              "end_s = 2\n");
    CHECK_TEXT(anyContains(p, "unknown head \"EB\""), joined(p).c_str());
    CHECK_TEXT(anyContains(p, "unknown GPIO line \"NB_GREN\" (lines: LOOP_NORTH_1_ENTRY"),
               joined(p).c_str());
}

TEST(Scenario, HeadMustBeInExactlyOnePhase)
{
    auto p = problems(kBase + "\n[[signal.heads]]\nname = \"EB\"\n");
    CHECK_TEXT(anyContains(p, "head \"EB\" must be in exactly one phase (it is in 0)"),
               joined(p).c_str());
}

TEST(Scenario, CycleMustMatchThePhases)
{
    std::string text = kBase;
    text.replace(text.find("[[signal.heads]]"), 0, "[signal]\ncycle_s = 12\n\n");
    auto p = problems(text);
    CHECK_TEXT(anyContains(p, "signal.cycle_s: is 12 but the phases add up to 10"),
               joined(p).c_str());
}

TEST(Scenario, LineNamesMustBeUnique)
{
    std::string text = kBase;
    text.replace(text.find("exit_loop = { distance_m = 1.0 }"),
                 std::string("exit_loop = { distance_m = 1.0 }").size(),
                 "exit_loop = { distance_m = 1.0, line = \"NB_RED\" }");
    auto p = problems(text);
    CHECK_TEXT(anyContains(p, "GPIO line \"NB_RED\" is also used by signal head NB"),
               joined(p).c_str());
}

TEST(Scenario, VehicleTimingAndBehaviourRules)
{
    std::string v = "\n[[vehicles]]\napproach = \"north\"\nspeed_mph = 20\n";
    auto both = problems(kBase + v + "arrive_s = 1\nline_s = 9\nbehaviour = \"complies\"\n");
    CHECK(anyContains(both, "give arrive_s or line_s, not both"));
    auto neither = problems(kBase + v + "behaviour = \"complies\"\n");
    CHECK(anyContains(neither, "needs arrive_s or line_s"));
    auto slow = problems(kBase + v + "arrive_s = 1\nbehaviour = \"speeds\"\n");
    CHECK_TEXT(anyContains(slow, "behaviour \"speeds\" needs more than the speed limit"),
               joined(slow).c_str());
    auto fast = problems(kBase + "\n[[vehicles]]\napproach = \"north\"\nspeed_mph = 45\n"
                                 "arrive_s = 1\nbehaviour = \"complies\"\n");
    CHECK(anyContains(fast, "behaviour \"complies\" must keep to the speed limit"));
    auto plate = problems(kBase + v + "arrive_s = 1\nbehaviour = \"complies\"\nplate = \"ab!\"\n");
    CHECK(anyContains(plate, "\"ab!\" is not a plate"));
    auto turn = problems(kBase + v +
                         "arrive_s = 1\nbehaviour = \"right_turn_rolling\"\n"
                         "turn_mph = 25\n");
    CHECK(anyContains(turn, "must be slower than speed_mph for a turning vehicle"));
}

TEST(Scenario, ChatterPulseMustFitThePeriod)
{
    auto p = problems(kBase + "\n[[faults.gpio_chatter]]\nline = \"NB_RED\"\nrate_hz = 1000\n"
                              "pulse_us = 2000\nstart_s = 1\nend_s = 2\n");
    CHECK_TEXT(anyContains(p, "a pulse must be shorter than the chatter period (1000 us)"),
               joined(p).c_str());
}

TEST(Scenario, ShippedScenariosParse)
{
    for (const char *name :
         {"demo.toml", "hil_signal.toml", "hil_radar.toml", "hil_faults.toml", "hil_mix.toml"}) {
        std::string path = std::string(STOPLINE_SCENARIO_DIR) + "/" + name;
        try {
            Scenario sc = loadScenario(path);
            CHECK(!sc.approaches.empty());
        } catch (const ScenarioError &e) {
            FAIL((path + ": " + e.what()).c_str());
        }
    }
}

TEST(Scenario, MissingFileIsNamed)
{
    try {
        loadScenario("/nonexistent/x.toml");
        FAIL("no error");
    } catch (const ScenarioError &e) {
        STRCMP_EQUAL("/nonexistent/x.toml: cannot open scenario file", e.what());
    }
}

/* stoplined's configuration: the shipped examples load, every deliberately broken example
 * is refused with the key and line its header promises (through loadConfig and through the
 * real `stoplined --check-config`), and the state folder's layers (console `set`s,
 * calibration) apply on top of the file. */
#include "firmware/stoplined/daemon_config.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <sys/wait.h>

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::firmware;
namespace fs = std::filesystem;

namespace {

const fs::path kExamples = STOPLINE_EXAMPLES_DIR;

std::string readFile(const fs::path &p)
{
    std::ifstream in(p);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string joined(const std::vector<ConfigError> &errors)
{
    std::string out;
    for (const ConfigError &e : errors)
        out += e.text() + "\n";
    return out;
}

/* Runs a command; returns the exit status and everything it printed. */
int runCommand(const std::string &command, std::string *output)
{
    FILE *p = popen((command + " 2>&1").c_str(), "r");
    if (!p)
        return -1;
    char buf[4096];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        output->append(buf, n);
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct TempDir
{
    fs::path path;
    TempDir()
    {
        char tmpl[] = "/tmp/stopline-config-test-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path); }
};

/* A copy of the simulator example in a private folder (its relative paths follow it). */
fs::path copySimExample(const TempDir &dir)
{
    fs::path p = dir.path / "stoplined.toml";
    fs::copy_file(kExamples / "sim.toml", p);
    return p;
}

std::vector<fs::path> brokenExamples()
{
    std::vector<fs::path> out;
    for (const auto &e : fs::directory_iterator(kExamples / "broken"))
        if (e.path().extension() == ".toml")
            out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

/* "# expect: 50: red_light.grace_s: 9.0 is out of range 0.0..1.0" from the header. */
std::string expectation(const fs::path &p)
{
    std::smatch m;
    std::string text = readFile(p);
    if (!std::regex_search(text, m, std::regex("# expect: ([^\n]+)")))
        return "";
    return m[1];
}

} /* namespace */

TEST_GROUP(DaemonConfig){};

TEST(DaemonConfig, EveryShippedExampleLoads)
{
    for (const char *name : {"intersection.toml", "school_zone.toml", "sim.toml"}) {
        LoadResult r = loadConfig((kExamples / name).string());
        STRCMP_EQUAL("", joined(r.errors).c_str());
        CHECK(r.loaded != nullptr);
    }
}

TEST(DaemonConfig, ExamplesMeanWhatTheySay)
{
    LoadResult r = loadConfig((kExamples / "intersection.toml").string());
    CHECK(r.loaded != nullptr);
    const DaemonConfig &c = r.loaded->config;
    CHECK(c.redLight.enabled);
    CHECK_FALSE(c.schoolZone.enabled);
    CHECK(c.clock.requireSync); /* production examples require a synchronized clock */
    pipeline::RedLightConfig rl = redLightConfig(c);
    LONGS_EQUAL(2, rl.lanes.size());
    STRCMP_EQUAL("LOOP_NB_1_ENTRY", rl.lanes[0].entryLoop.c_str()); /* from the loop lane */
    CHECK(rl.lanes[0].turnPolicy == pipeline::TurnPolicy::CiteUnlessStopped);
    LONGS_EQUAL(300 * kNanosPerMilli, rl.graceNs);
    hal::GpioConfig g = gpioConfig(c);
    CHECK(g.lines[0].activeLow);
    STRCMP_EQUAL("GPIO17", g.lines[0].line.c_str());

    LoadResult z = loadConfig((kExamples / "school_zone.toml").string());
    CHECK(z.loaded != nullptr);
    CHECK(z.loaded->config.clock.requireSync);
    pipeline::SchoolZoneConfig sz = schoolZoneConfig(z.loaded->config);
    LONGS_EQUAL(2, sz.calendar.windows.size());
    LONGS_EQUAL(2, sz.calendar.noSchoolDays.size());
    CHECK_FALSE(sz.calendar.schoolWeekdays[0]); /* Sunday */
    CHECK(sz.calendar.schoolWeekdays[1]);
    DOUBLES_EQUAL(15.0, sz.cosineAngleDeg, 1e-9);

    /* The simulator's example must not require a synchronized clock (a container's is not). */
    LoadResult s = loadConfig((kExamples / "sim.toml").string());
    CHECK(s.loaded != nullptr);
    CHECK_FALSE(s.loaded->config.clock.requireSync);
}

TEST(DaemonConfig, RelativePathsFollowTheFile)
{
    TempDir dir;
    fs::path p = copySimExample(dir);
    LoadResult r = loadConfig(p.string());
    CHECK(r.loaded != nullptr);
    STRCMP_EQUAL((dir.path / "keys/demo-unit-1.key").c_str(),
                 r.loaded->config.device.keyFile.c_str());
    STRCMP_EQUAL((dir.path / "sim/camera.sock").c_str(), r.loaded->config.camera.device.c_str());
    STRCMP_EQUAL((dir.path / "state/overrides.toml").c_str(), r.loaded->overridesFile.c_str());
}

TEST(DaemonConfig, EachBrokenExampleNamesItsKeyAndLine)
{
    std::vector<fs::path> broken = brokenExamples();
    CHECK(broken.size() >= 6);
    for (const fs::path &p : broken) {
        std::string expect = expectation(p);
        CHECK_TEXT(!expect.empty(), ("no '# expect:' line in " + p.string()).c_str());
        LoadResult r = loadConfig(p.string());
        CHECK_TEXT(r.loaded == nullptr, p.c_str());
        std::string text = joined(r.errors);
        CHECK_TEXT(text.find(p.string() + ":" + expect) != std::string::npos,
                   (p.string() + ": expected '" + expect + "' in:\n" + text).c_str());
    }
}

TEST(DaemonConfig, CheckConfigCommandRefusesEachBrokenExample)
{
    for (const fs::path &p : brokenExamples()) {
        std::string out;
        int status = runCommand(
                std::string(STOPLINED_BIN) + " --check-config --config " + p.string(), &out);
        LONGS_EQUAL_TEXT(1, status, out.c_str());
        CHECK_TEXT(out.find(p.string() + ":" + expectation(p)) != std::string::npos, out.c_str());
    }
    std::string out;
    int status = runCommand(std::string(STOPLINED_BIN) + " --check-config --config " +
                                    (kExamples / "intersection.toml").string(),
                            &out);
    LONGS_EQUAL_TEXT(0, status, out.c_str());
    CHECK(out.find(": ok") != std::string::npos);
    out.clear();
    LONGS_EQUAL(
            1, runCommand(std::string(STOPLINED_BIN) + " --check-config --config /nonexistent.toml",
                          &out));
    CHECK(out.find("/nonexistent.toml: no such configuration file") != std::string::npos);
}

TEST(DaemonConfig, EveryProblemIsReportedNotJustTheFirst)
{
    TempDir dir;
    fs::path p = copySimExample(dir);
    std::string text = readFile(p);
    text = std::regex_replace(text, std::regex("grace_s = 0.3"), "grace_s = 7");
    text = std::regex_replace(text, std::regex("limit = 25"), "limit = \"fast\"");
    text = std::regex_replace(text, std::regex("\\[clock\\]"), "[clock]\nrequire_sink = false");
    std::ofstream(p) << text;
    LoadResult r = loadConfig(p.string());
    std::string all = joined(r.errors);
    LONGS_EQUAL_TEXT(3, r.errors.size(), all.c_str());
    CHECK(all.find("red_light.grace_s: 7.0 is out of range") != std::string::npos);
    CHECK(all.find("school_zone.limit: expected a number, got a string") != std::string::npos);
    CHECK(all.find("clock.require_sink: unknown key (did you mean 'clock.require_sync'?)") !=
          std::string::npos);
    /* In file order, each with its line. */
    CHECK(r.errors[0].line < r.errors[1].line && r.errors[1].line < r.errors[2].line);
}

TEST(DaemonConfig, OverridesAndCalibrationApplyOverTheFile)
{
    TempDir dir;
    fs::path p = copySimExample(dir);
    fs::create_directories(dir.path / "state");
    std::ofstream(dir.path / "state/overrides.toml")
            << overrideLine("red_light.grace_s", "0.5") << overrideLine("log.level", "debug")
            << overrideLine("site.description", "Main St (moved)");
    Calibration cal;
    cal.id = "cal-test-2";
    cal.radarAngleDeg = 14.5;
    cal.lanes.push_back({"north", 2, 5.5, 6.6});
    std::ofstream(dir.path / "state/calibration.toml") << calibrationText(cal);

    LoadResult r = loadConfig(p.string());
    STRCMP_EQUAL("", joined(r.errors).c_str());
    const DaemonConfig &c = r.loaded->config;
    DOUBLES_EQUAL(0.5, c.redLight.graceS, 1e-12);
    STRCMP_EQUAL("debug", c.log.level.c_str());
    STRCMP_EQUAL("Main St (moved)", c.site.description.c_str()); /* typed without quotes */
    STRCMP_EQUAL("cal-test-2", c.site.calibrationId.c_str());
    DOUBLES_EQUAL(14.5, c.schoolZone.cosineAngleDeg, 1e-12);
    DOUBLES_EQUAL(5.5, c.redLight.lanes[1].stopLineFromEntryM, 1e-12);
    DOUBLES_EQUAL(6.6, c.loops.lanes[1].spacingM, 1e-12);
    DOUBLES_EQUAL(5.8, c.redLight.lanes[0].stopLineFromEntryM, 1e-12); /* lane 1 untouched */

    /* A calibration that puts the stop line past the exit loop is refused as a whole. */
    LayerOverrides bad;
    cal.lanes[0].stopLineFromEntryM = 9.0;
    bad.calibration = cal;
    LoadResult refused = loadConfig(p.string(), bad);
    CHECK(refused.loaded == nullptr);
    CHECK(joined(refused.errors).find("red_light.lanes[1].stop_line_from_entry_m") !=
          std::string::npos);
}

TEST(DaemonConfig, OverridesMayNotTouchIdentityOrAddLists)
{
    TempDir dir;
    fs::path p = copySimExample(dir);
    fs::create_directories(dir.path / "state");
    LayerOverrides layers;
    layers.overridesText = "device.id = \"someone-else\"\n";
    LoadResult r = loadConfig(p.string(), layers);
    CHECK(r.loaded == nullptr);
    CHECK(joined(r.errors).find("overrides.toml:1: device: may only be set in the main file") !=
          std::string::npos);
    layers.overridesText = "[[gpio.lines]]\nname = \"EXTRA\"\n";
    r = loadConfig(p.string(), layers);
    CHECK(r.loaded == nullptr);
    CHECK(joined(r.errors).find(
                  "gpio.lines: lists of tables belong in the main configuration file") !=
          std::string::npos);
}

TEST(DaemonConfig, OverrideLinesQuoteOnlyText)
{
    STRCMP_EQUAL("red_light.grace_s = 0.4\n", overrideLine("red_light.grace_s", "0.4").c_str());
    STRCMP_EQUAL("clock.require_sync = true\n", overrideLine("clock.require_sync", "true").c_str());
    STRCMP_EQUAL("site.description = \"Main \\\"St\\\"\"\n",
                 overrideLine("site.description", "Main \"St\"").c_str());
    STRCMP_EQUAL("school_zone.windows = [\"07:00-09:00\"]\n",
                 overrideLine("school_zone.windows", "[\"07:00-09:00\"]").c_str());
}

TEST(DaemonConfig, EffectiveTextCoversListsSoTheHashDoes)
{
    LoadResult a = loadConfig((kExamples / "sim.toml").string());
    CHECK(a.loaded != nullptr);
    std::string before = a.loaded->effectiveText();
    CHECK(before.find("[[red_light.lanes]]") != std::string::npos);
    a.loaded->config.redLight.lanes[0].stopLineFromEntryM = 5.0;
    CHECK(configHash(before) != configHash(a.loaded->effectiveText()));
}

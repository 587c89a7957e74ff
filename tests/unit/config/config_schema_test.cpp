#include "firmware/config/config_schema.h"

#include <CppUTest/TestHarness.h>

using namespace stopline::firmware;

namespace {

struct Head
{
    std::string name, red, yellow, green;
};

struct Sample
{
    double grace = 0.3;
    long long retries = 3;
    bool enabled = true;
    std::string mode = "sim";
    std::string location;
    std::vector<std::string> days;
    std::vector<Head> heads;

    ConfigSchema schema()
    {
        ConfigSchema s;
        s.addDouble("rules.red_light.grace_s", &grace, 0.0, 1.0);
        s.addInt("upload.retries", &retries, 0, 100);
        s.addBool("rules.enabled", &enabled);
        s.addChoice("hardware.gpio.backend", &mode, {"gpiod", "sim"});
        s.addString("location.description", &location);
        s.addStringList("school.no_school_days", &days);
        s.addTableArray("signal.head", [this](size_t) {
            heads.emplace_back();
            Head &h = heads.back();
            ConfigSchema e;
            e.addString("name", &h.name);
            e.addString("red", &h.red);
            e.addString("yellow", &h.yellow);
            e.addString("green", &h.green);
            e.require("name");
            return e;
        });
        return s;
    }
};

std::vector<ConfigError> applyText(Sample &sample, ConfigSchema &s, const std::string &text)
{
    return s.apply(toml::parse(text), "site.toml");
}

} /* namespace */

TEST_GROUP(ConfigSchema){};

TEST(ConfigSchema, goodDocumentFillsTargets)
{
    Sample sample;
    ConfigSchema s = sample.schema();
    auto errors = applyText(sample, s, R"(
[rules]
enabled = false
[rules.red_light]
grace_s = 0.5
[upload]
retries = 7
[hardware.gpio]
backend = "gpiod"
[school]
no_school_days = ["2026-11-26", "2026-11-27"]
[[signal.head]]
name = "NB"
red = "NB_RED"
[[signal.head]]
name = "SB"
)");
    LONGS_EQUAL(0, errors.size());
    DOUBLES_EQUAL(0.5, sample.grace, 1e-12);
    LONGS_EQUAL(7, sample.retries);
    CHECK_FALSE(sample.enabled);
    STRCMP_EQUAL("gpiod", sample.mode.c_str());
    LONGS_EQUAL(2, sample.days.size());
    LONGS_EQUAL(2, sample.heads.size());
    STRCMP_EQUAL("NB_RED", sample.heads[0].red.c_str());
    STRCMP_EQUAL("SB", sample.heads[1].name.c_str());
}

TEST(ConfigSchema, unknownKeyNamesKeyLineAndSuggestion)
{
    Sample sample;
    ConfigSchema s = sample.schema();
    auto errors = applyText(sample, s, "[rules.red_light]\n\ngrace_sec = 0.2\n");
    LONGS_EQUAL(1, errors.size());
    STRCMP_EQUAL("site.toml:3: rules.red_light.grace_sec: unknown key (did you mean "
                 "'rules.red_light.grace_s'?)",
                 errors[0].text().c_str());
    DOUBLES_EQUAL(0.3, sample.grace, 1e-12);
}

TEST(ConfigSchema, wrongTypeAndRangeAreErrors)
{
    Sample sample;
    ConfigSchema s = sample.schema();
    auto errors = applyText(sample, s,
                            "[upload]\nretries = \"three\"\n[rules.red_light]\ngrace_s = 2\n"
                            "[hardware.gpio]\nbackend = \"gpio\"\n[rules]\nenabled = 1\n");
    LONGS_EQUAL(4, errors.size());
    STRCMP_EQUAL("site.toml:2: upload.retries: expected an integer, got a string",
                 errors[0].text().c_str());
    STRCMP_EQUAL("site.toml:4: rules.red_light.grace_s: 2.0 is out of range 0.0..1.0",
                 errors[1].text().c_str());
    CHECK(errors[2].text().find("\"gpio\" is not one of \"gpiod\", \"sim\"") != std::string::npos);
    CHECK(errors[3].text().find("rules.enabled: expected true or false") != std::string::npos);
}

TEST(ConfigSchema, tableArrayElementsAreCheckedWithIndex)
{
    Sample sample;
    ConfigSchema s = sample.schema();
    auto errors = applyText(sample, s, "[[signal.head]]\nred = \"R\"\ncolour = 3\n");
    LONGS_EQUAL(2, errors.size());
    STRCMP_EQUAL("site.toml:1: signal.head[0].name: required key is missing",
                 errors[0].text().c_str());
    STRCMP_EQUAL("site.toml:3: signal.head[0].colour: unknown key", errors[1].text().c_str());
}

TEST(ConfigSchema, syntaxErrorCarriesTheLine)
{
    Sample sample;
    ConfigSchema s = sample.schema();
    char path[] = "/tmp/stopline-config-XXXXXX";
    int fd = mkstemp(path);
    std::string text = "[upload]\nretries = 3\nthis is not toml\n";
    CHECK(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    close(fd);
    auto errors = s.applyFile(path);
    unlink(path);
    LONGS_EQUAL(1, errors.size());
    LONGS_EQUAL(3, errors[0].line);
    CHECK(errors[0].message.find("TOML syntax error") == 0);
}

TEST(ConfigSchema, applyOneParsesByDeclaredTypeAndAcceptsBareText)
{
    Sample sample;
    ConfigSchema s = sample.schema();
    CHECK_FALSE(s.applyOne("rules.red_light.grace_s", "0.25"));
    DOUBLES_EQUAL(0.25, sample.grace, 1e-12);
    auto problem = s.applyOne("rules.red_light.grace_s", "5");
    CHECK(problem && problem->find("out of range") != std::string::npos);
    DOUBLES_EQUAL(0.25, sample.grace, 1e-12);
    CHECK_FALSE(s.applyOne("location.description", "NE 8th St & 112th Ave NE"));
    STRCMP_EQUAL("NE 8th St & 112th Ave NE", sample.location.c_str());
    CHECK(s.applyOne("rules.red_light.grace", "0.2")->find("did you mean") != std::string::npos);
    CHECK(s.applyOne("upload.retries", "many").has_value());
}

TEST(ConfigSchema, dumpShowsEffectiveValuesBySection)
{
    Sample sample;
    ConfigSchema s = sample.schema();
    std::string text = s.dump();
    CHECK(text.find("[rules.red_light]\ngrace_s = 0.3\n") != std::string::npos);
    CHECK(text.find("[hardware.gpio]\nbackend = \"sim\"\n") != std::string::npos);
    /* The dump is valid TOML that applies back cleanly. */
    Sample other;
    ConfigSchema o = other.schema();
    LONGS_EQUAL(0, o.apply(toml::parse(text), "dump").size());
}

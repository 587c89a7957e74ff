#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "drivers/radar/ops243_parser.h"
#include "sim/ops243.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::sim;
using drivers::radar::LineKind;
using drivers::radar::Ops243Parser;

namespace {

std::vector<std::string> lines(const std::string &text)
{
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t end = text.find("\r\n", at);
        CHECK_TEXT(end != std::string::npos, "every line ends in CR LF");
        out.push_back(text.substr(at, end - at));
        at = end + 2;
    }
    return out;
}

/* The project's own OPS243 parser, written independently from the emulator: what one
 * says, the other must understand. */
LineKind parse(Ops243Parser &parser, const std::string &line)
{
    return parser.parseLine(line, Stamp{1, 1});
}

} /* namespace */

TEST_GROUP(Ops243)
{
    RadarSpec spec;
};

TEST(Ops243, QueriesAnswerVerbatimStyleJson)
{
    Ops243Emulator radar(spec);
    auto info = lines(radar.feed("??", 54.2));
    CHECK(info.size() >= 8);
    STRCMP_EQUAL("{\"Product\":\"OPS243\"}", info[0].c_str());
    STRCMP_EQUAL("{\"SamplingRate\":10000, \"resolution\":0.0607}", info[2].c_str());
    STRCMP_EQUAL("{\"Clock\":\"54\"}", info[4].c_str());
    STRCMP_EQUAL("{\"Product\":\"OPS243 Doppler\"}\r\n", radar.feed("?P", 0).c_str());
    STRCMP_EQUAL("{\"Version\":\"1.3.1\"}\r\n", radar.feed("?V", 0).c_str());
    STRCMP_EQUAL("{\"Build\":\"20181005_1335\"}\r\n", radar.feed("?B", 0).c_str());
    STRCMP_EQUAL("{\"UID\":\"b2000040b7a12400d5188041\"}\r\n", radar.feed("?U", 0).c_str());
    STRCMP_EQUAL("{\"Frequency\":\"24.125\"}\r\n", radar.feed("?F", 0).c_str());
    STRCMP_EQUAL("{\"Units\":\"m-per-sec\"}\r\n", radar.feed("U?", 0).c_str());
    STRCMP_EQUAL("{\"Clock\":\"137\"}\r\n", radar.feed("C?", 137.429).c_str());
    STRCMP_EQUAL("{\"DetectedObjectCount\":0}\r\n", radar.feed("N?", 0).c_str());
    CHECK(radar.feed("?R", 0).find("\"ResetReason\": \"Status from bitmask\"") == 2);

    Ops243Parser parser;
    for (const char *q : {"??", "?P", "?V", "?B", "?U", "?R", "?F", "U?", "C?", "N?"})
        for (const auto &l : lines(radar.feed(q, 1)))
            CHECK_TEXT(parse(parser, l) == LineKind::Reply, l.c_str());
}

TEST(Ops243, SettingsReplyAndTakeEffect)
{
    Ops243Emulator radar(spec);
    STRCMP_EQUAL("{\"Units\":\"mph\"}\r\n", radar.feed("US", 0).c_str());
    STRCMP_EQUAL("{\"Units\":\"km-per-hr\"}\r\n", radar.feed("UK", 0).c_str());
    STRCMP_EQUAL("{\"Units\":\"ft-per-sec\"}\r\n", radar.feed("UF", 0).c_str());
    STRCMP_EQUAL("{\"Units\":\"cm-per-sec\"}\r\n", radar.feed("UC", 0).c_str());
    STRCMP_EQUAL("{\"Units\":\"m-per-sec\"}\r\n", radar.feed("UM", 0).c_str());
    STRCMP_EQUAL("{\"OutputFeature\":\"J\"}\r\n", radar.feed("OJ", 0).c_str());
    CHECK(radar.jsonOutput());
    STRCMP_EQUAL("{\"OutputFeature\":\"j\"}\r\n", radar.feed("Oj", 0).c_str());
    CHECK(!radar.jsonOutput());
    STRCMP_EQUAL("{\"OutputFeature\":\"3\"}\r\n", radar.feed("O3", 0).c_str());
    LONGS_EQUAL(3, radar.targetCount());
    STRCMP_EQUAL("{\"OutputDecimals\":4}\r\n", radar.feed("F4", 0).c_str());
    LONGS_EQUAL(4, radar.decimals());
    /* a buffer's fill plus the FFT and output: 5.6 reports/s at the defaults (datasheet 5-6) */
    DOUBLES_EQUAL(0.1024 + 0.076, radar.reportPeriodS(), 1e-12);
    CHECK(1 / radar.reportPeriodS() > 5.0 && 1 / radar.reportPeriodS() < 6.0);
    STRCMP_EQUAL("{\"SampleSize\":512}\r\n", radar.feed("S<", 0).c_str());
    STRCMP_EQUAL("{\"SamplingRate\":20000}\r\n", radar.feed("S2", 0).c_str());
    DOUBLES_EQUAL(512.0 / 20000 + 0.076, radar.reportPeriodS(), 1e-12);
    STRCMP_EQUAL("{\"PowerMode\":\"Idle\"}\r\n", radar.feed("PI", 0).c_str());
    CHECK(!radar.streaming());
    radar.feed("PA", 0);
    CHECK(radar.streaming());
    LONGS_EQUAL(0, radar.unknownCommands());
    /* several commands in one write, split across reads, with stray CR/LF between */
    std::string a = radar.feed("US\r\nO", 0);
    std::string b = radar.feed("J?", 0);
    std::string c = radar.feed("P", 0);
    STRCMP_EQUAL("{\"Units\":\"mph\"}\r\n", a.c_str());
    STRCMP_EQUAL("{\"OutputFeature\":\"J\"}\r\n", b.c_str());
    STRCMP_EQUAL("{\"Product\":\"OPS243 Doppler\"}\r\n", c.c_str());
    /* an unknown command is counted and not answered */
    STRCMP_EQUAL("", radar.feed("ZZ", 0).c_str());
    LONGS_EQUAL(1, radar.unknownCommands());
}

TEST(Ops243, ArgumentCommandsWaitForTheCarriageReturn)
{
    Ops243Emulator radar(spec);
    radar.feed("US", 0);
    STRCMP_EQUAL("", radar.feed("R>1", 0).c_str());
    STRCMP_EQUAL("{\"RequiredMinSpeed\":\"15.000\"}\r\n", radar.feed("5\r", 0).c_str());
    /* below the filter: nothing reported */
    STRCMP_EQUAL("", radar.report({{mphToMps(12), 100, 1}}, 1).c_str());
    CHECK(radar.report({{mphToMps(20), 100, 1}}, 1) != "");
    STRCMP_EQUAL("{\"error\":\"bad argument\"}\r\n", radar.feed("R<x\r", 0).c_str());
}

TEST(Ops243, DataLinesInEveryFormParseToTheBinnedSpeed)
{
    struct Form
    {
        const char *commands;
        Ops243Parser::Options::TwoFields two;
    };
    const Form forms[] = {{"US", Ops243Parser::Options::TwoFields::TimeSpeed},
                          {"USOT", Ops243Parser::Options::TwoFields::TimeSpeed},
                          {"USOM", Ops243Parser::Options::TwoFields::MagnitudeSpeed},
                          {"USOTOM", Ops243Parser::Options::TwoFields::TimeSpeed},
                          {"USOJ", Ops243Parser::Options::TwoFields::TimeSpeed},
                          {"USOJOTOM", Ops243Parser::Options::TwoFields::TimeSpeed},
                          {"USOJO3OM", Ops243Parser::Options::TwoFields::TimeSpeed}};
    for (const auto &form : forms) {
        Ops243Emulator radar(spec);
        radar.feed(form.commands, 0);
        Ops243Parser::Options opts;
        opts.twoFields = form.two;
        opts.unit = drivers::SpeedUnit::Mph;
        Ops243Parser parser(opts);
        std::vector<Ops243Emulator::Reported> rep;
        std::string text =
                radar.report({{mphToMps(31.7), 900, 1}, {-mphToMps(12.2), 300, 2}}, 137.429, &rep);
        auto ls = lines(text);
        CHECK(!ls.empty());
        for (const auto &l : ls)
            CHECK_TEXT(parse(parser, l) == LineKind::Report, (form.commands + (": " + l)).c_str());
        /* the strongest target first; within half a Doppler bin of the truth */
        const auto &report = parser.report();
        double res = mpsToMph(radar.resolutionMps());
        if (ls.size() == 1) {
            DOUBLES_EQUAL(31.7, report.targets[0].speed, res / 2 + 0.005);
        }
        DOUBLES_EQUAL(rep[0].value, mpsToMph(rep[0].mps), 0.005);
        if (std::string(form.commands).find("O3") != std::string::npos) {
            LONGS_EQUAL(2, report.targets.size());
            DOUBLES_EQUAL(-12.2, report.targets[1].speed, res / 2 + 0.005);
            DOUBLES_EQUAL(900, report.targets[0].magnitude, 0.01);
        }
        if (std::string(form.commands).find("OT") != std::string::npos) {
            CHECK(report.sensorTimeS.has_value());
            DOUBLES_EQUAL(137.429, *report.sensorTimeS, 1e-9);
        }
    }
}

TEST(Ops243, JsonValuesQuotedOrNumbers)
{
    Ops243Emulator quoted(spec);
    quoted.feed("USOJOM", 0);
    /* 22 mph lands in Doppler bin 162 of 0.0607 m/s */
    double res = quoted.resolutionMps();
    char speed[32];
    std::snprintf(speed, sizeof speed, "%.2f", mpsToMph(std::round(mphToMps(22.0) / res) * res));
    STRCMP_EQUAL(
            (std::string("{\"magnitude\":\"900.00\", \"speed\":\"") + speed + "\"}\r\n").c_str(),
            quoted.report({{mphToMps(22.0), 900, 1}}, 0).c_str());
    RadarSpec numbers = spec;
    numbers.jsonNumbers = true;
    Ops243Emulator bare(numbers);
    bare.feed("USOJ", 0);
    STRCMP_EQUAL((std::string("{\"speed\":") + speed + "}\r\n").c_str(),
                 bare.report({{mphToMps(22.0), 900, 1}}, 0).c_str());
}

TEST(Ops243, QuantizesToDopplerBinsAndFolds)
{
    Ops243Emulator radar(spec);
    DOUBLES_EQUAL(0.0607, radar.resolutionMps(), 0.0001); /* the manual's figure */
    DOUBLES_EQUAL(69.5, mpsToMph(radar.maxSpeedMps()), 0.05);
    radar.feed("US", 0);
    std::vector<Ops243Emulator::Reported> rep;
    radar.report({{mphToMps(80), 100, 1}}, 0, &rep);
    /* beyond the Nyquist speed the FFT folds it over */
    DOUBLES_EQUAL(80 - 2 * mpsToMph(radar.maxSpeedMps()), rep[0].value, 0.1);
    radar.feed("S2", 0);
    radar.report({{mphToMps(80), 100, 1}}, 0, &rep);
    DOUBLES_EQUAL(80, rep[0].value, 0.15);
    /* two vehicles in one bin are one target, stronger together */
    radar.report({{mphToMps(30), 100, 1}, {mphToMps(30.01), 50, 2}}, 0, &rep);
    LONGS_EQUAL(1, rep.size());
    DOUBLES_EQUAL(150, rep[0].magnitude, 1e-9);
    LONGS_EQUAL(2, rep[0].vehicles.size());
    /* nothing in the beam, nothing sent */
    STRCMP_EQUAL("", radar.report({}, 0).c_str());
    /* and N? counts the vehicles seen */
    STRCMP_EQUAL("{\"DetectedObjectCount\":2}\r\n", radar.feed("N?", 0).c_str());
}

TEST(Ops243, GarbageIsNeverAValidRecord)
{
    std::mt19937_64 rng(42);
    Ops243Parser parser;
    parser.setLogger([](std::string_view) {});
    int rejected = 0;
    for (int i = 0; i < 3000; ++i) {
        std::string line = radarGarbageLine(rng);
        CHECK(line.size() >= 3 && line.substr(line.size() - 2) == "\r\n");
        CHECK(line.substr(0, line.size() - 2).find_first_of("\r\n") == std::string::npos);
        LineKind kind = parse(parser, line.substr(0, line.size() - 2));
        CHECK_TEXT(kind == LineKind::Rejected, line.c_str());
        rejected += kind == LineKind::Rejected;
    }
    LONGS_EQUAL(3000, parser.counters().rejectedTotal());
}

/* Current firmware answers with the newer keys and spellings (OPS243-C captures: UK ->
 * {"SpeedUnit":"kmph"}, OJ -> {"SpeedOutputFeature":"J"}, F0 -> {"FormatDigits":0},
 * S2 -> {"DopplerSampleRateHz":20000}, R+ -> {"RequiredDirection":"Towards Only"}, A! ->
 * {"INFO":...}), keeps a cosine angle in flash and names the reset cause. */
TEST(Ops243, CurrentFirmwareRepliesAsDocumented)
{
    RadarSpec current = spec;
    current.firmware = RadarFirmware::Gen2025;
    current.flashCosineDeg = 20;
    Ops243Emulator radar(current);
    STRCMP_EQUAL("{\"SpeedUnit\":\"kmph\"}\r\n", radar.feed("UK", 0).c_str());
    STRCMP_EQUAL("{\"SpeedUnit\":\"mph\"}\r\n", radar.feed("US", 0).c_str());
    STRCMP_EQUAL("{\"SpeedOutputFeature\":\"J\"}\r\n", radar.feed("OJ", 0).c_str());
    STRCMP_EQUAL("{\"FormatDigits\":0}\r\n", radar.feed("F0", 0).c_str());
    STRCMP_EQUAL("{\"DopplerSampleRateHz\":20000}\r\n", radar.feed("S2", 0).c_str());
    STRCMP_EQUAL("{\"RequiredDirection\":\"Towards Only\"}\r\n", radar.feed("R+", 0).c_str());
    STRCMP_EQUAL("{\"InboundSensorAngleDegrees\": 20.00, \"OutboundSensorAngleDegrees\": 0.00}\r\n",
                 radar.feed("^?", 0).c_str());
    STRCMP_EQUAL("{\"InboundSensorAngleDegrees\": 0.00, \"OutboundSensorAngleDegrees\": 0.00}\r\n",
                 radar.feed("^/+0\r", 0).c_str());
    STRCMP_EQUAL("{\"INFO\":\"Saving current values to Persistent Settings\"}\r\n",
                 radar.feed("A!", 0).c_str());
    CHECK(radar.feed("?R", 0).find("\"POWER_ON\" : true") != std::string::npos);
    radar.powerOn("watchdog");
    CHECK(radar.feed("?R", 0).find("\"SUPPLY_WATCHDOG\" : true") != std::string::npos);
    LONGS_EQUAL(0, radar.unknownCommands());
}

/* 2019 firmware has no cosine correction: ^n was the LED test and nothing comes back. */
TEST(Ops243, OldFirmwareIgnoresCosineCommands)
{
    Ops243Emulator radar(spec);
    STRCMP_EQUAL("", radar.feed("^?", 0).c_str());
    STRCMP_EQUAL("", radar.feed("^/+0\r", 0).c_str());
    CHECK(radar.feed("?R", 0).find("\"Power On\" : true") != std::string::npos);
}

/* A reset brings back the power-on settings (m/s, plain, no time) whatever the host set,
 * and a saved cosine angle raises inbound speeds by 1/cos. */
TEST(Ops243, ResetRestoresPowerOnSettingsAndFlash)
{
    RadarSpec current = spec;
    current.firmware = RadarFirmware::Gen2025;
    Ops243Emulator radar(current);
    radar.feed("USOJOT", 0);
    radar.setFlashCosine(20);
    radar.powerOn("brownout");
    CHECK(!radar.jsonOutput());
    STRCMP_EQUAL("m-per-sec", std::string(radar.unitsName()).c_str());
    DOUBLES_EQUAL(20, radar.inboundCosineDeg(), 0);
    std::vector<Ops243Emulator::Reported> reported;
    std::string out = radar.report({{13.41, 100, 1}}, 1.0, &reported);
    DOUBLES_EQUAL(13.41 / std::cos(20 * M_PI / 180), reported.at(0).mps, 0.07);
    CHECK(radar.feed("?R", 0).find("\"POWER_VALIDATION\" : true") != std::string::npos);
}

/* Zero-fill saved in flash (BZ): a zero every interval with nothing in the beam; BV stops it. */
TEST(Ops243, ZeroFillReportsNothingAsZero)
{
    RadarSpec filled = spec;
    filled.flashZeroFill = true;
    Ops243Emulator radar(filled);
    STRCMP_EQUAL("0.00\r\n", radar.report({}, 1.0).c_str());
    radar.feed("BV", 0);
    STRCMP_EQUAL("", radar.report({}, 1.0).c_str());
}

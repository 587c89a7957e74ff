#include "drivers/radar/ops243_parser.h"

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::drivers;
using namespace stopline::drivers::radar;

namespace {

Stamp stampAt(Nanos ns)
{
    return Stamp{ns, ns + 10};
}

} /* namespace */

TEST_GROUP(Ops243Parser)
{
    Ops243Parser parser;
    std::vector<std::string> logged;

    void setup() override
    {
        parser.setLogger([this](std::string_view m) { logged.emplace_back(m); });
        parser.setUnit(SpeedUnit::Mph);
    }

    const RadarReport &report(const char *line)
    {
        LineKind kind = parser.parseLine(line, stampAt(1000));
        if (kind != LineKind::Report)
            FAIL((std::string("not a report: ") + line + " -> " + parser.lastError()).c_str());
        return parser.report();
    }
};

TEST(Ops243Parser, PlainSpeedKeepsTheSign)
{
    const RadarReport &r = report("-88.3");
    LONGS_EQUAL(1, r.targets.size());
    DOUBLES_EQUAL(-88.3, r.targets[0].speed, 1e-9);
    DOUBLES_EQUAL(0, r.targets[0].magnitude, 0);
    CHECK(!r.sensorTimeS);
    CHECK(r.unit == SpeedUnit::Mph);
    LONGS_EQUAL(1000, r.at.sampleNs);
    DOUBLES_EQUAL(12.5, report("12.5").targets[0].speed, 1e-9);
    DOUBLES_EQUAL(3.0, report(" 3 \r").targets[0].speed, 1e-9);
}

TEST(Ops243Parser, TimePrefixedPlainLine)
{
    const RadarReport &r = report("137.429, 3.6");
    DOUBLES_EQUAL(3.6, r.targets[0].speed, 1e-9);
    CHECK(r.sensorTimeS.has_value());
    DOUBLES_EQUAL(137.429, *r.sensorTimeS, 1e-9);
}

TEST(Ops243Parser, TimeMagnitudeSpeedPlainLine)
{
    const RadarReport &r = report("137.429, 467.72, -3.6");
    DOUBLES_EQUAL(-3.6, r.targets[0].speed, 1e-9);
    DOUBLES_EQUAL(467.72, r.targets[0].magnitude, 1e-9);
    DOUBLES_EQUAL(137.429, *r.sensorTimeS, 1e-9);
}

TEST(Ops243Parser, TwoFieldsAsMagnitudeSpeedWhenConfigured)
{
    parser.setTwoFields(Ops243Parser::Options::TwoFields::MagnitudeSpeed);
    const RadarReport &r = report("467.72, -3.6");
    DOUBLES_EQUAL(467.72, r.targets[0].magnitude, 1e-9);
    DOUBLES_EQUAL(-3.6, r.targets[0].speed, 1e-9);
    CHECK(!r.sensorTimeS);
}

TEST(Ops243Parser, PlainLineWithQuotedUnit)
{
    const RadarReport &r = report(R"("km-per-hr",137.429, -42.5)");
    CHECK(r.unit == SpeedUnit::Kmh);
    DOUBLES_EQUAL(-42.5, r.targets[0].speed, 1e-9);
    DOUBLES_EQUAL(137.429, *r.sensorTimeS, 1e-9);
    CHECK(parser.unit() == SpeedUnit::Mph); /* the line's unit does not change the state */
    CHECK(report(R"("mph",12.3)").unit == SpeedUnit::Mph);
}

TEST(Ops243Parser, JsonQuotedValues)
{
    const RadarReport &r = report(R"({"magnitude":"467.72","speed":"-0.25","distance":"0.00"})");
    LONGS_EQUAL(1, r.targets.size());
    DOUBLES_EQUAL(-0.25, r.targets[0].speed, 1e-9);
    DOUBLES_EQUAL(467.72, r.targets[0].magnitude, 1e-9);
}

TEST(Ops243Parser, JsonNumbersWithDirectionTimeAndTick)
{
    const RadarReport &r =
            report(R"({"speed":0.58, "direction":"inbound", "time":105, "tick":135})");
    DOUBLES_EQUAL(0.58, r.targets[0].speed, 1e-9);
    DOUBLES_EQUAL(105, *r.sensorTimeS, 1e-9);
    CHECK(r.sensorTick.has_value());
    LONGS_EQUAL(135, *r.sensorTick);
    const RadarReport &out = report(R"({"speed":-4.5, "direction":"outbound"})");
    DOUBLES_EQUAL(-4.5, out.targets[0].speed, 1e-9);
}

TEST(Ops243Parser, QuotedAndUnquotedAreTheSame)
{
    double a = report(R"({"speed":"12.25","magnitude":"300"})").targets[0].speed;
    double b = report(R"({"speed":12.25,"magnitude":300})").targets[0].speed;
    DOUBLES_EQUAL(a, b, 0);
}

TEST(Ops243Parser, MultiTargetArraysStrongestFirst)
{
    const RadarReport &r =
            report(R"({"magnitude":[606.71, 352.58, 230.87], "speed":[-10.90, -12.26, -17.71]})");
    LONGS_EQUAL(3, r.targets.size());
    DOUBLES_EQUAL(-10.90, r.targets[0].speed, 1e-9);
    DOUBLES_EQUAL(606.71, r.targets[0].magnitude, 1e-9);
    DOUBLES_EQUAL(-12.26, r.targets[1].speed, 1e-9);
    DOUBLES_EQUAL(-17.71, r.targets[2].speed, 1e-9);
    DOUBLES_EQUAL(230.87, r.targets[2].magnitude, 1e-9);
    const RadarReport &q = report(R"({"magnitude":["606.7","352.5"],"speed":["10.9","-12.2"]})");
    LONGS_EQUAL(2, q.targets.size());
    DOUBLES_EQUAL(-12.2, q.targets[1].speed, 1e-9);
}

TEST(Ops243Parser, RangeLinesAreRecognisedNotSpeeds)
{
    CHECK(parser.parseLine(R"({"range":"12.3","magnitude":"400","time":"12.5"})", stampAt(1)) ==
          LineKind::Range);
    DOUBLES_EQUAL(12.3, parser.lastRange(), 1e-9);
    LONGS_EQUAL(1, parser.counters().ranges);
    LONGS_EQUAL(0, parser.counters().reports);
}

TEST(Ops243Parser, EveryReplyInTheReferenceIsAReply)
{
    const char *replies[] = {
            R"({"Product":"OPS243"})",
            R"({"Version":"1.0.0"})",
            R"({"SamplingRate":10000, "resolution":0.0607})",
            R"({"SampleSize":1024})",
            R"({"Clock":"54"})",
            R"({"PowerMode":"Continuous"})",
            R"({"Squelch":"100"})",
            R"({"RequiredMinSpeed":"0.000"})",
            R"({"Product":"OPS243 Doppler"})",
            R"({"Version":"1.3.1"})",
            R"({"Build":"20181005_1335"})",
            R"({"UID":"b2000040b7a12400d5188041"})",
            R"({ "ResetReason": "Status from bitmask", "Power On" : true, "Supply Watchdog" : true, "Power Validation" : true })",
            R"({"Clock":"50"})",
            R"({"Clock":"137.429"})",
            R"({"DetectedObjectCount":3})",
            R"({"DetectedObjectCount":0})",
            R"({"OutputFeature":"J"})",
            R"({"Units":"mph"})",
    };
    for (const char *line : replies)
        CHECK_TEXT(parser.parseLine(line, stampAt(1)) == LineKind::Reply, line);
    LONGS_EQUAL(sizeof(replies) / sizeof(replies[0]), parser.counters().replies);
    LONGS_EQUAL(0, parser.counters().rejectedTotal());

    parser.parseLine(R"({ "ResetReason": "Status from bitmask", "Power On" : true })", stampAt(1));
    STRCMP_EQUAL("Status from bitmask", parser.reply().find("ResetReason")->c_str());
    STRCMP_EQUAL("true", parser.reply().find("Power On")->c_str());
    parser.parseLine(R"({"SamplingRate":10000, "resolution":0.0607})", stampAt(1));
    STRCMP_EQUAL("10000", parser.reply().find("SamplingRate")->c_str());
}

TEST(Ops243Parser, UnitsReplySwitchesUnits)
{
    Ops243Parser fresh;
    fresh.setLogger(nullptr);
    CHECK(fresh.unit() == SpeedUnit::MetersPerSecond); /* the sensor's power-on default */
    CHECK(fresh.parseLine(R"({"Units":"km-per-hr"})", stampAt(1)) == LineKind::Reply);
    CHECK(fresh.parseLine("50.0", stampAt(2)) == LineKind::Report);
    CHECK(fresh.report().unit == SpeedUnit::Kmh);
    CHECK(fresh.parseLine(R"({"Units":"m-per-sec"})", stampAt(3)) == LineKind::Reply);
    CHECK(fresh.parseLine("5.0", stampAt(4)) == LineKind::Report);
    CHECK(fresh.report().unit == SpeedUnit::MetersPerSecond);
    /* A unit the parser does not know: speeds are refused rather than misread. */
    CHECK(fresh.parseLine(R"({"Units":"furlongs-per-fortnight"})", stampAt(5)) == LineKind::Reply);
    CHECK(!fresh.unitKnown());
    CHECK(fresh.parseLine("5.0", stampAt(6)) == LineKind::Rejected);
    CHECK(fresh.lastReject() == RejectReason::UnknownUnits);
    CHECK(fresh.parseLine(R"({"Units":"mph"})", stampAt(7)) == LineKind::Reply);
    CHECK(fresh.parseLine("5.0", stampAt(8)) == LineKind::Report);
    CHECK(fresh.report().unit == SpeedUnit::Mph);
}

TEST(Ops243Parser, BlankLinesAreNotRejections)
{
    CHECK(parser.parseLine("", stampAt(1)) == LineKind::Blank);
    CHECK(parser.parseLine("  \r", stampAt(1)) == LineKind::Blank);
    LONGS_EQUAL(0, parser.counters().rejectedTotal());
}

TEST(Ops243Parser, MalformedLinesAreCountedPerReasonAndNothingElseIsLost)
{
    struct Case
    {
        std::string line;
        RejectReason reason;
    };
    std::string members = "{";
    for (int i = 0; i < 30; ++i)
        members += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":1";
    members += "}";
    const std::vector<Case> cases = {
            {"12.3abc", RejectReason::BadNumber},
            {"abc", RejectReason::BadNumber},
            {"--5", RejectReason::BadNumber},
            {"0x10", RejectReason::BadNumber},
            {"12 34", RejectReason::BadNumber},
            {std::string(200, '0'), RejectReason::BadNumber},
            {"}{\"speed\":12}", RejectReason::BadNumber},
            {"-", RejectReason::BadNumber},
            {R"("mpx",abc)", RejectReason::UnknownUnits},
            {"1,2,3,4", RejectReason::TooManyFields},
            {",5.0", RejectReason::EmptyField},
            {"5.0,", RejectReason::EmptyField},
            {"nan", RejectReason::NotFinite},
            {"-inf", RejectReason::NotFinite},
            {"1e999", RejectReason::NotFinite},
            {"999", RejectReason::OutOfRange},
            {"-1, 5.0", RejectReason::Negative},
            {std::string("12\x01", 3), RejectReason::ControlCharacter},
            {std::string("5.0\0", 4), RejectReason::ControlCharacter},
            {"\xff\xfe", RejectReason::NonAscii},
            {std::string(300, '1'), RejectReason::TooLong},
            {R"({"speed":1.0)", RejectReason::JsonSyntax},
            {R"({'speed':1.0})", RejectReason::JsonSyntax},
            {R"({"speed":01})", RejectReason::JsonSyntax},
            {R"({"speed":NaN})", RejectReason::JsonSyntax},
            {"[1,2]", RejectReason::JsonNotObject},
            {R"("speed")", RejectReason::JsonNotObject},
            {R"({"speed":{"v":1}})", RejectReason::JsonNested},
            {R"({"speed":[[1]]})", RejectReason::JsonNested},
            {R"({"speed":1} x)", RejectReason::JsonTrailing},
            {R"({"speed":1,"speed":2})", RejectReason::JsonDuplicateKey},
            {members, RejectReason::JsonTooLarge},
            {"{}", RejectReason::EmptyObject},
            {R"({"speed":"fast"})", RejectReason::BadValue},
            {R"({"speed":true})", RejectReason::BadValue},
            {R"({"speed":"1.0\n"})", RejectReason::BadValue},
            {R"({"speed":1.0,"direction":"sideways"})", RejectReason::BadValue},
            {R"({"speed":1.0,"tick":1.5})", RejectReason::BadValue},
            {R"({"speed":[]})", RejectReason::EmptyArray},
            {R"({"speed":[1,2],"magnitude":[3]})", RejectReason::ArrayMismatch},
            {R"({"speed":[1,2],"magnitude":3})", RejectReason::ArrayMismatch},
            {R"({"speed":[1,2,3,4,5,6,7,8,9,10]})", RejectReason::TooManyTargets},
            {R"({"speed":-3.0,"direction":"inbound"})", RejectReason::DirectionConflict},
            {R"({"speed":1.0,"unit":"furlongs"})", RejectReason::UnknownUnits},
            {R"({"speed":1.0,"magnitude":-5})", RejectReason::Negative},
            {R"({"speed":1.0,"time":-3})", RejectReason::Negative},
            {R"({"speed":"1e400"})", RejectReason::NotFinite},
            {R"({"speed":500})", RejectReason::OutOfRange},
    };

    std::set<RejectReason> reasons;
    std::uint64_t good = 0;
    for (const Case &c : cases) {
        CHECK_TEXT(parser.parseLine(c.line, stampAt(5)) == LineKind::Rejected, c.line.c_str());
        CHECK_EQUAL_TEXT(rejectReasonName(c.reason),
                         std::string(rejectReasonName(parser.lastReject())), c.line.c_str());
        CHECK(parser.lastError().find(rejectReasonName(c.reason)) != std::string::npos);
        reasons.insert(c.reason);
        /* A good line right after garbage still parses: nothing accepted is lost. */
        CHECK(parser.parseLine("10.5", stampAt(6)) == LineKind::Report);
        ++good;
    }
    CHECK(cases.size() >= 20);
    CHECK(reasons.size() >= 20);
    LONGS_EQUAL(cases.size(), parser.counters().rejectedTotal());
    LONGS_EQUAL(good, parser.counters().reports);
    LONGS_EQUAL(8, parser.counters().rejectedFor(RejectReason::BadNumber));
    LONGS_EQUAL(4, parser.counters().rejectedFor(RejectReason::JsonSyntax));
    /* One log line per rejection (below the rate limit), naming the reason. */
    LONGS_EQUAL(cases.size(), logged.size());
    CHECK(logged[0].find("bad_number") != std::string::npos);
    CHECK(logged[0].find("12.3abc") != std::string::npos);
}

TEST(Ops243Parser, LogIsRateLimitedPerReasonButCountsAreExact)
{
    for (int i = 0; i < 2500; ++i)
        parser.parseLine("garbage", stampAt(i));
    LONGS_EQUAL(2500, parser.counters().rejectedFor(RejectReason::BadNumber));
    LONGS_EQUAL(10 + 2, logged.size()); /* the first 10, then the 1000th and 2000th */
    CHECK(logged.back().find("2000 so far") != std::string::npos);
}

TEST(Ops243Parser, TruncatedLinesAreRejected)
{
    CHECK(parser.parseLine("12.5", stampAt(1), true) == LineKind::Rejected);
    CHECK(parser.lastReject() == RejectReason::TooLong);
}

TEST(Ops243Parser, UnknownReportKeysAreToleratedAndCounted)
{
    const RadarReport &r = report(R"({"speed":"3.5","snr":"12"})");
    DOUBLES_EQUAL(3.5, r.targets[0].speed, 1e-9);
    LONGS_EQUAL(1, parser.counters().unknownKeys);
}

TEST(Ops243Parser, JsonShapesTheSensorNeverSendsAreRefused)
{
    struct Case
    {
        std::string line;
        RejectReason reason;
    };
    std::string items = R"({"speed":[1],"magnitude":[)";
    for (int i = 0; i < 48; ++i)
        items += i ? ",1" : "1";
    items += "]}";
    const std::vector<Case> cases = {
            /* the same key spelled with an escape is still the same key */
            {R"({"speed":1,"sp\u0065ed":2})", RejectReason::JsonDuplicateKey},
            {R"({"speed":[{"v":1}]})", RejectReason::JsonNested},
            {R"({"speed":1,"v":{}})", RejectReason::JsonNested},
            {items, RejectReason::JsonTooLarge},
            {R"({"Product":"\ud800"})", RejectReason::JsonSyntax}, /* a lone surrogate */
            {R"({"speed":1,})", RejectReason::JsonSyntax},
            {R"({"speed":1}{"speed":2})", RejectReason::JsonTrailing},
            {R"("abc)", RejectReason::JsonNotObject},
            /* beyond a double even unquoted, whatever the key */
            {R"({"speed":1e400})", RejectReason::NotFinite},
            {R"({"Clock":-1e400})", RejectReason::NotFinite},
    };
    for (const Case &c : cases) {
        CHECK_TEXT(parser.parseLine(c.line, stampAt(5)) == LineKind::Rejected, c.line.c_str());
        CHECK_EQUAL_TEXT(rejectReasonName(c.reason),
                         std::string(rejectReasonName(parser.lastReject())), c.line.c_str());
    }
    LONGS_EQUAL(cases.size(), parser.counters().rejectedTotal());
}

TEST(Ops243Parser, JsonStringsWithEscapesAreNotNumbersOrWords)
{
    CHECK(parser.parseLine(R"({"speed":"\u0031.0"})", stampAt(1)) == LineKind::Rejected);
    CHECK(parser.lastReject() == RejectReason::BadValue);
    CHECK(parser.parseLine(R"({"speed":"1.0\t"})", stampAt(1)) == LineKind::Rejected);
    CHECK(parser.lastReject() == RejectReason::BadValue);
    CHECK(parser.parseLine(R"({"speed":1.0,"direction":"inb\u006fund"})", stampAt(1)) ==
          LineKind::Rejected);
    CHECK(parser.lastReject() == RejectReason::BadValue);
    CHECK(parser.parseLine(R"({"speed":1.0,"unit":"mp\u0068"})", stampAt(1)) == LineKind::Rejected);
    CHECK(parser.lastReject() == RejectReason::UnknownUnits);
}

TEST(Ops243Parser, JsonNumbersKeepTheirSignAndStrictness)
{
    CHECK(std::signbit(report(R"({"speed":-0})").targets[0].speed));
    CHECK(std::signbit(report(R"({"speed":"-0.0"})").targets[0].speed));
    DOUBLES_EQUAL(5.0, report(R"({"speed":"+5"})").targets[0].speed, 0);
    DOUBLES_EQUAL(3.5, report(R"({"speed":" 3.5 "})").targets[0].speed, 0);
    const RadarTarget &t = report(R"({"speed":-12E-2,"magnitude":1.2e+3})").targets[0];
    DOUBLES_EQUAL(-0.12, t.speed, 0);
    DOUBLES_EQUAL(1200, t.magnitude, 0);
    LONGS_EQUAL(18000000000000000000ull,
                *report(R"({"speed":1,"tick":18000000000000000000})").sensorTick);
    const std::vector<std::pair<std::string, RejectReason>> cases = {
            {R"({"speed":1e-400})", RejectReason::NotFinite}, /* underflow is no reading either */
            {R"({"speed":0.000000000000000000000000000000001})", RejectReason::BadValue},
            {R"({"speed":1,"tick":18446744073709551615})", RejectReason::BadValue},
            {R"({"speed":1,"tick":-1})", RejectReason::Negative},
            {R"({"speed":"+-5"})", RejectReason::BadValue},
            {R"({"speed":"0x10"})", RejectReason::BadValue},
            {R"({"speed":"inf"})", RejectReason::NotFinite},
    };
    for (const auto &[line, reason] : cases) {
        CHECK_TEXT(parser.parseLine(line, stampAt(5)) == LineKind::Rejected, line.c_str());
        CHECK_EQUAL_TEXT(rejectReasonName(reason),
                         std::string(rejectReasonName(parser.lastReject())), line.c_str());
    }
}

TEST(Ops243Parser, JsonRepliesKeepLiteralsAndUnescapeStrings)
{
    CHECK(parser.parseLine(R"({"Clock":-0, "Rate":1E+5, "List":[1, "a"], "On":true, "Off":null,)"
                           R"( "Name":"a\/b \"c\" \ud83d\ude00", "K\u0065y":"\u00e9"})",
                           stampAt(1)) == LineKind::Reply);
    const RadarReply &r = parser.reply();
    LONGS_EQUAL(7, r.fields.size());
    STRCMP_EQUAL("-0", r.find("Clock")->c_str());
    STRCMP_EQUAL("1E+5", r.find("Rate")->c_str());
    STRCMP_EQUAL(R"([1, "a"])", r.find("List")->c_str());
    STRCMP_EQUAL("true", r.find("On")->c_str());
    STRCMP_EQUAL("null", r.find("Off")->c_str());
    STRCMP_EQUAL("a/b \"c\" \xf0\x9f\x98\x80", r.find("Name")->c_str());
    STRCMP_EQUAL("\xc3\xa9", r.find("Key")->c_str());
}

/* ---- both firmware generations: each documented form, with where it is written ---- */

/* AN-010-J p5 / UM-003-A p8 (2018-19 firmware): unit replies spell "m-per-sec" etc. */
TEST(Ops243Parser, OldFirmwareUnitRepliesSwitchUnits)
{
    const char *replies[] = {R"({"Units":"m-per-sec"})", R"({"Units":"km-per-hr"})",
                             R"({"Units":"ft-per-sec"})", R"({"Units":"cm-per-sec"})",
                             R"({"Units":"mph"})"};
    const SpeedUnit units[] = {SpeedUnit::MetersPerSecond, SpeedUnit::Kmh, SpeedUnit::FeetPerSecond,
                               SpeedUnit::CentimetersPerSecond, SpeedUnit::Mph};
    for (std::size_t i = 0; i < 5; ++i) {
        CHECK(parser.parseLine(replies[i], stampAt(1)) == LineKind::Reply);
        CHECK_TEXT(parser.unit() == units[i], replies[i]);
        CHECK(report("12.0").unit == units[i]);
    }
}

/* Newer firmware (OPS243-C captures: UK -> {"SpeedUnit":"kmph"}; data lines "mps", "cmps",
 * "mph"): the SpeedUnit key and the short spellings. */
TEST(Ops243Parser, NewFirmwareSpeedUnitRepliesSwitchUnits)
{
    CHECK(parser.parseLine(R"({"SpeedUnit":"kmph"})", stampAt(1)) == LineKind::Reply);
    CHECK(parser.unit() == SpeedUnit::Kmh);
    CHECK(parser.parseLine(R"({"SpeedUnit":"mps"})", stampAt(1)) == LineKind::Reply);
    CHECK(parser.unit() == SpeedUnit::MetersPerSecond);
    CHECK(parser.parseLine(R"({"SpeedUnit":"cmps"})", stampAt(1)) == LineKind::Reply);
    CHECK(parser.unit() == SpeedUnit::CentimetersPerSecond);
    CHECK(parser.parseLine(R"({"SpeedUnit":"furlongs"})", stampAt(1)) == LineKind::Reply);
    CHECK(!parser.unitKnown()); /* and reports are refused until units are known again */
    CHECK(parser.parseLine("12.0", stampAt(2)) == LineKind::Rejected);
}

/* OPS243-C capture: "kmph",2.6 and, with magnitude on, "kmph",171,2.6 (unit, magnitude,
 * speed); the unit names the line's own unit whatever was configured. */
TEST(Ops243Parser, UnitLedPlainLinesOfNewFirmware)
{
    parser.setTwoFields(Ops243Parser::Options::TwoFields::MagnitudeSpeed);
    const RadarReport &r = report(R"("kmph",171,2.6)");
    CHECK(r.unit == SpeedUnit::Kmh);
    DOUBLES_EQUAL(171, r.targets[0].magnitude, 1e-9);
    DOUBLES_EQUAL(2.6, r.targets[0].speed, 1e-9);
    CHECK(parser.shape().unitInLine);
    CHECK(!parser.shape().json);
    CHECK(report(R"("mps",-4.25)").unit == SpeedUnit::MetersPerSecond);
    CHECK(parser.unit() == SpeedUnit::Mph); /* the configured unit is not changed by a line */
}

/* OPS243-C capture with OT and OU: 12875.710,"cmps",54.6 -- time, then unit, then speed. */
TEST(Ops243Parser, TimeThenUnitPlainLine)
{
    const RadarReport &r = report(R"(12875.710,"cmps",54.6)");
    CHECK(r.unit == SpeedUnit::CentimetersPerSecond);
    CHECK(r.sensorTimeS.has_value());
    DOUBLES_EQUAL(12875.710, *r.sensorTimeS, 1e-9);
    DOUBLES_EQUAL(54.6, r.targets[0].speed, 1e-9);
    CHECK(parser.shape().timeInLine && parser.shape().unitInLine);
    /* time, unit, magnitude, speed: three numbers and the unit */
    const RadarReport &m = report(R"(12.500,"mph",88.1,31.0)");
    DOUBLES_EQUAL(12.5, *m.sensorTimeS, 1e-9);
    DOUBLES_EQUAL(88.1, m.targets[0].magnitude, 1e-9);
    DOUBLES_EQUAL(31.0, m.targets[0].speed, 1e-9);
    /* two units, an unknown one, or a unit alone are not lines the sensor writes */
    CHECK(parser.parseLine(R"("mph",1.0,"mph")", stampAt(1)) == LineKind::Rejected);
    CHECK(parser.parseLine(R"(1.0,"furlongs",2.0)", stampAt(1)) == LineKind::Rejected);
    STRCMP_EQUAL("unknown_units", rejectReasonName(parser.lastReject()));
    CHECK(parser.parseLine(R"("mph",)", stampAt(1)) == LineKind::Rejected);
}

/* The Matlab sample of 2025 (OmniPreSense Matlab, OPS243_Speed_250516.m) sends OT, OJ, OU
 * and reads "time", "speed", "unit" with string values. */
TEST(Ops243Parser, JsonLineWithUnitAndTimeStrings)
{
    const RadarReport &r = report(R"({"time":"105.250","unit":"mps","speed":"13.41"})");
    CHECK(r.unit == SpeedUnit::MetersPerSecond);
    DOUBLES_EQUAL(105.25, *r.sensorTimeS, 1e-9);
    DOUBLES_EQUAL(13.41, r.targets[0].speed, 1e-9);
    CHECK(parser.shape().json && parser.shape().unitInLine && parser.shape().timeInLine);
    report(R"({"speed":"13.41"})");
    CHECK(parser.shape().json && !parser.shape().unitInLine && !parser.shape().timeInLine);
    report("13.41");
    CHECK(!parser.shape().json);
}

/* Newer firmware's replies to output, format, sample-rate, direction and flash commands
 * (OPS243-C captures): replies, not reports, and their values kept as sent. */
TEST(Ops243Parser, NewFirmwareRepliesAreReplies)
{
    struct Case
    {
        const char *line, *key, *value;
    };
    const Case cases[] = {
            {R"({"SpeedOutputFeature":"J"})", "SpeedOutputFeature", "J"},
            {R"({"FormatDigits":2})", "FormatDigits", "2"},
            {R"({"DopplerSampleRateHz":20000})", "DopplerSampleRateHz", "20000"},
            {R"({"RequiredDirection":"Towards Only"})", "RequiredDirection", "Towards Only"},
            {R"({"INFO":"Saving current values to Persistent Settings"})", "INFO",
             "Saving current values to Persistent Settings"},
            {R"({"InboundSensorAngleDegrees": 0.00, "OutboundSensorAngleDegrees": 20.00})",
             "OutboundSensorAngleDegrees", "20.00"},
            /* AN-010-J p4 spells the reset flags in capitals, UM-003-A p7 in words */
            {R"({ "ResetReason": "Status from bitmask", "POWER_ON" : true, "SUPPLY_WATCHDOG" : false })",
             "SUPPLY_WATCHDOG", "false"},
    };
    for (const Case &c : cases) {
        CHECK_TEXT(parser.parseLine(c.line, stampAt(1)) == LineKind::Reply, c.line);
        const std::string *v = parser.reply().find(c.key);
        CHECK_TEXT(v != nullptr, c.line);
        STRCMP_EQUAL(c.value, v->c_str());
    }
}

/* Firmware with the "\n\r" line-end defect starts the next line with its CR
 * (OmniPreSense OPS241A_NodeInterface, public/control.js). */
TEST(Ops243Parser, LeadingCarriageReturnOfOldFirmware)
{
    DOUBLES_EQUAL(12.5, report("\r12.5").targets[0].speed, 1e-9);
    CHECK(parser.parseLine("\r{\"Units\":\"mph\"}", stampAt(1)) == LineKind::Reply);
}

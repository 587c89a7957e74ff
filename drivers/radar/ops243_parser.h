#pragma once

#include <cstddef>
#include <memory>
#include <optional>

#include "drivers/radar/radar_parser.h"

namespace stopline::drivers::radar {

/* The OmniPreSense OPS243 line protocol (README, radar section), both firmware
 * generations: plain numbers, time- and magnitude-prefixed plain lines with an optional
 * quoted unit in any field (units output on: "mph",12.3 / "kmph",171,2.6 /
 * 12875.710,"cmps",54.6), and JSON objects whose values may be quoted strings or numbers,
 * single- or multi-target. Positive speed = inbound, as sent. The parser is also a small
 * state machine: a {"Units":...} (2018-19 firmware) or {"SpeedUnit":...} (newer) reply
 * switches the unit of the reports that follow. JSON is read with nlohmann-json's SAX
 * parser, held to the one flat shape the sensor sends. Plain lines allocate nothing once
 * warmed up; JSON lines only what nlohmann's lexer needs. */
class Ops243Parser : public RadarParser
{
public:
    struct Options
    {
        /* What a two-field plain line means: `OT` gives "time, speed", `OM` alone gives
         * "magnitude, speed"; the line itself cannot tell them apart. */
        enum class TwoFields { TimeSpeed, MagnitudeSpeed };
        TwoFields twoFields = TwoFields::TimeSpeed;
        SpeedUnit unit = SpeedUnit::MetersPerSecond; /* the sensor's power-on default */
        std::size_t maxLineBytes = 256;
        std::size_t maxTargets = 9;      /* On, n = 1..9 */
        double maxSpeedMps = 100.0;      /* 224 mph: beyond any road vehicle and the sensor */
        unsigned logFirstPerReason = 10; /* then every logEvery-th of that reason */
        unsigned logEvery = 1000;
    };

    Ops243Parser();
    explicit Ops243Parser(Options options);
    ~Ops243Parser() override;

    LineKind parseLine(std::string_view line, Stamp at, bool truncated = false) override;

    const RadarReport &report() const override { return report_; }
    const RadarReply &reply() const override { return reply_; }
    const LineShape &shape() const override { return shape_; }
    RejectReason lastReject() const override { return lastReject_; }
    const std::string &lastError() const override { return lastError_; }
    const RadarCounters &counters() const override { return counters_; }
    void setLogger(Logger logger) override { logger_ = std::move(logger); }
    SpeedUnit unit() const override { return unit_; }
    bool unitKnown() const override { return unitKnown_; }

    void setUnit(SpeedUnit unit);
    void setTwoFields(Options::TwoFields layout) { options_.twoFields = layout; }
    /* Range lines seen last (FMCW models), metres as sent. */
    double lastRange() const { return lastRange_; }

    /* A unit as either firmware generation names it, in replies or data lines ("mph",
     * "km-per-hr" / "kmph", "m-per-sec" / "mps", ...); nullopt otherwise. */
    static std::optional<SpeedUnit> unitFromName(std::string_view name);
    /* Metres per second per one unit. */
    static double metresPerSecond(SpeedUnit unit);

private:
    struct JsonLine; /* one JSON object as read (ops243_parser.cpp), reused line to line */

    LineKind reject(RejectReason reason, const char *detail, std::string_view line);
    LineKind parsePlain(std::string_view line, std::string_view original);
    LineKind parseJson(std::string_view line, std::string_view original);
    LineKind parseReport(std::string_view original);
    LineKind parseReply(std::string_view original);

    Options options_;
    SpeedUnit unit_;
    bool unitKnown_ = true;
    std::unique_ptr<JsonLine> json_;
    RadarReport report_;
    RadarReply reply_;
    LineShape shape_;
    RadarCounters counters_;
    RejectReason lastReject_ = RejectReason::Count;
    std::string lastError_;
    Logger logger_;
    double lastRange_ = 0;
    Stamp at_;
};

} /* namespace stopline::drivers::radar */

#include "drivers/radar/ops243_driver.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "drivers/radar/ops243_parser.h"

namespace stopline::drivers::radar {

namespace {

std::optional<double> number(const std::string &text)
{
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value))
        return std::nullopt;
    return value;
}

std::string format(double value, int decimals)
{
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.*f", decimals, value);
    return buf;
}

double toMph(double speed, SpeedUnit unit)
{
    return speed * Ops243Parser::metresPerSecond(unit) /
           Ops243Parser::metresPerSecond(SpeedUnit::Mph);
}

std::string lower(std::string text)
{
    for (char &c : text)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

} /* namespace */

const SelfCheckItemResult *RadarSelfCheck::item(const std::string &name) const
{
    for (const SelfCheckItemResult &i : items)
        if (i.name == name)
            return &i;
    return nullptr;
}

const char *Ops243Driver::unitCommand(SpeedUnit unit)
{
    switch (unit) {
    case SpeedUnit::Mph:
        return "US";
    case SpeedUnit::Kmh:
        return "UK";
    case SpeedUnit::MetersPerSecond:
        return "UM";
    case SpeedUnit::FeetPerSecond:
        return "UF";
    case SpeedUnit::CentimetersPerSecond:
        return "UC";
    }
    return "US";
}

const char *Ops243Driver::unitReplyName(SpeedUnit unit)
{
    switch (unit) {
    case SpeedUnit::Mph:
        return "mph";
    case SpeedUnit::Kmh:
        return "km-per-hr";
    case SpeedUnit::MetersPerSecond:
        return "m-per-sec";
    case SpeedUnit::FeetPerSecond:
        return "ft-per-sec";
    case SpeedUnit::CentimetersPerSecond:
        return "cm-per-sec";
    }
    return "mph";
}

Ops243Driver::Ops243Driver(boost::asio::io_context &io, hal::SerialPort *port,
                           Ops243DriverConfig config, std::unique_ptr<RadarParser> parser)
    : io_(io), port_(port), config_(config),
      parser_(parser ? std::move(parser) : std::make_unique<Ops243Parser>()), replyTimer_(io),
      checkTimer_(io)
{
    if (config_.targets < 1 || config_.targets > 9)
        throw std::invalid_argument("radar: target count " + std::to_string(config_.targets) +
                                    " is not 1..9");
    identity_.serialPort = port_->config().device;
}

Ops243Driver::~Ops243Driver()
{
    *alive_ = false;
    replyTimer_.cancel();
    checkTimer_.cancel();
}

void Ops243Driver::start(ReportHandler onReport, SelfCheckHandler onSelfCheck, ErrorHandler onError)
{
    onReport_ = std::move(onReport);
    onSelfCheck_ = std::move(onSelfCheck);
    onError_ = std::move(onError);
    std::weak_ptr<bool> alive = alive_;
    port_->startReading(
            [this, alive](const hal::SerialLine &line) {
                if (!alive.expired())
                    onLine(line);
            },
            [this, alive](const std::string &message) {
                if (!alive.expired())
                    fail("radar on '" + identity_.serialPort + "': " + message);
            });
    configure();
}

bool Ops243Driver::replyHas(const char *key) const
{
    return parser_->reply().find(key) != nullptr;
}

namespace {

/* The value of the first of `keys` the reply has: the two firmware generations name the
 * same setting differently ({"Units":...} / {"SpeedUnit":...}). */
const std::string *replyValue(const RadarReply &reply, std::initializer_list<const char *> keys)
{
    for (const char *key : keys)
        if (const std::string *v = reply.find(key))
            return v;
    return nullptr;
}

} /* namespace */

const char *radarFirmwareName(RadarFirmware firmware)
{
    switch (firmware) {
    case RadarFirmware::Unknown:
        return "unknown";
    case RadarFirmware::Gen2019:
        return "2018-19 (1.3.x)";
    case RadarFirmware::Current:
        return "current";
    }
    return "unknown";
}

void Ops243Driver::configure()
{
    configured_ = false;
    unitsInLine_ = false;
    fillOff_ = false;
    fillSinceCheck_ = 0;
    settings_.clear();
    settingProblems_.clear();
    const std::string command = unitCommand(config_.unit);
    /* Units first: the reply's key tells the firmware generation, which decides what else
     * can be asked (only current firmware has a cosine correction to clear). */
    send(
            command,
            [this](LineKind kind) {
                if (kind != LineKind::Reply)
                    return false;
                const RadarReply &r = parser_->reply();
                const std::string *value = replyValue(r, {"Units", "SpeedUnit"});
                if (!value || Ops243Parser::unitFromName(*value) != config_.unit)
                    return false;
                firmware_ = r.find("SpeedUnit") ? RadarFirmware::Current : RadarFirmware::Gen2019;
                settings_.emplace_back("units", *value);
                return true;
            },
            [this, command](bool ok) {
                if (!ok) {
                    configured(false, "no units reply naming " +
                                              std::string(unitReplyName(config_.unit)) + " to " +
                                              command);
                    return;
                }
                setSpeedSettings();
            });
}

void Ops243Driver::setting(std::string command, std::string name,
                           std::function<std::optional<std::string>(const RadarReply &)> readBack)
{
    send(
            command,
            [this, name, readBack](LineKind kind) {
                if (kind != LineKind::Reply)
                    return false;
                std::optional<std::string> value = readBack(parser_->reply());
                if (value)
                    settings_.emplace_back(name, *value);
                return value.has_value();
            },
            [this, command, name](bool ok) {
                if (!ok)
                    configured(false, "no reply to " + command + " (" + name + ")");
            });
}

void Ops243Driver::quiet(std::string command, std::string name, std::string value)
{
    /* A command with no documented reply: sent in turn, and a reply line, if the firmware
     * gives one, swallowed. */
    if (failed_)
        return;
    exchanges_.push_back(
            Exchange{std::move(command), [](LineKind kind) { return kind == LineKind::Reply; },
                     [this, name, value](bool) { settings_.emplace_back(name, value); }, 1, true});
    sendNext();
}

void Ops243Driver::setSpeedSettings()
{
    auto feature = [this](const std::string &command, const char *name) {
        const std::string letter = command.substr(1);
        setting(command, name, [letter](const RadarReply &r) -> std::optional<std::string> {
            const std::string *v = replyValue(r, {"OutputFeature", "SpeedOutputFeature"});
            if (v && *v == letter)
                return "on";
            return std::nullopt;
        });
    };
    feature("OJ", "json_output");
    /* Magnitudes tell vehicles apart across a radar silence: one approaching keeps getting
     * stronger, the next one appears weak at the far end of the beam. */
    feature("OM", "magnitude_output");
    /* The sensor's own clock on every report: gaps between readings are then measured
     * on the radar, not on when a busy host got round to reading the port, and a clock
     * that starts again from zero shows a restart. */
    feature("OT", "time_output");
    /* Units on every line (OU) where the firmware has it, so a line in other units can
     * never be read as ours; optional, since UM-003-A gives it for FMCW models only. */
    send(
            "OU",
            [this](LineKind kind) {
                if (kind != LineKind::Reply)
                    return false;
                const std::string *v =
                        replyValue(parser_->reply(), {"OutputFeature", "SpeedOutputFeature"});
                return v && *v == "U";
            },
            [this](bool ok) {
                unitsInLine_ = ok;
                settings_.emplace_back("unit_output", ok ? "on" : "not available");
            });
    const std::string targets = "O" + std::to_string(config_.targets);
    setting(targets, "targets", [this](const RadarReply &r) -> std::optional<std::string> {
        if (replyValue(r, {"OutputFeature", "SpeedOutputFeature"}))
            return std::to_string(config_.targets);
        return std::nullopt;
    });
    /* Every setting that changes which speed is reported, set to what the rule assumes:
     * no speed filter (the rule judges), both directions (the rule picks), the default
     * sampling (the Doppler bin width and report rate the rule's numbers were made for),
     * two decimals, and no blank reporting, which would make an empty beam look alive. */
    auto equals = [](const std::string *v, double want) -> std::optional<std::string> {
        if (!v)
            return std::nullopt;
        if (auto n = number(*v); n && std::fabs(*n - want) < 1e-9)
            return *v;
        return std::nullopt;
    };
    setting("R>0\r", "speed_filter_min",
            [equals](const RadarReply &r) { return equals(r.find("RequiredMinSpeed"), 0); });
    setting("R<0\r", "speed_filter_max",
            [equals](const RadarReply &r) { return equals(r.find("RequiredMaxSpeed"), 0); });
    setting("R|", "direction_filter", [](const RadarReply &r) -> std::optional<std::string> {
        if (const std::string *v = replyValue(r, {"RequiredDirection", "DirectionFilter"}))
            return *v;
        return std::nullopt;
    });
    setting("SX", "sample_rate_hz", [equals](const RadarReply &r) {
        return equals(replyValue(r, {"SamplingRate", "DopplerSampleRateHz"}), 10000);
    });
    setting("S>", "sample_size",
            [equals](const RadarReply &r) { return equals(r.find("SampleSize"), 1024); });
    setting("F2", "decimals", [equals](const RadarReply &r) {
        return equals(replyValue(r, {"FormatDigits", "OutputDecimals", "Format"}), 2);
    });
    quiet("BV", "blank_reporting", "off (BV)");
    fillOff_ = true;
    if (firmware_ == RadarFirmware::Current) {
        /* Current firmware multiplies by 1/cos of an angle it may keep in flash: read what
         * was there, then clear both angles (the controller corrects, from calibration). */
        auto angles = [](const RadarReply &r) -> std::optional<std::pair<double, double>> {
            const std::string *in = r.find("InboundSensorAngleDegrees");
            const std::string *out = r.find("OutboundSensorAngleDegrees");
            if (!in || !out)
                return std::nullopt;
            auto a = number(*in), b = number(*out);
            if (!a || !b)
                return std::nullopt;
            return std::make_pair(*a, *b);
        };
        setting("^?", "cosine_found", [angles](const RadarReply &r) -> std::optional<std::string> {
            auto a = angles(r);
            if (!a)
                return std::nullopt;
            return format(a->first, 2) + " in, " + format(a->second, 2) + " out";
        });
        for (const char *command : {"^/+0\r", "^/-0\r"})
            setting(command, command[2] == '+' ? "cosine_inbound" : "cosine_outbound",
                    [this, angles, command](const RadarReply &r) -> std::optional<std::string> {
                        auto a = angles(r);
                        if (!a)
                            return std::nullopt;
                        double v = command[2] == '+' ? a->first : a->second;
                        if (v != 0)
                            settingProblems_.push_back(std::string(command) + " left " +
                                                       format(v, 2) + " degrees");
                        return format(v, 2);
                    });
    } else {
        settings_.emplace_back("cosine", "none (no correction in this firmware)");
    }
    send(
            "U?",
            [this](LineKind kind) {
                if (kind != LineKind::Reply)
                    return false;
                const std::string *v = replyValue(parser_->reply(), {"Units", "SpeedUnit"});
                return v && Ops243Parser::unitFromName(*v) == config_.unit;
            },
            [this](bool ok) { configured(ok, "units did not read back after configuration"); });
    const RadarSelfCheck::Kind kind =
            recovering_ ? RadarSelfCheck::Kind::Recovery : RadarSelfCheck::Kind::PowerOn;
    readIdentity([this, kind] {
        if (configured_)
            selfCheck(kind);
    });
}

void Ops243Driver::configured(bool ok, const std::string &why)
{
    if (ok) {
        configured_ = true;
        return;
    }
    const std::string message = "radar on '" + identity_.serialPort + "': " + why;
    if (!recovering_ || ++recoveryTries_ >= config_.recoveryAttempts) {
        fail(message);
        return;
    }
    /* Still booting, or not answering yet: start the whole configuration again later
     * (not an error yet: speeds are invalid meanwhile, and the last try reports it). */
    exchanges_.clear();
    waiting_ = false;
    replyTimer_.cancel();
    std::weak_ptr<bool> alive = alive_;
    checkTimer_.expires_after(std::chrono::nanoseconds(config_.recoveryRetryNs));
    checkTimer_.async_wait([this, alive](const boost::system::error_code &ec) {
        if (!ec && !alive.expired() && !failed_)
            configure();
    });
}

std::optional<std::string> Ops243Driver::resetSign(const RadarReport &report) const
{
    /* What the driver set is on every line: JSON, the sensor's clock, the unit (with OU).
     * A sensor that restarted is back in its power-on settings (m/s, plain, no time), so
     * its first line gives it away, before any of its numbers is believed. */
    const LineShape &shape = parser_->shape();
    if (!shape.json)
        return std::string("a plain line while JSON output is set");
    if (!shape.timeInLine)
        return std::string("a line without the sensor's time while time output is set");
    if (unitsInLine_ && !shape.unitInLine)
        return std::string("a line without its unit while unit output is set");
    if (report.unit != config_.unit)
        return std::string("a line in ") + unitReplyName(report.unit) + " instead of " +
               unitReplyName(config_.unit);
    if (report.sensorTimeS && lastSensorTime_ &&
        *report.sensorTimeS < *lastSensorTime_ - config_.clockBackwardS)
        return "the radar clock went back from " + format(*lastSensorTime_, 3) + " to " +
               format(*report.sensorTimeS, 3) + " s";
    return std::nullopt;
}

void Ops243Driver::beginRecovery(const std::string &why, Nanos at)
{
    ++resets_;
    recovering_ = true;
    recoveryTries_ = 0;
    configured_ = false;
    speedValid_ = false;
    exchanges_.clear();
    waiting_ = false;
    replyTimer_.cancel();
    checkTimer_.cancel();
    checking_ = false;
    collecting_ = false;
    collectingReference_ = false;
    lastSensorTime_.reset();
    lastClock_.reset();
    if (auto *p = dynamic_cast<Ops243Parser *>(parser_.get()))
        p->setUnit(SpeedUnit::MetersPerSecond); /* the power-on unit, until set again */
    RadarSelfCheck reset;
    reset.kind = RadarSelfCheck::Kind::Reset;
    reset.at = Stamp{at, monotonicNow()};
    reset.radar = identity_;
    reset.items.push_back({"reset_detected", false, why});
    finishCheck(std::move(reset));
    configure();
}

void Ops243Driver::readIdentity(std::function<void()> then)
{
    struct Query
    {
        const char *command;
        const char *key;
        std::string RadarIdentityInfo::*field;
    };
    static const Query queries[] = {
            {"?P", "Product", &RadarIdentityInfo::product},
            {"?V", "Version", &RadarIdentityInfo::version},
            {"?B", "Build", &RadarIdentityInfo::build},
            {"?U", "UID", &RadarIdentityInfo::uid},
    };
    for (const Query &q : queries) {
        send(
                q.command,
                [this, q](LineKind kind) {
                    if (kind != LineKind::Reply || !replyHas(q.key))
                        return false;
                    identity_.*q.field = *parser_->reply().find(q.key);
                    return true;
                },
                [](bool) {});
    }
    send(
            "?R",
            [this](LineKind kind) {
                if (kind != LineKind::Reply || !replyHas("ResetReason"))
                    return false;
                identity_.resetReason.clear();
                for (const auto &[key, value] : parser_->reply().fields)
                    identity_.resetReason +=
                            (identity_.resetReason.empty() ? "" : "; ") + key + "=" + value;
                return true;
            },
            [](bool) {});
    /* ?F: the manual gives the value (GHz) but not the framing; accept a reply whose key
     * names a frequency, or a bare number (JSON output is on, so it cannot be a speed). */
    send(
            "?F",
            [this](LineKind kind) {
                if (kind == LineKind::Reply) {
                    for (const auto &[key, value] : parser_->reply().fields)
                        if (lower(key).find("freq") != std::string::npos)
                            if (auto ghz = number(value)) {
                                identity_.frequencyGHz = *ghz;
                                return true;
                            }
                    return false;
                }
                if (kind == LineKind::Report && !parser_->report().sensorTimeS &&
                    parser_->report().targets.size() == 1 &&
                    parser_->report().targets[0].magnitude == 0 &&
                    currentLine_.find('{') == std::string::npos) {
                    identity_.frequencyGHz = parser_->report().targets[0].speed;
                    return true;
                }
                return false;
            },
            [then](bool) { then(); });
}

void Ops243Driver::selfCheck(RadarSelfCheck::Kind kind)
{
    if (failed_)
        return;
    checking_ = true;
    clockFirst_.reset();
    clockSecond_.reset();
    reportTimes_.clear();
    reportSensorTimes_.clear();
    fillSinceCheck_ = 0;
    collecting_ = true;
    if (kind != RadarSelfCheck::Kind::Periodic)
        configuredResetReason_ = identity_.resetReason;
    Nanos started = monotonicNow();
    auto clockMatcher = [this](std::optional<double> *into) {
        return [this, into](LineKind kind) {
            if (kind != LineKind::Reply || !replyHas("Clock"))
                return false;
            *into = number(*parser_->reply().find("Clock"));
            return true;
        };
    };
    send("C?", clockMatcher(&clockFirst_), [this, kind, started, clockMatcher](bool) {
        std::weak_ptr<bool> alive = alive_;
        checkTimer_.expires_after(std::chrono::nanoseconds(config_.clockGapNs));
        checkTimer_.async_wait([this, alive, kind, started,
                                clockMatcher](const boost::system::error_code &ec) {
            if (ec || alive.expired())
                return;
            send("C?", clockMatcher(&clockSecond_), [this, kind, started](bool) {
                collecting_ = false;
                /* A periodic check that finds the reset reason changed, or the clock
                 * behind where it was, has found a restart the lines did not show. */
                if (kind == RadarSelfCheck::Kind::Periodic) {
                    std::string why;
                    if (!configuredResetReason_.empty() &&
                        identity_.resetReason != configuredResetReason_)
                        why = "the reset reason changed from '" + configuredResetReason_ +
                              "' to '" + identity_.resetReason + "'";
                    else if (clockFirst_ && lastClock_ &&
                             *clockFirst_ < *lastClock_ - config_.clockBackwardS)
                        why = "the radar clock went back from " + format(*lastClock_, 3) + " to " +
                              format(*clockFirst_, 3) + " s";
                    if (!why.empty()) {
                        beginRecovery(why, monotonicNow());
                        return;
                    }
                }
                if (clockSecond_)
                    lastClock_ = clockSecond_;
                RadarSelfCheck check;
                check.kind = kind;
                check.at = Stamp{started, monotonicNow()};
                check.radar = identity_;
                const RadarIdentityInfo &id = identity_;
                bool identityOk =
                        !id.product.empty() && !id.version.empty() && !id.resetReason.empty();
                check.items.push_back({"identity", identityOk,
                                       identityOk ? "product '" + id.product + "', version '" +
                                                            id.version + "', build '" + id.build +
                                                            "', uid '" + id.uid + "'"
                                                  : "missing reply to ?P, ?V or ?R"});
                bool bandOk = id.frequencyGHz && *id.frequencyGHz >= config_.minFrequencyGHz &&
                              *id.frequencyGHz <= config_.maxFrequencyGHz;
                check.items.push_back({"frequency_band", bandOk,
                                       id.frequencyGHz
                                               ? format(*id.frequencyGHz, 3) + " GHz (allowed " +
                                                         format(config_.minFrequencyGHz, 2) + "-" +
                                                         format(config_.maxFrequencyGHz, 2) + ")"
                                               : "no reply to ?F"});
                bool clockOk = clockFirst_ && clockSecond_ && *clockSecond_ > *clockFirst_;
                check.items.push_back({"clock_advancing", clockOk,
                                       clockFirst_ && clockSecond_
                                               ? "C? read " + format(*clockFirst_, 3) + " then " +
                                                         format(*clockSecond_, 3) + " s"
                                               : "no reply to C?"});
                std::string settings;
                for (const auto &[name, value] : settings_)
                    settings += (settings.empty() ? "" : "; ") + name + " " + value;
                std::string problems;
                for (const std::string &p : settingProblems_)
                    problems += (problems.empty() ? "" : "; ") + p;
                check.settings = settings_;
                check.items.push_back({"settings", configured_ && settingProblems_.empty(),
                                       (problems.empty() ? "" : problems + " -- ") +
                                               std::string("firmware ") +
                                               radarFirmwareName(firmware_) + ": " + settings});
                /* Zero-fill left on (a setting kept in flash) would keep the report rate up
                 * with nothing in the beam: the zeros are counted, never used. */
                check.items.push_back({"no_fill", fillSinceCheck_ == 0,
                                       fillSinceCheck_ == 0
                                               ? "no zero-fill reports"
                                               : std::to_string(fillSinceCheck_) +
                                                         " zero-fill reports after BV"});
                /* The rate on the sensor's clock when it sends one: a busy host reading
                 * the port late cannot make a sound sensor look slow. */
                if (reportSensorTimes_.size() >= 3 &&
                    reportSensorTimes_.back() > reportSensorTimes_.front()) {
                    double span = reportSensorTimes_.back() - reportSensorTimes_.front();
                    check.reportRateHz = (reportSensorTimes_.size() - 1) / span;
                    bool rateOk = check.reportRateHz >= config_.minReportHz;
                    check.items.push_back({"report_rate", rateOk,
                                           format(check.reportRateHz, 1) +
                                                   " Hz on the sensor clock (minimum " +
                                                   format(config_.minReportHz, 1) + ")"});
                } else if (reportTimes_.size() >= 3) {
                    double span =
                            double(reportTimes_.back() - reportTimes_.front()) / kNanosPerSecond;
                    check.reportRateHz = span > 0 ? (reportTimes_.size() - 1) / span : 0;
                    bool rateOk = check.reportRateHz >= config_.minReportHz;
                    check.items.push_back({"report_rate", rateOk,
                                           format(check.reportRateHz, 1) + " Hz (minimum " +
                                                   format(config_.minReportHz, 1) + ")"});
                } else {
                    /* The OPS243 reports only while something moves in its beam. */
                    check.items.push_back(
                            {"report_rate", true, "not measured: no target in the beam"});
                }
                finishCheck(std::move(check));
            });
        });
    });
}

void Ops243Driver::runSelfCheck()
{
    if (checking_ || failed_ || recovering_)
        return;
    readIdentity([this] { selfCheck(RadarSelfCheck::Kind::Periodic); });
}

void Ops243Driver::runReferenceCheck(double referenceMph, Nanos window)
{
    if (failed_ || recovering_)
        return;
    referenceSamples_.clear();
    reportTimes_.clear();
    collectingReference_ = true;
    Nanos started = monotonicNow();
    auto timer = std::make_shared<boost::asio::steady_timer>(io_);
    timer->expires_after(std::chrono::nanoseconds(window));
    std::weak_ptr<bool> alive = alive_;
    timer->async_wait([this, alive, timer, referenceMph, window,
                       started](const boost::system::error_code &ec) {
        if (ec || alive.expired())
            return;
        collectingReference_ = false;
        RadarSelfCheck check;
        check.kind = RadarSelfCheck::Kind::Fork;
        check.at = Stamp{started, monotonicNow()};
        check.radar = identity_;
        check.referenceSpeed = referenceMph;
        check.tolerance = config_.referenceToleranceMph;
        check.reportRateHz = double(referenceSamples_.size()) * kNanosPerSecond / window;
        if (!referenceSamples_.empty()) {
            std::vector<double> sorted = referenceSamples_;
            std::sort(sorted.begin(), sorted.end());
            std::size_t n = sorted.size();
            check.measuredSpeed = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        }
        bool speedOk = check.measuredSpeed && std::fabs(*check.measuredSpeed - referenceMph) <=
                                                      config_.referenceToleranceMph;
        check.items.push_back({"reference_speed", speedOk,
                               check.measuredSpeed
                                       ? "read " + format(*check.measuredSpeed, 2) + " mph for a " +
                                                 format(referenceMph, 2) +
                                                 " mph reference (tolerance " +
                                                 format(config_.referenceToleranceMph, 1) + ")"
                                       : "no reading during the test"});
        bool rateOk = check.reportRateHz >= config_.minReportHz;
        check.items.push_back({"report_rate", rateOk,
                               format(check.reportRateHz, 1) + " Hz (minimum " +
                                       format(config_.minReportHz, 1) + ")"});
        bool bandOk = identity_.frequencyGHz &&
                      *identity_.frequencyGHz >= config_.minFrequencyGHz &&
                      *identity_.frequencyGHz <= config_.maxFrequencyGHz;
        check.items.push_back(
                {"frequency_band", bandOk,
                 identity_.frequencyGHz ? format(*identity_.frequencyGHz, 3) + " GHz" : "unknown"});
        finishCheck(std::move(check));
    });
}

void Ops243Driver::finishCheck(RadarSelfCheck check)
{
    check.passed = std::all_of(check.items.begin(), check.items.end(),
                               [](const SelfCheckItemResult &i) { return i.passed; });
    speedValid_ = check.passed;
    if (check.kind == RadarSelfCheck::Kind::Recovery) {
        recovering_ = false;
        recoveryTries_ = 0;
    }
    if (check.kind != RadarSelfCheck::Kind::Fork && check.kind != RadarSelfCheck::Kind::Reset) {
        checking_ = false;
        schedulePeriodic();
    }
    if (onSelfCheck_)
        onSelfCheck_(check);
}

void Ops243Driver::schedulePeriodic()
{
    if (config_.periodicCheckNs <= 0 || failed_)
        return;
    std::weak_ptr<bool> alive = alive_;
    checkTimer_.expires_after(std::chrono::nanoseconds(config_.periodicCheckNs));
    checkTimer_.async_wait([this, alive](const boost::system::error_code &ec) {
        if (!ec && !alive.expired())
            runSelfCheck();
    });
}

void Ops243Driver::onLine(const hal::SerialLine &line)
{
    LineKind kind =
            parser_->parseLine(line.text, Stamp{line.sampleNs, monotonicNow()}, line.truncated);
    if (waiting_ && !exchanges_.empty()) {
        currentLine_ = line.text;
        bool matched = exchanges_.front().matcher(kind);
        currentLine_ = {};
        if (matched) {
            replyTimer_.cancel();
            Exchange done = std::move(exchanges_.front());
            exchanges_.pop_front();
            waiting_ = false;
            done.done(true);
            sendNext();
            return;
        }
    }
    if (kind != LineKind::Report)
        return;
    const RadarReport &report = parser_->report();
    if (recovering_) {
        ++withheld_; /* units and settings unknown until reconfigured */
        return;
    }
    if (configured_) {
        if (std::optional<std::string> why = resetSign(report)) {
            beginRecovery(*why + ": \"" + std::string(line.text.substr(0, 80)) + "\"",
                          report.at.sampleNs);
            return;
        }
        if (report.sensorTimeS)
            lastSensorTime_ = report.sensorTimeS;
    }
    if (std::all_of(report.targets.begin(), report.targets.end(),
                    [](const RadarTarget &t) { return t.speed == 0; })) {
        ++fill_; /* blank reporting's zero: nothing measured */
        if (fillOff_)
            ++fillSinceCheck_;
        return;
    }
    if (collecting_) {
        reportTimes_.push_back(report.at.sampleNs);
        if (report.sensorTimeS)
            reportSensorTimes_.push_back(*report.sensorTimeS);
    }
    if (collectingReference_ && !report.targets.empty())
        referenceSamples_.push_back(std::fabs(toMph(report.targets[0].speed, report.unit)));
    if (onReport_)
        onReport_(report);
}

void Ops243Driver::send(std::string command, Matcher matcher, Done done)
{
    if (failed_)
        return;
    exchanges_.push_back(Exchange{std::move(command), std::move(matcher), std::move(done),
                                  std::max(config_.attempts, 1u)});
    sendNext();
}

void Ops243Driver::sendNext()
{
    if (waiting_ || exchanges_.empty() || failed_)
        return;
    waiting_ = true;
    port_->write(exchanges_.front().command);
    std::weak_ptr<bool> alive = alive_;
    replyTimer_.expires_after(std::chrono::nanoseconds(
            exchanges_.front().quiet ? std::min<Nanos>(config_.replyTimeoutNs, 150 * kNanosPerMilli)
                                     : config_.replyTimeoutNs));
    replyTimer_.async_wait([this, alive](const boost::system::error_code &ec) {
        if (!ec && !alive.expired())
            replyTimeout();
    });
}

void Ops243Driver::replyTimeout()
{
    if (!waiting_ || exchanges_.empty())
        return;
    Exchange &current = exchanges_.front();
    if (current.quiet) {
        Exchange done = std::move(current);
        exchanges_.pop_front();
        waiting_ = false;
        done.done(true);
        sendNext();
        return;
    }
    if (--current.attemptsLeft > 0) {
        waiting_ = false;
        sendNext(); /* the same command again */
        return;
    }
    Exchange done = std::move(current);
    exchanges_.pop_front();
    waiting_ = false;
    done.done(false);
    sendNext();
}

void Ops243Driver::fail(const std::string &message)
{
    if (failed_)
        return;
    failed_ = true;
    speedValid_ = false;
    exchanges_.clear();
    waiting_ = false;
    replyTimer_.cancel();
    checkTimer_.cancel();
    if (onError_)
        onError_(message);
}

} /* namespace stopline::drivers::radar */

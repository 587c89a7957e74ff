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

void Ops243Driver::configure()
{
    const std::string where = "radar on '" + identity_.serialPort + "'";
    const std::string units = unitReplyName(config_.unit);
    send(
            unitCommand(config_.unit),
            [this, units](LineKind kind) {
                const std::string *value =
                        kind == LineKind::Reply ? parser_->reply().find("Units") : nullptr;
                return value && *value == units;
            },
            [this, where, units](bool ok) {
                if (!ok)
                    fail(where + ": no {\"Units\":\"" + units + "\"} reply to " +
                         unitCommand(config_.unit));
            });
    send(
            "OJ",
            [this](LineKind kind) { return kind == LineKind::Reply && replyHas("OutputFeature"); },
            [this, where](bool ok) {
                if (!ok)
                    fail(where + ": no {\"OutputFeature\":...} reply to OJ (JSON output)");
            });
    /* Magnitudes tell vehicles apart across a radar silence: one approaching keeps getting
     * stronger, the next one appears weak at the far end of the beam. */
    send(
            "OM",
            [this](LineKind kind) { return kind == LineKind::Reply && replyHas("OutputFeature"); },
            [this, where](bool ok) {
                if (!ok)
                    fail(where + ": no {\"OutputFeature\":...} reply to OM (magnitudes)");
            });
    /* The sensor's own clock on every report: gaps between readings are then measured
     * on the radar, not on when a busy host got round to reading the port. */
    send(
            "OT",
            [this](LineKind kind) { return kind == LineKind::Reply && replyHas("OutputFeature"); },
            [this, where](bool ok) {
                if (!ok)
                    fail(where + ": no {\"OutputFeature\":...} reply to OT (report times)");
            });
    std::string targets = "O" + std::to_string(config_.targets);
    send(
            targets, [](LineKind kind) { return kind == LineKind::Reply; },
            [this, where, targets](bool ok) {
                if (!ok) {
                    fail(where + ": no reply to " + targets + " (target count)");
                    return;
                }
                configured_ = true;
            });
    readIdentity([this] { selfCheck(RadarSelfCheck::Kind::PowerOn); });
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
    collecting_ = true;
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
                if (reportTimes_.size() >= 3) {
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
    if (checking_ || failed_)
        return;
    readIdentity([this] { selfCheck(RadarSelfCheck::Kind::Periodic); });
}

void Ops243Driver::runReferenceCheck(double referenceMph, Nanos window)
{
    if (failed_)
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
    if (check.kind != RadarSelfCheck::Kind::Fork) {
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
    if (collecting_)
        reportTimes_.push_back(report.at.sampleNs);
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
    replyTimer_.expires_after(std::chrono::nanoseconds(config_.replyTimeoutNs));
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

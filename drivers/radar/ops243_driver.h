#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "drivers/radar/radar_parser.h"
#include "hal/serial.h"

namespace stopline::drivers::radar {

struct Ops243DriverConfig
{
    SpeedUnit unit = SpeedUnit::Mph; /* US */
    unsigned targets = 1;            /* On, 1..9 */
    Nanos replyTimeoutNs = kNanosPerSecond;
    unsigned attempts = 3;         /* per command */
    double minFrequencyGHz = 24.0; /* the OPS243's licensed band (reference) */
    double maxFrequencyGHz = 24.25;
    Nanos clockGapNs = 1500 * kNanosPerMilli; /* C? twice this far apart must advance */
    /* With a target in the beam, measured on the sensor's own clock: the datasheet gives
     * 5-6 reports/s at the defaults (10 kS/s, 1024 samples), so 4.5 leaves a margin for a
     * report the sensor drops and still catches a wrong sample rate or buffer. */
    double minReportHz = 4.5;
    double referenceToleranceMph = 1.0;                /* police practice for fork tests */
    Nanos periodicCheckNs = 10 * 60 * kNanosPerSecond; /* 0 = off */
    /* After a reset, configuration is tried this often before the radar is given up. */
    unsigned recoveryAttempts = 10;
    Nanos recoveryRetryNs = 2 * kNanosPerSecond;
    /* The radar clock may step back this much (rounding) before it counts as a restart. */
    double clockBackwardS = 0.5;
};

/* The sensor's firmware generation, told by the keys of its replies. */
enum class RadarFirmware {
    Unknown,
    Gen2019, /* 1.3.x: {"Units":"mph"}, {"OutputFeature":"J"} (AN-010-J, UM-003-A) */
    Current, /* {"SpeedUnit":"mph"}, {"SpeedOutputFeature":"J"}, cosine correction (^) */
};
const char *radarFirmwareName(RadarFirmware firmware);

/* What the sensor said about itself (?P ?V ?B ?U ?R ?F), verbatim. */
struct RadarIdentityInfo
{
    std::string product;
    std::string version;
    std::string build;
    std::string uid;
    std::string resetReason; /* the whole ?R object, as received */
    std::optional<double> frequencyGHz;
    std::string serialPort;
};

struct SelfCheckItemResult
{
    std::string name; /* identity, frequency_band, clock_advancing, report_rate, reference_speed */
    bool passed = false;
    std::string detail;
};

/* Controller-side self-check (the OPS243 has none of its own). Mirrors evidence SelfCheck. */
struct RadarSelfCheck
{
    /* Reset: the sensor was found to have restarted (never passed; speeds stop being
     * valid at `at`). Recovery: the check after the driver reconfigured it. */
    enum class Kind { PowerOn, Periodic, Fork, Reset, Recovery };
    Kind kind = Kind::PowerOn;
    Stamp at;
    bool passed = false;
    std::vector<SelfCheckItemResult> items;
    RadarIdentityInfo radar;
    std::optional<double> referenceSpeed; /* fork nominal, mph */
    std::optional<double> measuredSpeed;  /* median of the strongest target, mph */
    double tolerance = 0;
    double reportRateHz = 0;
    /* Every setting that changes a speed, as the sensor read it back ("units" -> "mph"). */
    std::vector<std::pair<std::string, std::string>> settings;

    const SelfCheckItemResult *item(const std::string &name) const;
};

/* The OPS243 over a serial port: configures units, JSON output and target count (checking
 * each reply), reads the identity, runs the power-on self-check and then periodic ones, and
 * the technician's fork test on request. Reports flow out as soon as they parse. Everything
 * runs on the port's event loop; a command that gets no matching reply is retried, then
 * reported. Until a self-check has passed, speedValid() is false: evidence must not use the
 * speeds (a failed check suppresses speed readings, as police practice requires). */
class Ops243Driver
{
public:
    using ReportHandler = std::function<void(const RadarReport &)>;
    using SelfCheckHandler = std::function<void(const RadarSelfCheck &)>;
    using ErrorHandler = std::function<void(const std::string &)>;

    /* `port` is borrowed and must outlive the driver; `parser` defaults to Ops243Parser. */
    Ops243Driver(boost::asio::io_context &io, hal::SerialPort *port, Ops243DriverConfig config,
                 std::unique_ptr<RadarParser> parser = nullptr);
    ~Ops243Driver();

    /* Starts reading, configures the sensor and runs the power-on check. `onError` gets a
     * message naming the port and the command when configuration fails or the port dies. */
    void start(ReportHandler onReport, SelfCheckHandler onSelfCheck, ErrorHandler onError = {});

    /* A periodic check now (identity, band, clock, rate of any reports meanwhile). */
    void runSelfCheck();

    /* The technician's fork test: reports over `window` must read `referenceMph` within the
     * tolerance, at the expected rate. The result goes to the self-check handler. */
    void runReferenceCheck(double referenceMph, Nanos window = 3 * kNanosPerSecond);

    bool configured() const { return configured_; }
    bool speedValid() const { return speedValid_; }
    /* Between a detected reset and the recovery check: reports are withheld. */
    bool recovering() const { return recovering_; }
    RadarFirmware firmware() const { return firmware_; }
    std::uint64_t resets() const { return resets_; }
    std::uint64_t withheldReports() const { return withheld_; }
    std::uint64_t fillReports() const { return fill_; }
    const RadarIdentityInfo &identity() const { return identity_; }
    const RadarCounters &counters() const { return parser_->counters(); }
    const RadarParser &parser() const { return *parser_; }

    /* The command that selects a unit ("US" for mph) and the name the sensor replies with. */
    static const char *unitCommand(SpeedUnit unit);
    static const char *unitReplyName(SpeedUnit unit);

private:
    using Matcher = std::function<bool(LineKind kind)>;
    using Done = std::function<void(bool ok)>;
    struct Exchange
    {
        std::string command;
        Matcher matcher;
        Done done;
        unsigned attemptsLeft = 0;
        bool quiet = false; /* no reply documented: done after a short wait, whatever came */
    };

    void onLine(const hal::SerialLine &line);
    void send(std::string command, Matcher matcher, Done done);
    void sendNext();
    void replyTimeout();
    void configure();
    void setSpeedSettings();
    void setting(std::string command, std::string name,
                 std::function<std::optional<std::string>(const RadarReply &)> readBack);
    void quiet(std::string command, std::string name, std::string value);
    void configured(bool ok, const std::string &why);
    std::optional<std::string> resetSign(const RadarReport &report) const;
    void beginRecovery(const std::string &why, Nanos at);
    void readIdentity(std::function<void()> then);
    void selfCheck(RadarSelfCheck::Kind kind);
    void finishCheck(RadarSelfCheck check);
    void schedulePeriodic();
    bool replyHas(const char *key) const;
    void fail(const std::string &message);

    boost::asio::io_context &io_;
    hal::SerialPort *port_;
    Ops243DriverConfig config_;
    std::unique_ptr<RadarParser> parser_;
    boost::asio::steady_timer replyTimer_;
    boost::asio::steady_timer checkTimer_;
    std::deque<Exchange> exchanges_;
    bool waiting_ = false;
    std::string_view currentLine_; /* the line a matcher is looking at */

    ReportHandler onReport_;
    SelfCheckHandler onSelfCheck_;
    ErrorHandler onError_;
    bool configured_ = false;
    bool speedValid_ = false;
    bool checking_ = false;
    bool failed_ = false;
    bool recovering_ = false;
    unsigned recoveryTries_ = 0;
    bool unitsInLine_ = false; /* OU took: every line names its unit */
    bool fillOff_ = false;     /* BV sent: a zero report means the setting did not take */
    std::uint64_t fillSinceCheck_ = 0;
    RadarFirmware firmware_ = RadarFirmware::Unknown;
    std::uint64_t resets_ = 0, withheld_ = 0, fill_ = 0;
    std::optional<double> lastSensorTime_;
    std::string configuredResetReason_; /* ?R when configured: a change is a reset */
    std::vector<std::pair<std::string, std::string>> settings_;
    std::vector<std::string> settingProblems_;
    std::vector<double> reportSensorTimes_; /* during a check window */
    RadarIdentityInfo identity_;

    std::optional<double> clockFirst_;
    std::optional<double> clockSecond_;
    std::optional<double> lastClock_;
    std::vector<Nanos> reportTimes_;       /* during a check window */
    std::vector<double> referenceSamples_; /* mph, strongest target, during a fork test */
    bool collecting_ = false;
    bool collectingReference_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} /* namespace stopline::drivers::radar */

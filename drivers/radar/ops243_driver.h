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
    double minReportHz = 5.0; /* with a target in the beam (~10 Hz at 10 kS/s, 1024 buffer) */
    double referenceToleranceMph = 1.0;                /* police practice for fork tests */
    Nanos periodicCheckNs = 10 * 60 * kNanosPerSecond; /* 0 = off */
};

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
    enum class Kind { PowerOn, Periodic, Fork };
    Kind kind = Kind::PowerOn;
    Stamp at;
    bool passed = false;
    std::vector<SelfCheckItemResult> items;
    RadarIdentityInfo radar;
    std::optional<double> referenceSpeed; /* fork nominal, mph */
    std::optional<double> measuredSpeed;  /* median of the strongest target, mph */
    double tolerance = 0;
    double reportRateHz = 0;

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
    };

    void onLine(const hal::SerialLine &line);
    void send(std::string command, Matcher matcher, Done done);
    void sendNext();
    void replyTimeout();
    void configure();
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

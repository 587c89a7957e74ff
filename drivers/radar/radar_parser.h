#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "drivers/events.h"

namespace stopline::drivers::radar {

/* Why a line was refused. Each has its own counter so a technician can tell electrical
 * noise (control characters) from a firmware mismatch (unknown units, bad values). */
enum class RejectReason : unsigned {
    TooLong,
    ControlCharacter,
    NonAscii,
    EmptyField,
    TooManyFields,
    BadNumber,
    NotFinite,
    OutOfRange,
    Negative,
    JsonSyntax,
    JsonNotObject,
    JsonNested,
    JsonTrailing,
    JsonDuplicateKey,
    JsonTooLarge,
    EmptyObject,
    BadValue,
    EmptyArray,
    ArrayMismatch,
    TooManyTargets,
    DirectionConflict,
    UnknownUnits,
    Count,
};

inline constexpr std::size_t kRejectReasons = static_cast<std::size_t>(RejectReason::Count);

const char *rejectReasonName(RejectReason reason);

/* What one line turned out to be. */
enum class LineKind {
    Report,   /* speed data: report() holds it */
    Reply,    /* a command reply or info object: reply() holds it */
    Range,    /* a range-only line (FMCW models): recognised, not a speed */
    Blank,    /* nothing but whitespace */
    Rejected, /* malformed: counted, logged, dropped */
};

/* How the last report line was written: what the sensor's output settings were when it
 * sent it. A line in another form than the one configured means the sensor lost its
 * settings (a reset), whatever the numbers in it say. */
struct LineShape
{
    bool json = false;       /* a JSON object (OJ), not a plain line */
    bool unitInLine = false; /* the line names its unit (OU, or a JSON "unit") */
    bool timeInLine = false; /* the line carries the sensor's clock (OT) */
};

/* A command reply or info line, e.g. {"Product":"OPS243 Doppler"}: key/value pairs with
 * strings unescaped and numbers/booleans as their literal text. */
struct RadarReply
{
    std::vector<std::pair<std::string, std::string>> fields;

    const std::string *find(std::string_view key) const;
};

struct RadarCounters
{
    std::uint64_t reports = 0;
    std::uint64_t replies = 0;
    std::uint64_t ranges = 0;
    std::uint64_t blanks = 0;
    std::uint64_t unknownKeys = 0; /* report members tolerated but not understood */
    std::array<std::uint64_t, kRejectReasons> rejected{};

    std::uint64_t rejectedTotal() const;
    std::uint64_t rejectedFor(RejectReason reason) const
    {
        return rejected[static_cast<std::size_t>(reason)];
    }
};

/* One radar framing, line by line: bytes in, RadarReport/RadarReply out, anything else
 * counted and logged, never guessed at. The driver holds this interface so another radar's
 * framing (Stalker, Decatur...) can be dropped in. */
class RadarParser
{
public:
    using Logger = std::function<void(std::string_view message)>;

    virtual ~RadarParser() = default;

    /* One line without its terminator; `truncated` if the port cut it at its length limit.
     * `at` stamps the report. Results stay valid until the next call. */
    virtual LineKind parseLine(std::string_view line, Stamp at, bool truncated = false) = 0;

    virtual const RadarReport &report() const = 0;
    virtual const RadarReply &reply() const = 0;
    virtual const LineShape &shape() const = 0; /* of the last Report line */
    /* Reason and a message naming what was wrong, for the last Rejected line. */
    virtual RejectReason lastReject() const = 0;
    virtual const std::string &lastError() const = 0;

    virtual const RadarCounters &counters() const = 0;
    /* Where rejection messages go (default: stderr, rate-limited per reason). */
    virtual void setLogger(Logger logger) = 0;

    /* Units the reports are in, as last configured or confirmed by a reply. */
    virtual SpeedUnit unit() const = 0;
    virtual bool unitKnown() const = 0;
};

} /* namespace stopline::drivers::radar */

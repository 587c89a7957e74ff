#include "drivers/radar/ops243_parser.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace stopline::drivers::radar {

namespace {

enum class Number { Ok, Bad, NotFinite };

std::string_view trim(std::string_view s)
{
    /* A leading CR too: firmware with the "\n\r" line-end defect puts it at the start of
     * the next line (OmniPreSense OPS241A_NodeInterface, public/control.js). */
    while (!s.empty() &&
           (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
        s.remove_prefix(1);
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

/* A decimal number, whole text, optional leading '+'; no hex, no units. */
Number parseNumber(std::string_view text, double &value)
{
    text = trim(text);
    if (text.size() > 32)
        return Number::Bad; /* the sensor prints a handful of digits; a digit run is noise */
    if (!text.empty() && text.front() == '+') {
        text.remove_prefix(1);
        if (!text.empty() && (text.front() == '-' || text.front() == '+'))
            return Number::Bad;
    }
    if (text.empty())
        return Number::Bad;
    /* from_chars also takes "inf"/"nan": refuse words outright, NaN/Inf are not readings. */
    char first = text.front() == '-' && text.size() > 1 ? text[1] : text.front();
    if (!(first >= '0' && first <= '9') && first != '.')
        return (first == 'i' || first == 'I' || first == 'n' || first == 'N') ? Number::NotFinite
                                                                              : Number::Bad;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value,
                                     std::chars_format::general);
    if (ec == std::errc::result_out_of_range)
        return Number::NotFinite;
    if (ec != std::errc() || end != text.data() + text.size())
        return Number::Bad;
    if (!std::isfinite(value))
        return Number::NotFinite;
    return Number::Ok;
}

enum class JsonType { String, Number, Bool, Null, Array };

struct JsonValue
{
    JsonType type = JsonType::Null;
    std::string text;     /* String: unescaped; Number/Bool/Null: the literal; Array: as sent */
    bool escaped = false; /* String: written with escapes, so not one of the sensor's words */
};

struct JsonMember
{
    std::string key; /* unescaped */
    JsonValue value; /* for Array: type Array, items via JsonLine::item() */
    std::size_t firstItem = 0;
    std::size_t itemCount = 0;
};

/* The numeric value of a JSON scalar: a number, or a plainly written string holding one. */
Number jsonNumber(const JsonValue &value, double &out)
{
    if (value.type == JsonType::Number)
        return parseNumber(value.text, out);
    if (value.type == JsonType::String && !value.escaped)
        return parseNumber(value.text, out);
    return Number::Bad;
}

/* A string the sensor wrote plainly, e.g. a unit or a direction; nullopt otherwise. */
std::optional<std::string_view> jsonWord(const JsonValue &value)
{
    if (value.type != JsonType::String || value.escaped)
        return std::nullopt;
    return value.text;
}

void escapeInto(std::string &out, std::string_view line, std::size_t limit)
{
    static const char hex[] = "0123456789abcdef";
    std::size_t n = 0;
    for (unsigned char c : line) {
        if (n++ == limit) {
            out += "...";
            return;
        }
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out.push_back(static_cast<char>(c));
        } else {
            out += "\\x";
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
}

} /* namespace */

/* One flat JSON object read through nlohmann's SAX interface rather than json::parse, which
 * keeps the last of two duplicate keys and takes any nesting: each event is checked as it
 * comes and the first wrong one stops the parse with its reason. Storage is fixed (the
 * sensor's objects are small) and reused from line to line. */
struct Ops243Parser::JsonLine final : nlohmann::json_sax<nlohmann::json>
{
    enum class Error {
        None,
        Syntax,
        NotAnObject,
        Nested,
        Trailing,
        DuplicateKey,
        TooLarge,
        Overflow, /* a number beyond a double, which nlohmann refuses while reading */
    };

    static constexpr std::size_t kMaxMembers = 24;
    static constexpr std::size_t kMaxItems = 48; /* array items across the object */

    std::array<JsonMember, kMaxMembers> members;
    std::array<JsonValue, kMaxItems> items;
    std::size_t memberCount = 0;
    std::size_t itemCount = 0;
    Error error = Error::None;

    /* Parses `text` (whitespace around the object allowed); on failure `error` says why. */
    bool read(std::string_view text)
    {
        line_ = text;
        scanned_ = 0;
        depth_ = 0;
        inArray_ = false;
        closed_ = false;
        memberCount = 0;
        itemCount = 0;
        error = Error::None;
        std::size_t first = text.find_first_not_of(" \t\r\n");
        if (first == std::string_view::npos || text[first] != '{')
            return fail(Error::NotAnObject);
        if (nlohmann::json::sax_parse(text.begin(), text.end(), this))
            return true;
        if (error == Error::None)
            error = Error::Syntax;
        return false;
    }

    const JsonMember *find(std::string_view key) const
    {
        for (std::size_t i = 0; i < memberCount; ++i)
            if (members[i].key == key)
                return &members[i];
        return nullptr;
    }

    const JsonValue &item(const JsonMember &member, std::size_t index) const
    {
        return items[member.firstItem + index];
    }

    bool null() override { return scalar(JsonType::Null, "null"); }
    bool boolean(bool value) override { return scalar(JsonType::Bool, value ? "true" : "false"); }
    bool number_integer(number_integer_t value) override
    {
        /* Only literals with a minus sign come here, so a zero was written "-0". */
        return value == 0 ? scalar(JsonType::Number, "-0") : integer(value);
    }
    bool number_unsigned(number_unsigned_t value) override { return integer(value); }
    bool number_float(number_float_t, const string_t &literal) override
    {
        JsonValue *value = slot();
        if (!value)
            return false;
        value->type = JsonType::Number;
        value->text = literal;
        /* nlohmann's lexer writes the locale's decimal point for '.' */
        for (char &c : value->text)
            if (!(c >= '0' && c <= '9') && c != '-' && c != '+' && c != 'e' && c != 'E')
                c = '.';
        return true;
    }
    bool string(string_t &text) override
    {
        bool escaped = skipString();
        JsonValue *value = slot();
        if (!value)
            return false;
        value->type = JsonType::String;
        value->text = text;
        value->escaped = escaped;
        return true;
    }
    bool binary(binary_t &) override { return fail(Error::Syntax); }

    bool start_object(std::size_t) override
    {
        if (depth_ > 0)
            return fail(arrayFull() ? Error::TooLarge : Error::Nested);
        depth_ = 1;
        return true;
    }
    bool key(string_t &key) override
    {
        skipString();
        if (memberCount == kMaxMembers)
            return fail(Error::TooLarge);
        if (find(key))
            return fail(Error::DuplicateKey);
        JsonMember &member = members[memberCount++];
        member.key = key;
        member.firstItem = itemCount;
        member.itemCount = 0;
        return true;
    }
    bool end_object() override
    {
        depth_ = 0;
        closed_ = true;
        return true;
    }
    bool start_array(std::size_t) override
    {
        if (depth_ == 0)
            return fail(Error::NotAnObject);
        if (inArray_)
            return fail(arrayFull() ? Error::TooLarge : Error::Nested);
        inArray_ = true;
        arrayAt_ = line_.find('[', scanned_);
        scanned_ = arrayAt_ + 1;
        members[memberCount - 1].value.type = JsonType::Array;
        return true;
    }
    bool end_array() override
    {
        /* Keep the array as sent, for replies; only its strings can hold a ']'. */
        std::size_t close = line_.find(']', scanned_);
        members[memberCount - 1].value.text = line_.substr(arrayAt_, close + 1 - arrayAt_);
        scanned_ = close + 1;
        inArray_ = false;
        return true;
    }
    bool parse_error(std::size_t, const std::string &, const nlohmann::json::exception &e) override
    {
        if (closed_)
            return fail(Error::Trailing);
        return fail(e.id == 406 ? Error::Overflow : Error::Syntax);
    }

private:
    bool fail(Error why)
    {
        error = why;
        return false;
    }

    bool arrayFull() const { return inArray_ && itemCount == kMaxItems; }

    /* Where the next scalar goes: the current member, or the next item of its array. */
    JsonValue *slot()
    {
        if (depth_ == 0) {
            fail(Error::NotAnObject);
            return nullptr;
        }
        JsonValue *value = &members[memberCount - 1].value;
        if (inArray_) {
            if (itemCount == kMaxItems) {
                fail(Error::TooLarge);
                return nullptr;
            }
            ++members[memberCount - 1].itemCount;
            value = &items[itemCount++];
        }
        value->escaped = false;
        return value;
    }

    bool scalar(JsonType type, std::string_view literal)
    {
        JsonValue *value = slot();
        if (!value)
            return false;
        value->type = type;
        value->text = literal;
        return true;
    }

    template <typename Integer> bool integer(Integer number)
    {
        char digits[24];
        auto [end, ec] = std::to_chars(digits, digits + sizeof digits, number);
        return scalar(JsonType::Number, std::string_view(digits, end - digits));
    }

    /* Whether the string nlohmann just read was written with escapes, which SAX does not
     * say: it is the next string in the line, already checked, and no quote stands outside a
     * string. */
    bool skipString()
    {
        bool escaped = false;
        std::size_t at = line_.find('"', scanned_) + 1;
        for (; line_[at] != '"'; ++at) {
            if (line_[at] == '\\') {
                escaped = true;
                ++at;
            }
        }
        scanned_ = at + 1;
        return escaped;
    }

    std::string_view line_;
    std::size_t scanned_ = 0; /* the line up to here is read */
    std::size_t arrayAt_ = 0;
    int depth_ = 0;
    bool inArray_ = false;
    bool closed_ = false;
};

const char *rejectReasonName(RejectReason reason)
{
    switch (reason) {
    case RejectReason::TooLong:
        return "too_long";
    case RejectReason::ControlCharacter:
        return "control_character";
    case RejectReason::NonAscii:
        return "non_ascii";
    case RejectReason::EmptyField:
        return "empty_field";
    case RejectReason::TooManyFields:
        return "too_many_fields";
    case RejectReason::BadNumber:
        return "bad_number";
    case RejectReason::NotFinite:
        return "not_finite";
    case RejectReason::OutOfRange:
        return "out_of_range";
    case RejectReason::Negative:
        return "negative";
    case RejectReason::JsonSyntax:
        return "json_syntax";
    case RejectReason::JsonNotObject:
        return "json_not_object";
    case RejectReason::JsonNested:
        return "json_nested";
    case RejectReason::JsonTrailing:
        return "json_trailing";
    case RejectReason::JsonDuplicateKey:
        return "json_duplicate_key";
    case RejectReason::JsonTooLarge:
        return "json_too_large";
    case RejectReason::EmptyObject:
        return "empty_object";
    case RejectReason::BadValue:
        return "bad_value";
    case RejectReason::EmptyArray:
        return "empty_array";
    case RejectReason::ArrayMismatch:
        return "array_mismatch";
    case RejectReason::TooManyTargets:
        return "too_many_targets";
    case RejectReason::DirectionConflict:
        return "direction_conflict";
    case RejectReason::UnknownUnits:
        return "unknown_units";
    case RejectReason::Count:
        break;
    }
    return "unknown";
}

const std::string *RadarReply::find(std::string_view key) const
{
    for (const auto &[k, v] : fields)
        if (k == key)
            return &v;
    return nullptr;
}

std::uint64_t RadarCounters::rejectedTotal() const
{
    std::uint64_t total = 0;
    for (std::uint64_t n : rejected)
        total += n;
    return total;
}

Ops243Parser::Ops243Parser() : Ops243Parser(Options{})
{}

Ops243Parser::Ops243Parser(Options options)
    : options_(options), unit_(options.unit), json_(std::make_unique<JsonLine>())
{
    report_.targets.reserve(options_.maxTargets);
    lastError_.reserve(256);
    logger_ = [](std::string_view message) {
        std::fprintf(stderr, "%.*s\n", static_cast<int>(message.size()), message.data());
    };
}

Ops243Parser::~Ops243Parser() = default;

void Ops243Parser::setUnit(SpeedUnit unit)
{
    unit_ = unit;
    unitKnown_ = true;
}

std::optional<SpeedUnit> Ops243Parser::unitFromName(std::string_view name)
{
    /* Replies of 2018-19 firmware spell units "m-per-sec", "km-per-hr", "ft-per-sec",
     * "cm-per-sec", "mph" (UM-003-A p8, AN-010-J p5); newer firmware and every data line
     * with units on spell them "mps", "kmph", "cmps", "mph" (captures of OPS243-C units:
     * {"SpeedUnit":"kmph"}, 12875.710,"cmps",54.6). "fps" is the newer spelling by analogy
     * (no capture seen); "kmh" is what OmniPreSense's 2025 Matlab sample expects. */
    if (name == "mph")
        return SpeedUnit::Mph;
    if (name == "km-per-hr" || name == "kmph" || name == "kmh")
        return SpeedUnit::Kmh;
    if (name == "m-per-sec" || name == "mps")
        return SpeedUnit::MetersPerSecond;
    if (name == "ft-per-sec" || name == "fps")
        return SpeedUnit::FeetPerSecond;
    if (name == "cm-per-sec" || name == "cmps")
        return SpeedUnit::CentimetersPerSecond;
    return std::nullopt;
}

double Ops243Parser::metresPerSecond(SpeedUnit unit)
{
    switch (unit) {
    case SpeedUnit::Mph:
        return 0.44704;
    case SpeedUnit::Kmh:
        return 1.0 / 3.6;
    case SpeedUnit::MetersPerSecond:
        return 1.0;
    case SpeedUnit::FeetPerSecond:
        return 0.3048;
    case SpeedUnit::CentimetersPerSecond:
        return 0.01;
    }
    return 1.0;
}

LineKind Ops243Parser::reject(RejectReason reason, const char *detail, std::string_view line)
{
    lastReject_ = reason;
    std::uint64_t count = ++counters_.rejected[static_cast<std::size_t>(reason)];
    lastError_.clear();
    lastError_ += "radar: rejected line (";
    lastError_ += rejectReasonName(reason);
    lastError_ += "): ";
    lastError_ += detail;
    lastError_ += ": \"";
    escapeInto(lastError_, line, 120);
    lastError_ += "\"";
    if (logger_ && (count <= options_.logFirstPerReason ||
                    (options_.logEvery && count % options_.logEvery == 0))) {
        if (count > options_.logFirstPerReason) {
            std::string message = lastError_ + " [" + std::to_string(count) + " so far]";
            logger_(message);
        } else {
            logger_(lastError_);
        }
    }
    return LineKind::Rejected;
}

LineKind Ops243Parser::parseLine(std::string_view original, Stamp at, bool truncated)
{
    at_ = at;
    if (truncated || original.size() > options_.maxLineBytes)
        return reject(RejectReason::TooLong, "line longer than the limit", original);
    for (unsigned char c : original) {
        if (c >= 0x80)
            return reject(RejectReason::NonAscii, "byte outside ASCII", original);
        if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f)
            return reject(RejectReason::ControlCharacter, "control character", original);
    }
    std::string_view line = trim(original);
    if (line.empty()) {
        ++counters_.blanks;
        return LineKind::Blank;
    }
    /* A lone quoted string is a JSON value that is not an object; with a comma it is a
     * plain line led by its unit. */
    if (line.front() == '{' || line.front() == '[' ||
        (line.front() == '"' && line.find(',') == std::string_view::npos))
        return parseJson(line, original);
    return parsePlain(line, original);
}

LineKind Ops243Parser::parsePlain(std::string_view line, std::string_view original)
{
    /* Up to three numbers, [time,] [magnitude,] speed, and with units output on one quoted
     * unit among them: first ("mph",12.3 / "kmph",171,2.6) or after the time
     * (12875.710,"cmps",54.6). */
    std::string_view fields[3];
    std::size_t count = 0;
    std::optional<SpeedUnit> lineUnit;
    for (;;) {
        std::size_t comma = line.find(',');
        std::string_view field = trim(line.substr(0, comma));
        if (!field.empty() && field.front() == '"') {
            if (lineUnit || field.size() < 2 || field.back() != '"')
                return reject(RejectReason::BadNumber, "field is not a decimal number", original);
            lineUnit = unitFromName(field.substr(1, field.size() - 2));
            if (!lineUnit)
                return reject(RejectReason::UnknownUnits, "unit is not one the OPS243 names",
                              original);
        } else {
            if (count == 3)
                return reject(RejectReason::TooManyFields,
                              "more than three comma-separated numbers", original);
            fields[count++] = field;
        }
        if (comma == std::string_view::npos)
            break;
        line.remove_prefix(comma + 1);
    }
    if (count == 0)
        return reject(RejectReason::EmptyField, "a unit and no number", original);
    double values[3];
    for (std::size_t i = 0; i < count; ++i) {
        if (fields[i].empty())
            return reject(RejectReason::EmptyField, "empty field", original);
        switch (parseNumber(fields[i], values[i])) {
        case Number::Ok:
            break;
        case Number::Bad:
            return reject(RejectReason::BadNumber, "field is not a decimal number", original);
        case Number::NotFinite:
            return reject(RejectReason::NotFinite, "number is not finite", original);
        }
    }
    if (!lineUnit && !unitKnown_)
        return reject(RejectReason::UnknownUnits, "speed units are unknown", original);
    SpeedUnit unit = lineUnit ? *lineUnit : unit_;

    double speed = values[count - 1];
    std::optional<double> time;
    double magnitude = 0;
    if (count == 2) {
        if (options_.twoFields == Options::TwoFields::TimeSpeed)
            time = values[0];
        else
            magnitude = values[0];
    } else if (count == 3) {
        time = values[0];
        magnitude = values[1];
    }
    if ((time && *time < 0) || magnitude < 0)
        return reject(RejectReason::Negative, "time or magnitude is negative", original);
    if (std::fabs(speed) * metresPerSecond(unit) > options_.maxSpeedMps)
        return reject(RejectReason::OutOfRange, "speed beyond any vehicle", original);

    shape_ = LineShape{false, lineUnit.has_value(), time.has_value()};
    report_.targets.clear();
    report_.targets.push_back(RadarTarget{speed, magnitude});
    report_.unit = unit;
    report_.at = at_;
    report_.sensorTimeS = time;
    report_.sensorTick.reset();
    ++counters_.reports;
    return LineKind::Report;
}

LineKind Ops243Parser::parseJson(std::string_view line, std::string_view original)
{
    if (!json_->read(line)) {
        switch (json_->error) {
        case JsonLine::Error::NotAnObject:
            return reject(RejectReason::JsonNotObject, "JSON value is not an object", original);
        case JsonLine::Error::Nested:
            return reject(RejectReason::JsonNested, "nested JSON object or array", original);
        case JsonLine::Error::Trailing:
            return reject(RejectReason::JsonTrailing, "text after the JSON object", original);
        case JsonLine::Error::DuplicateKey:
            return reject(RejectReason::JsonDuplicateKey, "duplicate JSON key", original);
        case JsonLine::Error::TooLarge:
            return reject(RejectReason::JsonTooLarge, "JSON object too large", original);
        case JsonLine::Error::Overflow:
            return reject(RejectReason::NotFinite, "JSON number is not finite", original);
        default:
            return reject(RejectReason::JsonSyntax, "malformed JSON", original);
        }
    }
    if (json_->memberCount == 0)
        return reject(RejectReason::EmptyObject, "empty JSON object", original);
    if (json_->find("speed"))
        return parseReport(original);
    if (const JsonMember *range = json_->find("range")) {
        double value = 0;
        if (range->value.type == JsonType::Array) {
            if (range->itemCount == 0)
                return reject(RejectReason::EmptyArray, "empty range array", original);
            if (jsonNumber(json_->item(*range, 0), value) != Number::Ok)
                return reject(RejectReason::BadValue, "range is not a number", original);
        } else if (jsonNumber(range->value, value) != Number::Ok) {
            return reject(RejectReason::BadValue, "range is not a number", original);
        }
        if (value < 0)
            return reject(RejectReason::Negative, "range is negative", original);
        lastRange_ = value;
        ++counters_.ranges;
        return LineKind::Range;
    }
    return parseReply(original);
}

LineKind Ops243Parser::parseReport(std::string_view original)
{
    const JsonMember *speed = json_->find("speed");
    const JsonMember *magnitude = json_->find("magnitude");
    const JsonMember *direction = json_->find("direction");
    bool multi = speed->value.type == JsonType::Array;
    std::size_t count = multi ? speed->itemCount : 1;
    if (multi && count == 0)
        return reject(RejectReason::EmptyArray, "empty speed array", original);
    if (count > options_.maxTargets)
        return reject(RejectReason::TooManyTargets, "more targets than the sensor reports",
                      original);
    if (magnitude && (magnitude->value.type == JsonType::Array) != multi)
        return reject(RejectReason::ArrayMismatch, "speed and magnitude differ in shape", original);
    if (magnitude && multi && magnitude->itemCount != count)
        return reject(RejectReason::ArrayMismatch, "speed and magnitude arrays differ in length",
                      original);
    if (direction && (direction->value.type == JsonType::Array) != multi)
        return reject(RejectReason::ArrayMismatch, "speed and direction differ in shape", original);
    if (direction && multi && direction->itemCount != count)
        return reject(RejectReason::ArrayMismatch, "speed and direction arrays differ in length",
                      original);

    SpeedUnit unit = unit_;
    bool unitKnown = unitKnown_;
    bool unitInLine = false;
    std::optional<double> time;
    std::optional<std::uint64_t> tick;
    for (std::size_t i = 0; i < json_->memberCount; ++i) {
        const JsonMember &m = json_->members[i];
        if (m.key == "speed" || m.key == "magnitude" || m.key == "direction")
            continue;
        if (m.key == "time") {
            double value;
            Number n = jsonNumber(m.value, value);
            if (n == Number::NotFinite)
                return reject(RejectReason::NotFinite, "time is not finite", original);
            if (n != Number::Ok)
                return reject(RejectReason::BadValue, "time is not a number", original);
            if (value < 0)
                return reject(RejectReason::Negative, "time is negative", original);
            time = value;
        } else if (m.key == "tick") {
            double value;
            if (jsonNumber(m.value, value) != Number::Ok || value != std::floor(value) ||
                value > 1.8e19)
                return reject(RejectReason::BadValue, "tick is not a whole number", original);
            if (value < 0)
                return reject(RejectReason::Negative, "tick is negative", original);
            tick = static_cast<std::uint64_t>(value);
        } else if (m.key == "distance" || m.key == "range") {
            double value;
            if (m.value.type != JsonType::Array && jsonNumber(m.value, value) != Number::Ok)
                return reject(RejectReason::BadValue, "distance is not a number", original);
        } else if (m.key == "unit" || m.key == "units") {
            std::optional<SpeedUnit> named;
            if (auto word = jsonWord(m.value))
                named = unitFromName(*word);
            if (!named)
                return reject(RejectReason::UnknownUnits, "unit is not one the OPS243 names",
                              original);
            unit = *named;
            unitKnown = true;
            unitInLine = true;
        } else {
            ++counters_.unknownKeys;
        }
    }
    if (!unitKnown)
        return reject(RejectReason::UnknownUnits, "speed units are unknown", original);

    shape_ = LineShape{true, unitInLine, time.has_value()};
    report_.targets.clear();
    for (std::size_t i = 0; i < count; ++i) {
        RadarTarget target;
        const JsonValue &s = multi ? json_->item(*speed, i) : speed->value;
        Number n = jsonNumber(s, target.speed);
        if (n == Number::NotFinite)
            return reject(RejectReason::NotFinite, "speed is not finite", original);
        if (n != Number::Ok)
            return reject(RejectReason::BadValue, "speed is not a number", original);
        if (std::fabs(target.speed) * metresPerSecond(unit) > options_.maxSpeedMps)
            return reject(RejectReason::OutOfRange, "speed beyond any vehicle", original);
        if (magnitude) {
            const JsonValue &v = multi ? json_->item(*magnitude, i) : magnitude->value;
            Number mn = jsonNumber(v, target.magnitude);
            if (mn == Number::NotFinite)
                return reject(RejectReason::NotFinite, "magnitude is not finite", original);
            if (mn != Number::Ok)
                return reject(RejectReason::BadValue, "magnitude is not a number", original);
            if (target.magnitude < 0)
                return reject(RejectReason::Negative, "magnitude is negative", original);
        }
        if (direction) {
            const JsonValue &d = multi ? json_->item(*direction, i) : direction->value;
            auto word = jsonWord(d);
            if (!word || (*word != "inbound" && *word != "outbound"))
                return reject(RejectReason::BadValue, "direction is not inbound/outbound",
                              original);
            /* Positive is inbound; a contradicting direction is a fault, not a sign to fix. */
            if ((*word == "inbound" && target.speed < 0) ||
                (*word == "outbound" && target.speed > 0))
                return reject(RejectReason::DirectionConflict, "direction contradicts the sign",
                              original);
        }
        report_.targets.push_back(target);
    }
    report_.unit = unit;
    report_.at = at_;
    report_.sensorTimeS = time;
    report_.sensorTick = tick;
    ++counters_.reports;
    return LineKind::Report;
}

LineKind Ops243Parser::parseReply(std::string_view original)
{
    reply_.fields.clear();
    for (std::size_t i = 0; i < json_->memberCount; ++i) {
        const JsonMember &m = json_->members[i];
        reply_.fields.emplace_back(m.key, m.value.text);
    }
    /* "Units" on 2018-19 firmware (UM-003-A p8), "SpeedUnit" on newer (OPS243-C: UK ->
     * {"SpeedUnit":"kmph"}). */
    const std::string *units = reply_.find("Units");
    if (!units)
        units = reply_.find("SpeedUnit");
    if (units) {
        if (auto unit = unitFromName(*units)) {
            unit_ = *unit;
            unitKnown_ = true;
        } else {
            unitKnown_ = false; /* reports are refused until units are known again */
        }
    }
    ++counters_.replies;
    return LineKind::Reply;
}

} /* namespace stopline::drivers::radar */

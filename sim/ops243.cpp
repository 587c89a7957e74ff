#include "sim/ops243.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>

namespace stopline::sim {

namespace {

/* λ/2 at 24.125 GHz: one Hz of Doppler shift is this many m/s. */
double halfWavelength(double ghz)
{
    return 299792458.0 / (ghz * 1e9) / 2;
}

struct UnitInfo
{
    const char *key;
    const char *name;  /* as 2018-19 firmware spells it in {"Units":...} (UM-003-A p8) */
    const char *token; /* in {"SpeedUnit":...} of current firmware and in every data line
                        * ("kmph", "cmps", "mps": OPS243-C captures; "fps" by analogy) */
    double perMps;
};

constexpr UnitInfo kUnits[] = {
        {"mps", "m-per-sec", "mps", 1.0},     {"mph", "mph", "mph", 1.0 / 0.44704},
        {"kmh", "km-per-hr", "kmph", 3.6},    {"fps", "ft-per-sec", "fps", 1.0 / 0.3048},
        {"cps", "cm-per-sec", "cmps", 100.0},
};

/* Filling the buffer is not all of a report's time: the FFT and the line take about
 * 75 ms more, which gives the datasheet's 5-6 reports/s at the default settings. */
constexpr double kProcessingS = 0.076;

const UnitInfo &unitInfo(const std::string &key)
{
    for (const auto &u : kUnits)
        if (key == u.key)
            return u;
    return kUnits[0];
}

/* Commands whose argument runs to a carriage return. */
bool takesArgument(std::string_view cmd)
{
    static const char *withArg[] = {"R>", "R<", "M>", "M<", "S=", "T=", "Z=", "W=", "^/"};
    for (const char *c : withArg)
        if (cmd == c)
            return true;
    return false;
}

std::string line(const std::string &json)
{
    return json + "\r\n";
}

} /* namespace */

Ops243Emulator::Ops243Emulator(const RadarSpec &spec) : spec_(spec)
{
    reset();
}

void Ops243Emulator::reset()
{
    units_ = spec_.units;
    json_ = spec_.output == RadarOutput::Json;
    magnitude_ = spec_.magnitude;
    time_ = spec_.time;
    unitsOutput_ = false;
    speedOutput_ = true;
    decimals_ = spec_.decimals;
    targets_ = spec_.targets;
    sampleRate_ = 10000;
    bufferSize_ = 1024;
    minFilter_ = 0;
    maxFilter_ = 0;
    direction_ = 0;
    powerActive_ = true;
    singleShot_ = false;
    inboundAngle_ = current() ? spec_.flashCosineDeg : 0;
    outboundAngle_ = 0;
    zeroFill_ = spec_.flashZeroFill;
}

void Ops243Emulator::powerOn(const std::string &cause)
{
    reset();
    pending_.clear();
    resetCause_ = cause;
}

std::string Ops243Emulator::unitsReply() const
{
    const UnitInfo &u = unitInfo(units_);
    return current() ? line(std::string("{\"SpeedUnit\":\"") + u.token + "\"}")
                     : line(std::string("{\"Units\":\"") + u.name + "\"}");
}

std::string Ops243Emulator::featureReply(char feature) const
{
    return line(std::string(current() ? "{\"SpeedOutputFeature\":\"" : "{\"OutputFeature\":\"") +
                feature + "\"}");
}

std::string_view Ops243Emulator::unitsName() const
{
    return unitInfo(units_).name;
}

double Ops243Emulator::toUnits(double mps) const
{
    return mps * unitInfo(units_).perMps;
}

double Ops243Emulator::reportPeriodS() const
{
    if (spec_.reportHz)
        return 1.0 / *spec_.reportHz;
    return static_cast<double>(bufferSize_) / sampleRate_ + kProcessingS;
}

double Ops243Emulator::resolutionMps() const
{
    return static_cast<double>(sampleRate_) / bufferSize_ * halfWavelength(spec_.frequencyGhz);
}

double Ops243Emulator::maxSpeedMps() const
{
    return sampleRate_ / 2.0 * halfWavelength(spec_.frequencyGhz);
}

bool Ops243Emulator::takeSingleShot()
{
    bool s = singleShot_;
    singleShot_ = false;
    return s;
}

std::string Ops243Emulator::number(double v, int decimals) const
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    std::string s(buf);
    /* never print "-0.00" */
    if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos)
        s.erase(0, 1);
    return s;
}

std::string Ops243Emulator::value(const std::string &text) const
{
    return spec_.jsonNumbers ? text : "\"" + text + "\"";
}

std::string Ops243Emulator::feed(std::string_view bytes, double sensorTimeS)
{
    pending_.append(bytes);
    std::string out;
    std::size_t i = 0;
    for (;;) {
        while (i < pending_.size() &&
               (pending_[i] == '\r' || pending_[i] == '\n' || pending_[i] == ' ' ||
                pending_[i] == '\t' || pending_[i] == '\0'))
            ++i;
        if (pending_.size() - i < 2)
            break;
        std::string_view cmd(pending_.data() + i, 2);
        if (takesArgument(cmd)) {
            std::size_t end = pending_.find_first_of("\r\n", i + 2);
            if (end == std::string::npos) {
                if (pending_.size() - i > 32) { /* no terminator coming: drop it */
                    ++unknown_;
                    i = pending_.size();
                }
                break;
            }
            std::string arg = pending_.substr(i + 2, end - i - 2);
            out += command(cmd, arg, sensorTimeS);
            i = end + 1;
        } else {
            out += command(cmd, {}, sensorTimeS);
            i += 2;
        }
    }
    pending_.erase(0, i);
    return out;
}

std::string Ops243Emulator::command(std::string_view cmd, std::string_view arg, double sensorTimeS)
{
    char a = cmd[0], b = cmd[1];
    auto feature = [&](char c) { return featureReply(c); };
    auto units = [&] { return unitsReply(); };
    auto angles = [&] {
        char buf[128];
        std::snprintf(buf, sizeof buf,
                      "{\"InboundSensorAngleDegrees\": %.2f, \"OutboundSensorAngleDegrees\": %.2f}",
                      inboundAngle_, outboundAngle_);
        return line(buf);
    };
    auto rateReply = [&] {
        return line(std::string(current() ? "{\"DopplerSampleRateHz\":" : "{\"SamplingRate\":") +
                    std::to_string(sampleRate_) + "}");
    };
    auto clock = [&] {
        return line("{\"Clock\":\"" + std::to_string(static_cast<long>(sensorTimeS)) + "\"}");
    };

    if (a == '?') {
        switch (b) {
        case '?': {
            char rate[96];
            std::snprintf(rate, sizeof rate, "{\"SamplingRate\":%d, \"resolution\":%.4f}",
                          sampleRate_, resolutionMps());
            return line("{\"Product\":\"" + spec_.product + "\"}") +
                   line("{\"Version\":\"" + spec_.version + "\"}") + line(rate) +
                   line("{\"SampleSize\":" + std::to_string(bufferSize_) + "}") + clock() +
                   line(std::string("{\"PowerMode\":\"") + (powerActive_ ? "Continuous" : "Idle") +
                        "\"}") +
                   line("{\"Squelch\":\"100\"}") +
                   line("{\"RequiredMinSpeed\":\"" + number(minFilter_, 3) + "\"}") + units();
        }
        case 'P':
            return line("{\"Product\":\"" + spec_.product + " Doppler\"}");
        case 'V':
            return line("{\"Version\":\"" + spec_.version + "\"}");
        case 'B':
            return line("{\"Build\":\"" + spec_.build + "\"}");
        case 'U':
            return line("{\"UID\":\"" + spec_.uid + "\"}");
        case 'R': {
            /* One flag per cause of the last reset. 2019 firmware words them as UM-003-A
             * p7 does; current firmware as AN-010-J p4 (POWER_ON, ...). */
            auto flag = [&](const char *word, const char *caps, bool on) {
                return std::string(", \"") + (current() ? caps : word) +
                       "\" : " + (on ? "true" : "false");
            };
            return line("{ \"ResetReason\": \"Status from bitmask\"" +
                        flag("Power On", "POWER_ON", resetCause_ == "power") +
                        flag("Supply Watchdog", "SUPPLY_WATCHDOG", resetCause_ == "watchdog") +
                        flag("Power Validation", "POWER_VALIDATION", resetCause_ == "brownout") +
                        " }");
        }
        case 'F':
            return line("{\"Frequency\":\"" + number(spec_.frequencyGhz, 3) + "\"}");
        }
    }
    if (b == '?') {
        switch (a) {
        case 'U':
            return units();
        case 'C':
            return clock();
        case 'N':
            return line("{\"DetectedObjectCount\":" + std::to_string(seen_.size()) + "}");
        case 'I':
            return line("{\"Baud\":\"" + std::to_string(baud_) + "\"}");
        case 'F':
            return line(std::string(current() ? "{\"FormatDigits\":" : "{\"OutputDecimals\":") +
                        std::to_string(decimals_) + "}");
        case 'R':
            return line("{\"RequiredMinSpeed\":\"" + number(minFilter_, 3) +
                        "\", \"RequiredMaxSpeed\":\"" + number(maxFilter_, 3) + "\"}");
        case 'S':
            return rateReply();
        case '^':
            if (current())
                return angles();
            break;
        }
    }
    switch (a) {
    case 'U': {
        static const std::map<char, const char *> keys{
                {'M', "mps"}, {'S', "mph"}, {'K', "kmh"}, {'F', "fps"}, {'C', "cps"}};
        auto it = keys.find(b);
        if (it == keys.end())
            break;
        units_ = it->second;
        return units();
    }
    case 'F':
        if (b >= '0' && b <= '5') {
            decimals_ = b - '0';
            /* FormatDigits: OPS243-C capture; the 2019 reply is not documented. */
            return line(std::string(current() ? "{\"FormatDigits\":" : "{\"OutputDecimals\":") +
                        std::to_string(decimals_) + "}");
        }
        break;
    case 'N':
        if (b == '!') {
            seen_.clear();
            return line("{\"DetectedObjectCount\":0}");
        }
        break;
    case 'O':
        switch (b) {
        case 'J':
        case 'j':
            json_ = b == 'J';
            return feature(b);
        case 'M':
        case 'm':
            magnitude_ = b == 'M';
            return feature(b);
        case 'S':
        case 's':
            speedOutput_ = b == 'S';
            return feature(b);
        case 'T':
        case 't':
            time_ = b == 'T';
            return feature(b);
        case 'U':
        case 'u':
            unitsOutput_ = b == 'U';
            return feature(b);
        default:
            if (b >= '1' && b <= '9') {
                targets_ = b - '0';
                return feature(b);
            }
        }
        break;
    case 'S': {
        static const std::map<char, int> rates{{'I', 1000},  {'V', 5000},  {'X', 10000},
                                               {'2', 20000}, {'L', 50000}, {'C', 100000}};
        if (auto it = rates.find(b); it != rates.end()) {
            sampleRate_ = it->second;
            return rateReply();
        }
        if (b == '>' || b == '<') {
            bufferSize_ = b == '>' ? 1024 : 512;
            return line("{\"SampleSize\":" + std::to_string(bufferSize_) + "}");
        }
        break;
    }
    case 'R': {
        if (b == '>' || b == '<') {
            char *end = nullptr;
            std::string text(arg);
            double v = std::strtod(text.c_str(), &end);
            if (text.empty() || end == text.c_str() || *end != '\0' || !std::isfinite(v) || v < 0) {
                ++unknown_;
                return line("{\"error\":\"bad argument\"}");
            }
            (b == '>' ? minFilter_ : maxFilter_) = v;
            return line(std::string(b == '>' ? "{\"RequiredMinSpeed\":\""
                                             : "{\"RequiredMaxSpeed\":\"") +
                        number(v, 3) + "\"}");
        }
        if (b == '+' || b == '-' || b == '|') {
            direction_ = b == '+' ? 1 : b == '-' ? -1 : 0;
            /* The key is the 2018 vendor code's; "Towards Only" an OPS243-C capture, the
             * other two words by analogy. */
            return line(std::string("{\"RequiredDirection\":\"") +
                        (direction_ > 0   ? "Towards Only"
                         : direction_ < 0 ? "Away Only"
                                          : "Both") +
                        "\"}");
        }
        break;
    }
    case 'P':
        if (b == 'A' || b == 'I' || b == 'P') {
            powerActive_ = b == 'A';
            singleShot_ = b == 'P';
            return line(std::string("{\"PowerMode\":\"") +
                        (b == 'A'   ? "Continuous"
                         : b == 'I' ? "Idle"
                                    : "Pulse") +
                        "\"}");
        }
        break;
    case 'A':
        /* Only current firmware's A! reply is known (OPS243-C capture); A! and AX of 2019
         * firmware answer nothing documented. */
        if (b == '!') {
            spec_.flashCosineDeg = inboundAngle_;
            spec_.flashZeroFill = zeroFill_;
            return current() ? line("{\"INFO\":\"Saving current values to Persistent Settings\"}")
                             : std::string();
        }
        if (b == 'X') {
            spec_.flashCosineDeg = 0;
            spec_.flashZeroFill = false;
            reset();
            return {};
        }
        break;
    case 'B':
        /* Blank reporting (UM-003-A p12, AN-010-J p8): BZ a zero every interval with
         * nothing to report, BV off; no reply is documented. */
        if (b == 'Z' || b == 'V') {
            zeroFill_ = b == 'Z';
            return {};
        }
        break;
    case '^':
        /* Current firmware: ^/+n and ^/-n set the inbound and outbound cosine angles.
         * On 2019 firmware ^n was the LED test: nothing comes back. */
        if (b == '/' && current()) {
            char *end = nullptr;
            std::string text(arg);
            double v = text.size() > 1 ? std::strtod(text.c_str() + 1, &end) : -1;
            if (text.size() < 2 || (text[0] != '+' && text[0] != '-') || *end != '\0' ||
                !std::isfinite(v) || v < 0 || v > 89) {
                ++unknown_;
                return {};
            }
            (text[0] == '+' ? inboundAngle_ : outboundAngle_) = v;
            return angles();
        }
        if (b >= '0' && b <= '7')
            return {};
        break;
    case 'I':
        if (b >= '1' && b <= '5') {
            static const int bauds[] = {9600, 19200, 57600, 115200, 230400};
            baud_ = bauds[b - '1'];
            return line("{\"Baud\":\"" + std::to_string(baud_) + "\"}");
        }
        break;
    }
    ++unknown_;
    return {};
}

std::string Ops243Emulator::report(const std::vector<Target> &targets, double sensorTimeS,
                                   std::vector<Reported> *reported)
{
    const double res = resolutionMps();
    const double vmax = maxSpeedMps();
    const double floor = mphToMps(spec_.minSpeedMph);

    /* Quantize into Doppler bins (fold what exceeds the Nyquist speed, as the FFT
     * does), merge returns sharing a bin, then keep the strongest. */
    std::vector<Reported> bins;
    for (const auto &t : targets) {
        double v = t.mps;
        if (std::abs(v) > vmax)
            v -= 2 * vmax * std::round(v / (2 * vmax));
        double q = std::round(v / res) * res;
        if (std::abs(q) < floor || std::abs(q) < res / 2)
            continue;
        if (direction_ > 0 && q < 0)
            continue;
        if (direction_ < 0 && q > 0)
            continue;
        double shown = std::abs(toUnits(q));
        if (minFilter_ > 0 && shown < minFilter_)
            continue;
        if (maxFilter_ > 0 && shown > maxFilter_)
            continue;
        if (std::find(seen_.begin(), seen_.end(), t.vehicle) == seen_.end())
            seen_.push_back(t.vehicle);
        auto same = std::find_if(bins.begin(), bins.end(),
                                 [&](const Reported &r) { return std::abs(r.mps - q) < res / 2; });
        if (same != bins.end()) {
            same->magnitude += t.magnitude;
            same->vehicles.push_back(t.vehicle);
        } else {
            bins.push_back({0, q, t.magnitude, {t.vehicle}});
        }
    }
    std::stable_sort(bins.begin(), bins.end(), [](const Reported &x, const Reported &y) {
        return x.magnitude > y.magnitude;
    });
    if (bins.size() > static_cast<std::size_t>(targets_))
        bins.resize(targets_);
    if (bins.empty() && zeroFill_)
        bins.push_back({0, 0, 0, {}}); /* BZ: a zero in the configured form */
    if (bins.empty())
        return {};
    /* The sensor's own cosine correction divides what it measured by cos(angle). */
    auto corrected = [&](double mps) {
        double angle = mps > 0 ? inboundAngle_ : outboundAngle_;
        return angle > 0 ? mps / std::cos(angle * M_PI / 180) : mps;
    };
    for (auto &b : bins) {
        b.mps = corrected(b.mps);
        b.value = std::stod(number(toUnits(b.mps), decimals_));
    }
    if (reported)
        *reported = bins;

    std::string unit(unitInfo(units_).token);
    std::string t = number(sensorTimeS, 3);
    std::string out;
    if (json_) {
        out += "{";
        bool first = true;
        auto field = [&](const std::string &k, const std::string &v) {
            out += (first ? "\"" : ", \"") + k + "\":" + v;
            first = false;
        };
        if (time_)
            field("time", value(t));
        if (unitsOutput_)
            field("unit", "\"" + unit + "\"");
        if (targets_ > 1) {
            std::string mags = "[", speeds = "[";
            for (std::size_t i = 0; i < bins.size(); ++i) {
                mags += (i ? ", " : "") + number(bins[i].magnitude, 2);
                speeds += (i ? ", " : "") + number(toUnits(bins[i].mps), decimals_);
            }
            if (magnitude_)
                field("magnitude", mags + "]");
            field("speed", speeds + "]");
        } else {
            if (magnitude_)
                field("magnitude", value(number(bins[0].magnitude, 2)));
            field("speed", value(number(toUnits(bins[0].mps), decimals_)));
        }
        out += "}\r\n";
        return out;
    }
    /* Plain: one line per target, fields [time, ][magnitude, ]speed. */
    for (const auto &b : bins) {
        if (unitsOutput_)
            out += "\"" + unit + "\",";
        if (time_)
            out += t + ", ";
        if (magnitude_)
            out += number(b.magnitude, 2) + ", ";
        out += number(toUnits(b.mps), decimals_) + "\r\n";
    }
    return out;
}

std::string radarGarbageLine(std::mt19937_64 &rng)
{
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    std::string out;
    switch (pick(12)) {
    case 0: /* line noise: bytes with the high bit set (never a digit, CR or LF) */
        for (int i = 0, n = 3 + pick(40); i < n; ++i)
            out += static_cast<char>(0x80 | (rng() & 0x7f));
        break;
    case 1: /* a JSON record cut off mid-value */
        out = "{\"speed\":\"" + std::to_string(pick(60)) + ".";
        break;
    case 2:
        out = std::to_string(pick(60)) + "." + std::to_string(pick(9)) + "." +
              std::to_string(pick(9));
        break;
    case 3:
        out = "{\"speed\":\"fast\"}";
        break;
    case 4:
        out = std::string(200 + pick(400), static_cast<char>('0' + pick(10)));
        break;
    case 5:
        out = "{}";
        break;
    case 6:
        out = "{\"speed\":\"nan\"}";
        break;
    case 7:
        out = "}{\"speed\":" + std::to_string(pick(60)) + "}";
        break;
    case 8:
        out = "1e309";
        break;
    case 9:
        out = "-";
        break;
    case 10:
        out = "{\"magnitude\":[1.0, 2.0], \"speed\":[3.0";
        break;
    default:
        out = "\"mpx\",abc";
        break;
    }
    return out + "\r\n";
}

} /* namespace stopline::sim */

#pragma once

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "sim/scenario.h"

/* The OmniPreSense OPS243 as the host sees it on its serial line
 * (docs/radar-protocol.md, both firmware generations): two-character commands answered with JSON
 * lines, and data lines in the configured form. Pure: bytes in, bytes out, no clock and
 * no I/O, so every reply is unit-tested and the pty part only moves bytes. */
namespace stopline::sim {

class Ops243Emulator
{
public:
    /* One return the beam sees, as the physics gives it. */
    struct Target
    {
        double mps = 0; /* along the beam, positive inbound */
        double magnitude = 0;
        unsigned vehicle = 0; /* ground-truth identity, never sent */
    };

    /* What one data line reported, for the ground truth. */
    struct Reported
    {
        double value = 0; /* in the units and precision sent */
        double mps = 0;   /* the Doppler bin it fell in */
        double magnitude = 0;
        std::vector<unsigned> vehicles; /* every vehicle that fed this bin */
    };

    explicit Ops243Emulator(const RadarSpec &spec);

    /* The sensor restarts: every setting back to what its flash holds, and ?R names the
     * cause ("power", "watchdog", "brownout"). */
    void powerOn(const std::string &cause);
    /* A setting saved in flash changes (then in force from the next power-on). */
    void setFlashCosine(double degrees) { spec_.flashCosineDeg = degrees; }
    /* The stream switches unit without a command (the wrong-unit fault). */
    void forceUnits(const std::string &key) { units_ = key; }

    /* Host -> sensor bytes; returns the reply lines ("\r\n" each), possibly empty.
     * Commands may arrive split across calls. `sensorTimeS` is seconds since power-on. */
    std::string feed(std::string_view bytes, double sensorTimeS);

    /* The data line(s) for one buffer of samples, or "" when nothing passes the filters
     * (the sensor then stays quiet, as the real one does). */
    std::string report(const std::vector<Target> &targets, double sensorTimeS,
                       std::vector<Reported> *reported = nullptr);

    /* Seconds between reports: filling the buffer (size / sample rate) plus the FFT and
     * the output, about 5-6 reports/s at the default 1024 samples at 10 kS/s as the
     * datasheet gives; unless the scenario fixes it. */
    double reportPeriodS() const;
    /* Doppler bin width and the fastest unaliased speed at the current sampling. */
    double resolutionMps() const;
    double maxSpeedMps() const;

    bool streaming() const { return powerActive_ && speedOutput_; }
    /* A PP (single shot) request is pending: report once even when idle. */
    bool takeSingleShot();

    std::string_view unitsName() const;
    bool jsonOutput() const { return json_; }
    double inboundCosineDeg() const { return inboundAngle_; }
    bool zeroFill() const { return zeroFill_; }
    int decimals() const { return decimals_; }
    int targetCount() const { return targets_; }
    unsigned unknownCommands() const { return unknown_; }

    /* Speed in the current output units. */
    double toUnits(double mps) const;

private:
    void reset();
    bool current() const { return spec_.firmware == RadarFirmware::Gen2025; }
    std::string unitsReply() const;
    std::string featureReply(char feature) const;
    std::string command(std::string_view cmd, std::string_view arg, double sensorTimeS);
    std::string number(double v, int decimals) const;
    std::string value(const std::string &text) const;

    RadarSpec spec_;
    std::string pending_;
    unsigned unknown_ = 0;

    /* settings */
    std::string units_;
    bool json_ = false;
    bool magnitude_ = false;
    bool time_ = false;
    bool unitsOutput_ = false;
    bool speedOutput_ = true;
    int decimals_ = 2;
    int targets_ = 1;
    int sampleRate_ = 10000;
    int bufferSize_ = 1024;
    double minFilter_ = 0; /* in output units; 0 = none */
    double maxFilter_ = 0;
    int direction_ = 0; /* 0 both, 1 inbound only, -1 outbound only */
    bool powerActive_ = true;
    bool singleShot_ = false;
    int baud_ = 19200;
    double inboundAngle_ = 0; /* cosine correction, current firmware: reports / cos */
    double outboundAngle_ = 0;
    bool zeroFill_ = false; /* BZ: a zero every interval with nothing in the beam */
    std::string resetCause_ = "power";
    std::vector<unsigned> seen_; /* for N? */
};

/* One line of the rubbish a radar cable picks up (noise, a half-sent record, a number
 * that is not one), "\r\n" terminated. No line of it is a valid OPS243 record, so a
 * correct parser rejects every one. */
std::string radarGarbageLine(std::mt19937_64 &rng);

} /* namespace stopline::sim */

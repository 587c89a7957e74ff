#pragma once

#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "drivers/edge_debouncer.h"
#include "drivers/events.h"
#include "drivers/gpio_machine.h"

namespace stopline::drivers {

struct BeaconConfig
{
    std::string name; /* "school-zone-east" */
    std::string line; /* hal line name */
};

struct BeaconDetectorConfig
{
    std::vector<BeaconConfig> beacons;
    Nanos debounceNs = 20 * kNanosPerMilli;
    Nanos quietNs = 5 * kNanosPerMilli;
    /* Flashing: `periods` on-edge to on-edge intervals in a row within this range
     * (beacons flash about once a second). */
    Nanos minPeriodNs = 500 * kNanosPerMilli;
    Nanos maxPeriodNs = 2 * kNanosPerSecond;
    unsigned periods = 2;
    /* Active and no on-edge for this long: the beacon stopped (or the lamp failed). */
    Nanos lossTimeoutNs = 3 * kNanosPerSecond;
};

/* A school-zone beacon's lamp line -> active (flashing) / inactive, with the time it became
 * so. A steady lamp is not a flashing beacon. A pure state machine on event time (see
 * GpioMachine). */
class BeaconDetector : public GpioMachine
{
public:
    /* Throws std::invalid_argument naming the problem. */
    BeaconDetector(BeaconDetectorConfig config, std::function<void(const BeaconState &)> sink);

    std::vector<std::string> inputs() const override { return inputs_; }
    void begin(const std::vector<bool> &levels, Nanos now) override;
    void edge(std::size_t input, bool level, Nanos t) override;
    void advance(Nanos now) override;
    std::optional<Nanos> deadline() const override;

    bool active(const std::string &beacon) const;

private:
    struct Beacon
    {
        BeaconConfig config;
        EdgeDebouncer debouncer;
        std::deque<Nanos> onEdges;
        std::optional<Nanos> lastEdge;
        bool active = false;
    };

    void step(Nanos now);
    void publish(Beacon &beacon, bool active, Nanos since, Nanos now);

    BeaconDetectorConfig config_;
    std::function<void(const BeaconState &)> sink_;
    std::vector<std::string> inputs_;
    std::vector<Beacon> beacons_;
    Nanos advancedTo_ = 0;
};

} /* namespace stopline::drivers */

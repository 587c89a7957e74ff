#include "drivers/events.h"

namespace stopline::drivers {

const char *phaseName(Phase phase)
{
    switch (phase) {
    case Phase::Unknown:
        return "unknown";
    case Phase::Green:
        return "green";
    case Phase::Yellow:
        return "yellow";
    case Phase::Red:
        return "red";
    case Phase::Dark:
        return "dark";
    case Phase::FlashingRed:
        return "flashing_red";
    case Phase::FlashingYellow:
        return "flashing_yellow";
    case Phase::Conflict:
        return "conflict";
    }
    return "unknown";
}

} /* namespace stopline::drivers */

#include "hal/gpio.h"

namespace stopline::hal {

std::optional<std::size_t> GpioLines::indexOf(const std::string &wanted) const
{
    for (std::size_t i = 0; i < size(); ++i)
        if (name(i) == wanted)
            return i;
    return std::nullopt;
}

} /* namespace stopline::hal */

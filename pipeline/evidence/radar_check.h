#pragma once

#include "drivers/radar/ops243_driver.h"
#include "pipeline/evidence/evidence_builder.h"

/* The radar driver's self-check as the evidence builder records it: one translation, used
 * by the daemon and the HIL rig alike. Header-only so the evidence library does not link
 * the radar driver. */
namespace stopline::pipeline {

inline SelfCheckResult::Kind selfCheckKindOf(drivers::radar::RadarSelfCheck::Kind kind)
{
    using K = drivers::radar::RadarSelfCheck::Kind;
    switch (kind) {
    case K::PowerOn:
        return SelfCheckResult::Kind::PowerOn;
    case K::Periodic:
        return SelfCheckResult::Kind::Periodic;
    case K::Fork:
        return SelfCheckResult::Kind::Fork;
    case K::Reset:
        return SelfCheckResult::Kind::Reset;
    case K::Recovery:
        return SelfCheckResult::Kind::Recovery;
    }
    return SelfCheckResult::Kind::Periodic;
}

inline const char *selfCheckKindText(SelfCheckResult::Kind kind)
{
    switch (kind) {
    case SelfCheckResult::Kind::PowerOn:
        return "power-on";
    case SelfCheckResult::Kind::Periodic:
        return "periodic";
    case SelfCheckResult::Kind::Fork:
        return "fork";
    case SelfCheckResult::Kind::Reset:
        return "reset";
    case SelfCheckResult::Kind::Recovery:
        return "recovery";
    }
    return "periodic";
}

inline RadarInfo radarInfoOf(const drivers::radar::RadarIdentityInfo &id)
{
    return RadarInfo{id.product,   id.version,     id.build,
                     id.uid,       id.resetReason, id.frequencyGHz.value_or(0),
                     id.serialPort};
}

inline SelfCheckResult selfCheckResultOf(const drivers::radar::RadarSelfCheck &c)
{
    SelfCheckResult result;
    result.kind = selfCheckKindOf(c.kind);
    result.atNs = c.at.sampleNs;
    result.passed = c.passed;
    for (const auto &i : c.items)
        result.items.push_back({i.name, i.passed, i.detail});
    result.referenceSpeed = c.referenceSpeed.value_or(0);
    result.measuredSpeed = c.measuredSpeed.value_or(0);
    result.tolerance = c.tolerance;
    result.unit = drivers::SpeedUnit::Mph;
    return result;
}

} /* namespace stopline::pipeline */

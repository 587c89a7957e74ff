#include "pipeline/trigger/decision.h"

namespace stopline::pipeline {

const char *reasonName(Reason reason)
{
    switch (reason) {
    case Reason::None:
        return "cite";
    case Reason::EnforcementSuspended:
        return "enforcement_suspended";
    case Reason::SignalFault:
        return "signal_fault";
    case Reason::SignalUnknown:
        return "signal_unknown";
    case Reason::NotRed:
        return "not_red";
    case Reason::WithinGrace:
        return "within_grace";
    case Reason::YellowTooShort:
        return "yellow_too_short";
    case Reason::YellowUnmeasured:
        return "yellow_unmeasured";
    case Reason::RightTurnExempt:
        return "right_turn_exempt";
    case Reason::RightTurnStopped:
        return "right_turn_stopped";
    case Reason::BelowMinSpeed:
        return "below_min_speed";
    case Reason::NoContinuation:
        return "no_continuation";
    case Reason::BadCrossing:
        return "bad_crossing";
    case Reason::UnknownLane:
        return "unknown_lane";
    case Reason::BeaconOff:
        return "beacon_off";
    case Reason::NotInSession:
        return "not_in_session";
    case Reason::OutsideWindow:
        return "outside_window";
    case Reason::SelfCheckFailed:
        return "self_check_failed";
    case Reason::SelfCheckStale:
        return "self_check_stale";
    case Reason::MultiTarget:
        return "multi_target";
    case Reason::SpeedSpread:
        return "speed_spread";
    case Reason::UnderThreshold:
        return "under_threshold";
    case Reason::TooFewSamples:
        return "too_few_samples";
    case Reason::RadarGap:
        return "radar_gap";
    case Reason::RadarReset:
        return "radar_reset";
    case Reason::EvidenceIncomplete:
        return "evidence_incomplete";
    case Reason::Duplicate:
        return "duplicate";
    case Reason::VehicleNotInView:
        return "vehicle_not_in_view";
    case Reason::PlateNotFound:
        return "plate_not_found";
    case Reason::IdentityAmbiguous:
        return "identity_ambiguous";
    case Reason::PhotoSpeedMismatch:
        return "photo_speed_mismatch";
    }
    return "unknown";
}

const char *violationKindName(ViolationKind kind)
{
    return kind == ViolationKind::RedLight ? "red_light" : "school_zone_speed";
}

const char *turnPolicyName(TurnPolicy policy)
{
    switch (policy) {
    case TurnPolicy::Cite:
        return "cite";
    case TurnPolicy::CiteUnlessStopped:
        return "cite_unless_stopped";
    case TurnPolicy::Never:
        return "never";
    }
    return "unknown";
}

std::optional<TurnPolicy> parseTurnPolicy(std::string_view text)
{
    if (text == "cite")
        return TurnPolicy::Cite;
    if (text == "cite_unless_stopped")
        return TurnPolicy::CiteUnlessStopped;
    if (text == "never")
        return TurnPolicy::Never;
    return std::nullopt;
}

const char *verdictName(Decision::Verdict verdict)
{
    switch (verdict) {
    case Decision::Verdict::Capture:
        return "capture";
    case Decision::Verdict::Cite:
        return "cite";
    case Decision::Verdict::NoCite:
        return "no_cite";
    }
    return "unknown";
}

std::uint64_t ReasonCounts::total() const
{
    std::uint64_t sum = 0;
    for (std::uint64_t n : counts_)
        sum += n;
    return sum;
}

std::string ReasonCounts::summary() const
{
    std::string out;
    for (std::size_t i = 0; i < kReasonCount; ++i) {
        if (!counts_[i])
            continue;
        if (!out.empty())
            out += ' ';
        out += reasonName(static_cast<Reason>(i));
        out += '=';
        out += std::to_string(counts_[i]);
    }
    return out;
}

double toMetersPerSecond(double speed, drivers::SpeedUnit unit)
{
    switch (unit) {
    case drivers::SpeedUnit::Mph:
        return speed * kMetersPerSecondPerMph;
    case drivers::SpeedUnit::Kmh:
        return speed / 3.6;
    case drivers::SpeedUnit::MetersPerSecond:
        return speed;
    case drivers::SpeedUnit::FeetPerSecond:
        return speed * 0.3048;
    case drivers::SpeedUnit::CentimetersPerSecond:
        return speed / 100.0;
    }
    return speed;
}

double fromMetersPerSecond(double mps, drivers::SpeedUnit unit)
{
    switch (unit) {
    case drivers::SpeedUnit::Mph:
        return mps / kMetersPerSecondPerMph;
    case drivers::SpeedUnit::Kmh:
        return mps * 3.6;
    case drivers::SpeedUnit::MetersPerSecond:
        return mps;
    case drivers::SpeedUnit::FeetPerSecond:
        return mps / 0.3048;
    case drivers::SpeedUnit::CentimetersPerSecond:
        return mps * 100.0;
    }
    return mps;
}

const char *speedUnitName(drivers::SpeedUnit unit)
{
    switch (unit) {
    case drivers::SpeedUnit::Mph:
        return "mph";
    case drivers::SpeedUnit::Kmh:
        return "km/h";
    case drivers::SpeedUnit::MetersPerSecond:
        return "m/s";
    case drivers::SpeedUnit::FeetPerSecond:
        return "ft/s";
    case drivers::SpeedUnit::CentimetersPerSecond:
        return "cm/s";
    }
    return "unknown";
}

} /* namespace stopline::pipeline */

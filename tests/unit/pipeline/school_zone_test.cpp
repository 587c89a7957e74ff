#include "pipeline/trigger/school_zone.h"

#include <cmath>
#include <numbers>
#include <stdexcept>

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::pipeline;
using Verdict = Decision::Verdict;

namespace {

constexpr Nanos kMs = kNanosPerMilli;
constexpr Nanos kS = kNanosPerSecond;
constexpr Nanos kStart = 5000 * kS;

SchoolZoneConfig baseConfig()
{
    SchoolZoneConfig c;
    c.limit = 20;
    c.thresholdOver = 10;
    c.beacon = "SZ1";
    c.calendar.sessions.push_back({*parseDate("2026-08-26"), *parseDate("2027-06-15"), "2026-27"});
    c.calendar.noSchoolDays.push_back({*parseDate("2026-11-26"), "Thanksgiving"});
    c.calendar.windows.push_back(*parseWindow("07:30-09:00"));
    c.calendar.windows.push_back(*parseWindow("14:30-16:00"));
    return c;
}

/* Tuesday 15 September 2026, 08:00 local: a school day inside the morning window. */
CivilTime schoolMorning()
{
    return {{2026, 9, 15}, 2, 8 * 3600};
}

drivers::BeaconState beacon(bool active, Nanos at)
{
    drivers::BeaconState b;
    b.beacon = "SZ1";
    b.active = active;
    b.sinceNs = at;
    b.at.sampleNs = at;
    return b;
}

/* A rule with the beacon flashing and a fresh passed self-check. */
SchoolZoneRule armed(SchoolZoneConfig config = baseConfig())
{
    SchoolZoneRule rule(std::move(config));
    rule.onBeacon(beacon(true, kStart - 60 * kS));
    rule.onSelfCheck(true, kStart - 5 * 60 * kS);
    return rule;
}

drivers::RadarReport report(Nanos at, std::vector<double> speeds,
                            drivers::SpeedUnit unit = drivers::SpeedUnit::Mph)
{
    drivers::RadarReport r;
    for (double s : speeds)
        r.targets.push_back({s, 900});
    r.unit = unit;
    r.at.sampleNs = at;
    r.sensorTimeS = double(at) / kS;
    return r;
}

/* Feeds one report per 100 ms, then lets the track end; returns every decision. */
std::vector<Decision> pass(SchoolZoneRule &rule, const std::vector<std::vector<double>> &reports,
                           const CivilTime &civil = schoolMorning(), Nanos start = kStart)
{
    std::vector<Decision> out;
    Nanos t = start;
    for (const auto &speeds : reports) {
        auto ds = rule.onRadar(report(t, speeds), civil);
        out.insert(out.end(), ds.begin(), ds.end());
        t += 100 * kMs;
    }
    auto ds = rule.poll(t + rule.config().passGapNs + rule.config().eventSlackNs + 1 * kS);
    out.insert(out.end(), ds.begin(), ds.end());
    return out;
}

std::vector<std::vector<double>> steady(double mph, int n = 10)
{
    return std::vector<std::vector<double>>(n, std::vector<double>{mph});
}

Decision final(const std::vector<Decision> &ds)
{
    CHECK(!ds.empty());
    CHECK(ds.back().verdict != Verdict::Capture);
    return ds.back();
}

} /* namespace */

TEST_GROUP(SchoolZone){};

TEST(SchoolZone, speederIsCapturedThenCited)
{
    SchoolZoneRule rule = armed();
    auto ds = pass(rule, steady(36));
    LONGS_EQUAL(2, ds.size());
    CHECK(ds[0].verdict == Verdict::Capture);
    /* The measurement point is the third reading (min_samples). */
    LONGS_EQUAL(kStart + 200 * kMs, ds[0].eventNs);
    LONGS_EQUAL(kStart + 200 * kMs + 1 * kS, ds[0].plan.bShotNs);
    CHECK(ds[1].verdict == Verdict::Cite);
    LONGS_EQUAL(ds[0].id, ds[1].id);
    const SpeedFacts &f = *ds[1].speed;
    DOUBLES_EQUAL(36, f.correctedSpeed, 1e-9);
    DOUBLES_EQUAL(36, f.measuredSpeed, 1e-9);
    DOUBLES_EQUAL(20, f.limit, 0);
    DOUBLES_EQUAL(10, f.thresholdOver, 0);
    DOUBLES_EQUAL(0, f.spread, 1e-9);
    LONGS_EQUAL(10, f.samples.size());
    LONGS_EQUAL(1, f.targetsInBeam);
    CHECK(f.beaconFlashing);
    LONGS_EQUAL(kStart - 60 * kS, f.beaconSinceNs);
    CHECK(f.schoolInSession);
    STRCMP_EQUAL("session 2026-08-26..2027-06-15 2026-27", f.calendarEntry.c_str());
    STRCMP_EQUAL("07:30-09:00", f.enforcementWindow.c_str());
    CHECK(f.selfCheckPassed);
    LONGS_EQUAL(1, rule.counts().citations());
}

TEST(SchoolZone, atTheThresholdIsNotCited)
{
    SchoolZoneRule rule = armed();
    const Decision d = final(pass(rule, steady(30)));
    STRCMP_EQUAL("under_threshold", reasonName(d.reason));
    SchoolZoneRule rule2 = armed();
    CHECK(final(pass(rule2, steady(30.1))).verdict == Verdict::Cite);
}

TEST(SchoolZone, beaconOff)
{
    SchoolZoneRule rule = armed();
    rule.onBeacon(beacon(false, kStart - 1 * kS));
    auto ds = pass(rule, steady(45));
    LONGS_EQUAL(1, ds.size());
    STRCMP_EQUAL("beacon_off", reasonName(ds[0].reason));
    CHECK_FALSE(ds[0].speed->beaconFlashing);
    /* Another zone's beacon flashing does not count. */
    drivers::BeaconState other = beacon(true, kStart);
    other.beacon = "SZ2";
    rule.onBeacon(other);
    STRCMP_EQUAL(
            "beacon_off",
            reasonName(final(pass(rule, steady(45), schoolMorning(), kStart + 10 * kS)).reason));
}

TEST(SchoolZone, outsideTheCalendar)
{
    SchoolZoneRule rule = armed();
    CivilTime summer{{2026, 7, 15}, 3, 8 * 3600};
    const Decision d = final(pass(rule, steady(45), summer));
    STRCMP_EQUAL("not_in_session", reasonName(d.reason));
    STRCMP_EQUAL("no session on 2026-07-15", d.speed->calendarEntry.c_str());

    CivilTime thanksgiving{{2026, 11, 26}, 4, 8 * 3600};
    const Decision h = final(pass(rule, steady(45), thanksgiving, kStart + 10 * kS));
    STRCMP_EQUAL("not_in_session", reasonName(h.reason));
    STRCMP_EQUAL("no school 2026-11-26 Thanksgiving", h.speed->calendarEntry.c_str());

    CivilTime saturday{{2026, 9, 19}, 6, 8 * 3600};
    STRCMP_EQUAL("not_in_session",
                 reasonName(final(pass(rule, steady(45), saturday, kStart + 20 * kS)).reason));

    CivilTime noon{{2026, 9, 15}, 2, 12 * 3600};
    const Decision w = final(pass(rule, steady(45), noon, kStart + 30 * kS));
    STRCMP_EQUAL("outside_window", reasonName(w.reason));
    CHECK(w.speed->schoolInSession);
    LONGS_EQUAL(3, rule.counts()[Reason::NotInSession]);
    LONGS_EQUAL(1, rule.counts()[Reason::OutsideWindow]);
    LONGS_EQUAL(0, rule.counts().citations());
}

TEST(SchoolZone, windowEdges)
{
    SchoolZoneRule rule = armed();
    CivilTime open{{2026, 9, 15}, 2, 7 * 3600 + 30 * 60};
    CHECK(final(pass(rule, steady(45), open)).verdict == Verdict::Cite);
    CivilTime closed{{2026, 9, 15}, 2, 9 * 3600};
    STRCMP_EQUAL("outside_window",
                 reasonName(final(pass(rule, steady(45), closed, kStart + 10 * kS)).reason));
}

TEST(SchoolZone, staleOrFailedSelfCheck)
{
    SchoolZoneRule rule = armed();
    rule.onSelfCheck(true, kStart - 16 * 60 * kS); /* older than 15 minutes */
    const Decision d = final(pass(rule, steady(45)));
    STRCMP_EQUAL("self_check_stale", reasonName(d.reason));
    LONGS_EQUAL(kStart - 16 * 60 * kS, d.speed->selfCheckAtNs);

    rule.onSelfCheck(false, kStart);
    STRCMP_EQUAL(
            "self_check_failed",
            reasonName(final(pass(rule, steady(45), schoolMorning(), kStart + 10 * kS)).reason));

    SchoolZoneRule never(baseConfig());
    never.onBeacon(beacon(true, kStart - 60 * kS));
    STRCMP_EQUAL("self_check_stale", reasonName(final(pass(never, steady(45))).reason));
}

TEST(SchoolZone, twoTargetsAtDifferentSpeedsAreDiscarded)
{
    SchoolZoneRule rule = armed();
    std::vector<std::vector<double>> reports = steady(36, 3);
    for (int i = 0; i < 5; ++i)
        reports.push_back({36, 28});
    auto ds = pass(rule, reports);
    /* The first readings were clean, so pictures were asked for; then discarded. */
    LONGS_EQUAL(2, ds.size());
    CHECK(ds[0].verdict == Verdict::Capture);
    STRCMP_EQUAL("multi_target", reasonName(ds[1].reason));
    LONGS_EQUAL(2, ds[1].speed->targetsInBeam);
    LONGS_EQUAL(3 + 5 * 2, ds[1].speed->samples.size());
    LONGS_EQUAL(1, ds[1].speed->samples.back().targetIndex);

    /* Two reflections of one vehicle at the same speed are one target. */
    SchoolZoneRule same = armed();
    std::vector<std::vector<double>> truck(8, std::vector<double>{36, 36.5});
    CHECK(final(pass(same, truck)).verdict == Verdict::Cite);
}

TEST(SchoolZone, spreadOverTwoMphIsDiscarded)
{
    SchoolZoneRule rule = armed();
    auto ds = pass(rule, {{35.0}, {35.5}, {36.0}, {36.5}, {37.0}, {37.5}});
    const Decision d = final(ds);
    STRCMP_EQUAL("speed_spread", reasonName(d.reason));
    DOUBLES_EQUAL(2.5, d.speed->spread, 1e-9);

    SchoolZoneRule ok = armed();
    const Decision c = final(pass(ok, {{35.0}, {35.5}, {36.0}, {36.5}, {37.0}}));
    CHECK(c.verdict == Verdict::Cite);
    DOUBLES_EQUAL(2.0, c.speed->spread, 1e-9);
    DOUBLES_EQUAL(36.0, c.speed->correctedSpeed, 1e-9);
}

TEST(SchoolZone, cosineCorrectionApplied)
{
    SchoolZoneConfig config = baseConfig();
    config.cosineAngleDeg = 20;
    SchoolZoneRule rule = armed(config);
    /* The radar sees 29 mph of a vehicle doing 29 / cos 20° = 30.86 mph. */
    const Decision d = final(pass(rule, steady(29)));
    CHECK(d.verdict == Verdict::Cite);
    DOUBLES_EQUAL(29, d.speed->measuredSpeed, 1e-9);
    DOUBLES_EQUAL(29 / std::cos(20 * std::numbers::pi / 180), d.speed->correctedSpeed, 1e-9);
    DOUBLES_EQUAL(30.86, d.speed->correctedSpeed, 0.005);
    DOUBLES_EQUAL(20, d.speed->cosineAngleDeg, 0);
    /* Raw samples stay as the sensor sent them. */
    DOUBLES_EQUAL(29, d.speed->samples[0].speed, 0);

    /* Without the correction the same readings are under the threshold. */
    SchoolZoneRule plain = armed();
    STRCMP_EQUAL("under_threshold", reasonName(final(pass(plain, steady(29))).reason));
}

TEST(SchoolZone, tracksSplitOnSilenceAndJumps)
{
    SchoolZoneRule rule = armed();
    std::vector<Decision> ds;
    auto feed = [&](Nanos at, double mph) {
        auto out = rule.onRadar(report(at, {mph}), schoolMorning());
        ds.insert(ds.end(), out.begin(), out.end());
    };
    for (int i = 0; i < 5; ++i)
        feed(kStart + i * 100 * kMs, 25);
    /* 1 s of silence: a new vehicle. */
    for (int i = 0; i < 5; ++i)
        feed(kStart + 1400 * kMs + i * 100 * kMs, 40);
    /* A jump of 15 mph with one target: another vehicle. */
    for (int i = 0; i < 5; ++i)
        feed(kStart + 1900 * kMs + i * 100 * kMs, 25);
    auto last = rule.poll(kStart + 5 * kS);
    ds.insert(ds.end(), last.begin(), last.end());
    LONGS_EQUAL(4, ds.size());
    STRCMP_EQUAL("under_threshold", reasonName(ds[0].reason));
    CHECK(ds[1].verdict == Verdict::Capture);
    CHECK(ds[2].verdict == Verdict::Cite);
    DOUBLES_EQUAL(40, ds[2].speed->correctedSpeed, 1e-9);
    STRCMP_EQUAL("under_threshold", reasonName(ds[3].reason));
    CHECK_FALSE(rule.tracking());
}

TEST(SchoolZone, outboundTrafficAndOtherUnits)
{
    SchoolZoneRule rule = armed();
    /* Outbound (negative) targets are not the enforced direction. */
    auto ds = pass(rule, steady(-50));
    LONGS_EQUAL(0, ds.size());
    /* 58 km/h = 36.04 mph. */
    SchoolZoneRule kmh = armed();
    std::vector<Decision> out;
    for (int i = 0; i < 6; ++i) {
        auto d = kmh.onRadar(report(kStart + i * 100 * kMs, {58}, drivers::SpeedUnit::Kmh),
                             schoolMorning());
        out.insert(out.end(), d.begin(), d.end());
    }
    auto end = kmh.poll(kStart + 5 * kS);
    out.insert(out.end(), end.begin(), end.end());
    CHECK(final(out).verdict == Verdict::Cite);
    DOUBLES_EQUAL(58 / 3.6 / kMetersPerSecondPerMph, final(out).speed->correctedSpeed, 1e-9);
}

TEST(SchoolZone, tooFewSamples)
{
    SchoolZoneRule rule = armed();
    STRCMP_EQUAL("too_few_samples", reasonName(final(pass(rule, steady(45, 2))).reason));
}

TEST(SchoolZone, suspendedEnforcement)
{
    SchoolZoneRule rule = armed();
    rule.setSuspended(true);
    STRCMP_EQUAL("enforcement_suspended", reasonName(final(pass(rule, steady(45))).reason));
}

TEST(SchoolZone, calendarAndWindowParsing)
{
    CHECK(parseDate("2026-02-29") == std::nullopt); /* not a leap year */
    CHECK(parseDate("2028-02-29").has_value());
    CHECK(parseDate("2026-9-01") == std::nullopt);
    CHECK(parseWindow("09:00-07:30") == std::nullopt);
    CHECK(parseWindow("7:30-09:00") == std::nullopt);
    LONGS_EQUAL(7 * 3600 + 30 * 60, parseWindow("07:30-09:00")->fromSecond);

    SchoolZoneConfig config = baseConfig();
    config.cosineAngleDeg = 75;
    config.calendar.windows.clear();
    std::vector<std::string> errors = validate(config);
    LONGS_EQUAL(2, errors.size());
    STRCMP_EQUAL("cosine_angle_deg: must be in [0, 60) degrees", errors[0].c_str());
    STRCMP_EQUAL("calendar.windows: at least one enforcement window", errors[1].c_str());
    CHECK_THROWS(std::invalid_argument, SchoolZoneRule{config});
}

namespace {

/* Reports every 100 ms from `from` for `n` reports, each with `speeds`. */
void feedReports(SchoolZoneRule &rule, std::vector<Decision> *out, Nanos from, int n,
                 std::vector<double> speeds)
{
    for (int i = 0; i < n; ++i) {
        auto ds = rule.onRadar(report(from + i * 100 * kMs, speeds), schoolMorning());
        out->insert(out->end(), ds.begin(), ds.end());
    }
}

std::vector<Decision> finals(const std::vector<Decision> &ds)
{
    std::vector<Decision> out;
    for (const Decision &d : ds)
        if (d.verdict != Verdict::Capture)
            out.push_back(d);
    return out;
}

} /* namespace */

TEST(SchoolZone, aShortRadarGapMidPassIsOnePass)
{
    SchoolZoneRule rule = armed();
    std::vector<Decision> ds;
    feedReports(rule, &ds, kStart, 8, {38});
    feedReports(rule, &ds, kStart + 700 * kMs + 400 * kMs, 8, {38}); /* 0.4 s between reports */
    auto last = rule.poll(kStart + 10 * kS);
    ds.insert(ds.end(), last.begin(), last.end());
    std::vector<Decision> f = finals(ds);
    LONGS_EQUAL(1, f.size());
    CHECK(f[0].verdict == Verdict::Cite);
    LONGS_EQUAL(16, f[0].speed->samples.size());
    LONGS_EQUAL(400 * kMs, f[0].speed->longestGapNs);
}

TEST(SchoolZone, aLongerRadarGapRefusesThePassOnceNeverTwice)
{
    /* 0.9 s without readings mid-pass (the defect: two tracks, two citations). */
    SchoolZoneRule rule = armed();
    std::vector<Decision> ds;
    feedReports(rule, &ds, kStart, 8, {38});
    feedReports(rule, &ds, kStart + 700 * kMs + 900 * kMs, 8, {38});
    auto last = rule.poll(kStart + 10 * kS);
    ds.insert(ds.end(), last.begin(), last.end());
    std::vector<Decision> f = finals(ds);
    LONGS_EQUAL(1, f.size());
    STRCMP_EQUAL("radar_gap", reasonName(f[0].reason));
    LONGS_EQUAL(900 * kMs, f[0].speed->longestGapNs);
    LONGS_EQUAL(0, rule.counts().citations());
}

TEST(SchoolZone, silenceLongerThanThePassGapEndsThePass)
{
    SchoolZoneRule rule = armed();
    std::vector<Decision> ds;
    feedReports(rule, &ds, kStart, 8, {38});
    feedReports(rule, &ds, kStart + 700 * kMs + 2500 * kMs, 8, {38});
    auto last = rule.poll(kStart + 20 * kS);
    ds.insert(ds.end(), last.begin(), last.end());
    std::vector<Decision> f = finals(ds);
    LONGS_EQUAL(2, f.size());
    CHECK(f[0].verdict == Verdict::Cite);
    CHECK(f[1].verdict == Verdict::Cite);
}

TEST(SchoolZone, aSpeederWhoSharedTheBeamForPartOfThePassIsDiscarded)
{
    /* A 40 mph car beside a 25 mph truck (the truck's echo is stronger) for ten reports,
     * then alone: one pass, two targets at different speeds, discarded whole. */
    SchoolZoneRule rule = armed();
    std::vector<Decision> ds;
    feedReports(rule, &ds, kStart, 10, {25, 40});
    feedReports(rule, &ds, kStart + 1000 * kMs, 10, {40});
    auto last = rule.poll(kStart + 10 * kS);
    ds.insert(ds.end(), last.begin(), last.end());
    std::vector<Decision> f = finals(ds);
    LONGS_EQUAL(1, f.size());
    STRCMP_EQUAL("multi_target", reasonName(f[0].reason));
    LONGS_EQUAL(2, f[0].speed->targetsInBeam);
    STRCMP_EQUAL("discard_pass", f[0].speed->multiTargetPolicy.c_str());
    LONGS_EQUAL(0, rule.counts().citations());
}

TEST(SchoolZone, theDiscardReportsPolicyCitesFromTheSoloReadingsAndSaysSo)
{
    SchoolZoneConfig config = baseConfig();
    config.multiTarget = MultiTargetPolicy::DiscardReports;
    SchoolZoneRule rule = armed(config);
    std::vector<Decision> ds;
    feedReports(rule, &ds, kStart, 10, {25, 40});
    feedReports(rule, &ds, kStart + 1000 * kMs, 10, {40});
    auto last = rule.poll(kStart + 10 * kS);
    ds.insert(ds.end(), last.begin(), last.end());
    std::vector<Decision> f = finals(ds);
    LONGS_EQUAL(1, f.size());
    CHECK(f[0].verdict == Verdict::Cite);
    DOUBLES_EQUAL(40, f[0].speed->correctedSpeed, 1e-9);
    LONGS_EQUAL(2, f[0].speed->targetsInBeam);
    STRCMP_EQUAL("discard_reports", f[0].speed->multiTargetPolicy.c_str());
    CHECK(parseMultiTargetPolicy("discard_reports") == MultiTargetPolicy::DiscardReports);
    CHECK(!parseMultiTargetPolicy("both"));
}

TEST(SchoolZone, theNextVehicleAfterASilenceIsToldApartByItsWeakEcho)
{
    /* Two speeders 1.5 s apart at similar speeds: the first leaves the near end of the beam
     * with a strong echo, the second enters the far end with a weak one. Two passes. */
    SchoolZoneRule rule = armed();
    std::vector<Decision> ds;
    auto feedMagnitude = [&](Nanos from, int n, double mph, double magnitude, double growth) {
        for (int i = 0; i < n; ++i) {
            drivers::RadarReport r = report(from + i * 100 * kMs, {mph});
            r.targets[0].magnitude = magnitude * (1 + growth * i);
            auto out = rule.onRadar(r, schoolMorning());
            ds.insert(ds.end(), out.begin(), out.end());
        }
    };
    feedMagnitude(kStart, 8, 40, 300, 0.3);
    feedMagnitude(kStart + 700 * kMs + 1500 * kMs, 8, 43, 150, 0.3);
    /* The same vehicle reappearing after a dropout is no weaker than before it. */
    feedMagnitude(kStart + 10 * kS, 8, 38, 300, 0.3);
    feedMagnitude(kStart + 10700 * kMs + 900 * kMs, 8, 38, 1200, 0.3);
    auto last = rule.poll(kStart + 30 * kS);
    ds.insert(ds.end(), last.begin(), last.end());
    std::vector<Decision> f = finals(ds);
    LONGS_EQUAL(3, f.size());
    CHECK(f[0].verdict == Verdict::Cite);
    DOUBLES_EQUAL(40, f[0].speed->correctedSpeed, 1e-9);
    CHECK(f[1].verdict == Verdict::Cite);
    DOUBLES_EQUAL(43, f[1].speed->correctedSpeed, 1e-9);
    STRCMP_EQUAL("radar_gap", reasonName(f[2].reason));
}

TEST(SchoolZone, aBurstReadLateByABusyHostIsNoRadarGap)
{
    /* The radar reported every 100 ms (its clock says so), but the host read the port
     * 1.2 s late and stamped five reports within a few milliseconds: no silence on the
     * radar, so one pass and one citation. */
    SchoolZoneRule rule = armed();
    std::vector<Decision> ds;
    for (int i = 0; i < 12; ++i) {
        Nanos read = i < 5    ? kStart + i * 100 * kMs
                     : i < 10 ? kStart + 1600 * kMs + (i - 5) * 2 * kMs
                              : kStart + 1600 * kMs + (i - 9) * 100 * kMs;
        drivers::RadarReport r = report(read, {39});
        r.sensorTimeS = 50.0 + i * 0.1;
        auto out = rule.onRadar(r, schoolMorning());
        ds.insert(ds.end(), out.begin(), out.end());
    }
    auto last = rule.poll(kStart + 10 * kS);
    ds.insert(ds.end(), last.begin(), last.end());
    std::vector<Decision> f = finals(ds);
    LONGS_EQUAL(1, f.size());
    CHECK(f[0].verdict == Verdict::Cite);
    CHECK(f[0].speed->longestGapNs < 150 * kMs);
}

/* A radar reset in the middle of a speeder's pass: the capture already made is refused as
 * radar_reset (its speeds came partly from a sensor that restarted), a pass that starts
 * right after the recovery may have begun unmeasured and is refused too, and one a pass
 * gap later is judged as usual. */
TEST(SchoolZone, aRadarResetRefusesThePassItInterrupts)
{
    SchoolZoneRule rule = armed();
    std::vector<Decision> ds;
    Nanos t = kStart;
    for (int i = 0; i < 6; ++i, t += 100 * kMs) {
        auto d = rule.onRadar(report(t, {38}), schoolMorning());
        ds.insert(ds.end(), d.begin(), d.end());
    }
    CHECK(!ds.empty() && ds[0].verdict == Verdict::Capture);
    rule.onRadarReset(t);
    auto end = rule.poll(t + rule.config().passGapNs + rule.config().eventSlackNs + 1 * kS);
    STRCMP_EQUAL("radar_reset", reasonName(final(end).reason));
    CHECK(final(end).verdict == Verdict::NoCite);

    /* while recovering nothing is cited */
    const Nanos recovered = t + 5 * kS;
    CHECK(final(pass(rule, steady(40), schoolMorning(), t + 3 * kS)).verdict == Verdict::NoCite);
    rule.onSelfCheck(true, recovered);
    const Decision soon = final(pass(rule, steady(40), schoolMorning(), recovered + 500 * kMs));
    STRCMP_EQUAL("radar_reset", reasonName(soon.reason));
    const Decision later = final(pass(rule, steady(40), schoolMorning(), recovered + 10 * kS));
    CHECK(later.verdict == Verdict::Cite);
}

#include "drivers/signal/phase_decoder.h"

#include <stdexcept>
#include <string>
#include <vector>

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::drivers;

namespace {

constexpr Nanos ms = kNanosPerMilli;
constexpr Nanos s = kNanosPerSecond;
constexpr Nanos T0 = 1000 * s; /* an arbitrary CLOCK_MONOTONIC origin */

/* Inputs in the order the decoder lists them for one head: red, yellow, green. */
enum Line : std::size_t { R = 0, Y = 1, G = 2, R2 = 3, Y2 = 4, G2 = 5 };

struct Recorder
{
    std::vector<PhaseChange> phases;
    std::vector<SignalFault> faults;
    std::vector<SignalInterval> intervals;

    SignalSink sink()
    {
        return SignalSink{[this](const PhaseChange &c) { phases.push_back(c); },
                          [this](const SignalFault &f) { faults.push_back(f); },
                          [this](const SignalInterval &i) { intervals.push_back(i); }};
    }
};

PhaseDecoderConfig oneHead()
{
    PhaseDecoderConfig config;
    config.heads = {{"NB", "NB_RED", "NB_YELLOW", "NB_GREEN"}};
    return config;
}

PhaseDecoderConfig twoHeads()
{
    PhaseDecoderConfig config;
    config.heads = {{"NB", "NB_RED", "NB_YELLOW", "NB_GREEN"},
                    {"EW", "EW_RED", "EW_YELLOW", "EW_GREEN"}};
    return config;
}

/* 1 kHz chatter: a toggle every 0.5 ms for `length`, ending at `finalLevel`. */
void chatter(PhaseDecoder &d, std::size_t line, Nanos from, Nanos length, bool finalLevel)
{
    bool level = !finalLevel;
    Nanos t = from;
    for (; t < from + length; t += 500'000) {
        d.edge(line, level, t);
        level = !level;
    }
    d.edge(line, finalLevel, t);
}

} /* namespace */

TEST_GROUP(PhaseDecoder)
{
    Recorder rec;
};

TEST(PhaseDecoder, MeasuresYellowEdgeToEdge)
{
    PhaseDecoder d(oneHead(), rec.sink());
    STRCMP_EQUAL("NB_RED", d.inputs()[R].c_str());
    d.begin({false, false, true}, T0);
    LONGS_EQUAL(1, rec.phases.size());
    CHECK(rec.phases[0].phase == Phase::Green);
    CHECK(rec.phases[0].previous == Phase::Unknown);

    d.edge(G, false, T0 + 10 * s);
    d.edge(Y, true, T0 + 10 * s);
    d.edge(Y, false, T0 + 13'600 * ms);
    d.edge(R, true, T0 + 13'600 * ms);
    d.edge(R, false, T0 + 40 * s);
    d.edge(G, true, T0 + 40 * s);
    d.advance(T0 + 41 * s);

    LONGS_EQUAL(4, rec.phases.size());
    CHECK(rec.phases[1].phase == Phase::Yellow);
    LONGS_EQUAL(T0 + 10 * s, rec.phases[1].at.sampleNs); /* the edge, not the debounce expiry */
    LONGS_EQUAL(0, rec.phases[1].previousDurationNs);    /* green began before we looked */
    CHECK(rec.phases[2].phase == Phase::Red);
    LONGS_EQUAL(T0 + 13'600 * ms, rec.phases[2].at.sampleNs);
    LONGS_EQUAL(3'600 * ms, rec.phases[2].previousDurationNs);
    CHECK(rec.phases[3].phase == Phase::Green);
    LONGS_EQUAL(26'400 * ms, rec.phases[3].previousDurationNs);

    LONGS_EQUAL(1, rec.intervals.size());
    CHECK(rec.intervals[0].kind == SignalInterval::Kind::Yellow);
    STRCMP_EQUAL("NB", rec.intervals[0].head.c_str());
    LONGS_EQUAL(3'600 * ms, rec.intervals[0].durationNs);
    LONGS_EQUAL(T0 + 10 * s, rec.intervals[0].startNs);
    CHECK(rec.intervals[0].next == Phase::Red);
    CHECK(rec.faults.empty());
    CHECK(d.faultFree());
}

TEST(PhaseDecoder, OverlapAndGapBetweenLampsUseTheNewLampsEdge)
{
    PhaseDecoder d(oneHead(), rec.sink());
    d.begin({false, false, true}, T0);
    /* Overlap: yellow lights 2 ms before green goes out. */
    d.edge(Y, true, T0 + 1 * s);
    d.edge(G, false, T0 + 1 * s + 2 * ms);
    /* Gap: yellow goes out 3 ms before red lights. */
    d.edge(Y, false, T0 + 5 * s);
    d.edge(R, true, T0 + 5 * s + 3 * ms);
    d.advance(T0 + 6 * s);
    LONGS_EQUAL(3, rec.phases.size());
    LONGS_EQUAL(T0 + 1 * s, rec.phases[1].at.sampleNs);
    LONGS_EQUAL(T0 + 5 * s + 3 * ms, rec.phases[2].at.sampleNs);
    LONGS_EQUAL(4 * s + 3 * ms, rec.intervals.at(0).durationNs);
    CHECK(rec.faults.empty());
}

TEST(PhaseDecoder, ChatterAtOneKilohertzChangesNothing)
{
    PhaseDecoder d(oneHead(), rec.sink());
    d.begin({false, false, true}, T0);
    chatter(d, R, T0 + 1 * s, 2 * s, false); /* induced noise on the dark red lamp */
    chatter(d, Y, T0 + 4 * s, 2 * s, false);
    chatter(d, G, T0 + 7 * s, 2 * s, true); /* the lit lamp flickering */
    d.advance(T0 + 20 * s);
    LONGS_EQUAL(1, rec.phases.size()); /* only the initial green */
    CHECK(rec.faults.empty());
    CHECK(d.phase("NB") == Phase::Green);
    CHECK(d.glitches() >= 3);
}

TEST(PhaseDecoder, BounceKeepsTheFirstEdgeNoiseBeforeAQuietGapDoesNot)
{
    PhaseDecoder d(oneHead(), rec.sink());
    d.begin({false, false, true}, T0);
    /* Yellow relay bounces for 1.5 ms as it closes; green opens cleanly. */
    Nanos t = T0 + 1 * s;
    d.edge(G, false, t);
    d.edge(Y, true, t);
    d.edge(Y, false, t + 300'000);
    d.edge(Y, true, t + 600'000);
    d.edge(Y, false, t + 1'000'000);
    d.edge(Y, true, t + 1'500'000);
    /* Noise on red for a second, quiet for 20 ms, then red really lights. */
    chatter(d, R, T0 + 3 * s, 1 * s, false);
    d.edge(Y, false, T0 + 4 * s + 20 * ms);
    d.edge(R, true, T0 + 4 * s + 20 * ms);
    d.advance(T0 + 6 * s);
    LONGS_EQUAL(3, rec.phases.size());
    LONGS_EQUAL(t, rec.phases[1].at.sampleNs);
    CHECK(rec.phases[2].phase == Phase::Red);
    LONGS_EQUAL(T0 + 4 * s + 20 * ms, rec.phases[2].at.sampleNs);
}

TEST(PhaseDecoder, RedWithGreenIsAConflictFault)
{
    PhaseDecoder d(oneHead(), rec.sink());
    d.begin({true, false, false}, T0);
    /* A 10 ms overlap is a switching artefact, not a conflict. */
    d.edge(G, true, T0 + 1 * s);
    d.edge(G, false, T0 + 1 * s + 10 * ms);
    d.advance(T0 + 2 * s);
    LONGS_EQUAL(1, rec.phases.size());
    CHECK(rec.faults.empty());

    d.edge(G, true, T0 + 3 * s);
    d.advance(T0 + 3 * s + 100 * ms);
    LONGS_EQUAL(2, rec.phases.size());
    CHECK(rec.phases[1].phase == Phase::Conflict);
    LONGS_EQUAL(T0 + 3 * s, rec.phases[1].at.sampleNs);
    LONGS_EQUAL(1, rec.faults.size());
    CHECK(rec.faults[0].kind == SignalFault::Kind::Conflict);
    CHECK(rec.faults[0].active);
    LONGS_EQUAL(T0 + 3 * s, rec.faults[0].at.sampleNs);
    CHECK(rec.faults[0].detail.find("red and green") != std::string::npos);
    CHECK(!d.faultFree());

    d.edge(G, false, T0 + 5 * s);
    d.advance(T0 + 6 * s);
    LONGS_EQUAL(3, rec.phases.size());
    CHECK(rec.phases[2].phase == Phase::Red);
    LONGS_EQUAL(T0 + 5 * s, rec.phases[2].at.sampleNs); /* red alone again from green's exit */
    LONGS_EQUAL(2, rec.faults.size());
    CHECK(!rec.faults[1].active);
    CHECK(d.faultFree());
}

TEST(PhaseDecoder, YellowWithGreenHeldIsAConflict)
{
    PhaseDecoder d(oneHead(), rec.sink());
    d.begin({false, false, true}, T0);
    d.edge(Y, true, T0 + 1 * s);
    d.advance(T0 + 1 * s + 400 * ms);
    LONGS_EQUAL(1, rec.phases.size()); /* below the hold */
    d.advance(T0 + 2 * s);
    LONGS_EQUAL(2, rec.phases.size());
    CHECK(rec.phases[1].phase == Phase::Conflict);
    CHECK(rec.faults.at(0).detail.find("yellow and green") != std::string::npos);
}

TEST(PhaseDecoder, DarkHeadIsAFaultAShortGapIsNot)
{
    PhaseDecoder d(oneHead(), rec.sink());
    d.begin({true, false, false}, T0);
    d.edge(R, false, T0 + 1 * s);
    d.edge(R, true, T0 + 1 * s + 500 * ms);
    d.advance(T0 + 5 * s);
    LONGS_EQUAL(1, rec.phases.size());
    CHECK(rec.faults.empty());

    d.edge(R, false, T0 + 10 * s);
    d.advance(T0 + 11 * s);
    LONGS_EQUAL(1, rec.phases.size());
    d.advance(T0 + 12 * s + 100 * ms);
    LONGS_EQUAL(2, rec.phases.size());
    CHECK(rec.phases[1].phase == Phase::Dark);
    LONGS_EQUAL(T0 + 10 * s, rec.phases[1].at.sampleNs);
    CHECK(rec.faults.at(0).kind == SignalFault::Kind::Dark);
    CHECK(rec.faults.at(0).active);

    d.edge(R, true, T0 + 20 * s);
    d.advance(T0 + 21 * s);
    CHECK(d.phase("NB") == Phase::Red);
    CHECK(!rec.faults.back().active);
    CHECK(d.faultFree());
}

TEST(PhaseDecoder, FlashingRedIsDetectedAndIsNotDark)
{
    PhaseDecoder d(oneHead(), rec.sink());
    d.begin({true, false, false}, T0);
    for (int i = 0; i < 8; ++i) {
        d.edge(R, false, T0 + i * s);
        d.edge(R, true, T0 + i * s + 500 * ms);
    }
    d.edge(R, false, T0 + 8 * s);
    d.advance(T0 + 9 * s);
    LONGS_EQUAL(2, rec.phases.size());
    CHECK(rec.phases[1].phase == Phase::FlashingRed);
    /* The steady red ended when the lamp first went out before the run of flashes. */
    LONGS_EQUAL(T0, rec.phases[1].at.sampleNs);
    LONGS_EQUAL(T0, rec.faults[0].at.sampleNs);
    LONGS_EQUAL(1, rec.faults.size());
    CHECK(rec.faults[0].kind == SignalFault::Kind::Flashing);
    /* Flashing stops with the lamp out: flashing ends, then the head is dark. */
    d.advance(T0 + 20 * s);
    CHECK(d.phase("NB") == Phase::Dark);
    LONGS_EQUAL(T0 + 8 * s, rec.phases.back().at.sampleNs);
    CHECK(!rec.faults[1].active);
    CHECK(rec.faults[1].kind == SignalFault::Kind::Flashing);
    CHECK(rec.faults[2].kind == SignalFault::Kind::Dark);
}

TEST(PhaseDecoder, AllRedIntervalAcrossHeads)
{
    PhaseDecoder d(twoHeads(), rec.sink());
    LONGS_EQUAL(6, d.inputs().size());
    d.begin({false, false, true, true, false, false}, T0); /* NB green, EW red */
    d.edge(G, false, T0 + 10 * s);
    d.edge(Y, true, T0 + 10 * s);
    d.edge(Y, false, T0 + 14 * s);
    d.edge(R, true, T0 + 14 * s);
    d.edge(R2, false, T0 + 16 * s + 500 * ms);
    d.edge(G2, true, T0 + 16 * s + 500 * ms);
    d.advance(T0 + 20 * s);
    SignalInterval allRed{};
    bool found = false;
    for (const SignalInterval &i : rec.intervals)
        if (i.kind == SignalInterval::Kind::AllRed) {
            allRed = i;
            found = true;
        }
    CHECK(found);
    STRCMP_EQUAL("all", allRed.head.c_str());
    LONGS_EQUAL(T0 + 14 * s, allRed.startNs);
    LONGS_EQUAL(T0 + 16 * s + 500 * ms, allRed.endNs);
    LONGS_EQUAL(2 * s + 500 * ms, allRed.durationNs);
    CHECK(allRed.next == Phase::Green);
}

TEST(PhaseDecoder, DecisionsDoNotDependOnWhenAdvanceIsCalled)
{
    /* The same edges, advanced after every edge or only once at the end (a stalled event
     * loop), must give identical phase changes. */
    auto script = [](PhaseDecoder &d, bool advanceOften) {
        d.begin({false, false, true}, T0);
        Nanos t = T0;
        for (int cycle = 0; cycle < 3; ++cycle) {
            d.edge(G, false, t + 10 * s);
            d.edge(Y, true, t + 10 * s + 1 * ms);
            if (advanceOften)
                d.advance(t + 11 * s);
            chatter(d, R, t + 11 * s, 200 * ms, false);
            d.edge(Y, false, t + 14 * s);
            d.edge(R, true, t + 14 * s);
            if (advanceOften)
                d.advance(t + 15 * s);
            d.edge(R, false, t + 30 * s);
            d.edge(G, true, t + 30 * s);
            t += 30 * s;
        }
        d.advance(t + 30 * s);
    };
    Recorder a, b;
    PhaseDecoder often(oneHead(), a.sink());
    PhaseDecoder once(oneHead(), b.sink());
    script(often, true);
    script(once, false);
    LONGS_EQUAL(10, a.phases.size());
    LONGS_EQUAL(a.phases.size(), b.phases.size());
    for (std::size_t i = 0; i < a.phases.size(); ++i) {
        CHECK(a.phases[i].phase == b.phases[i].phase);
        LONGS_EQUAL(a.phases[i].at.sampleNs, b.phases[i].at.sampleNs);
    }
    LONGS_EQUAL(3, a.intervals.size());
    LONGS_EQUAL(4 * s - 1 * ms, b.intervals[2].durationNs);
}

TEST(PhaseDecoder, BadConfigurationIsNamed)
{
    PhaseDecoderConfig config = twoHeads();
    config.heads[1].green = "NB_GREEN";
    try {
        PhaseDecoder d(config, {});
        FAIL("accepted a line used twice");
    } catch (const std::invalid_argument &e) {
        CHECK(std::string(e.what()).find("'NB_GREEN'") != std::string::npos);
    }
    config = oneHead();
    config.allRedGroups = {{"main", {"NB", "SB"}}};
    try {
        PhaseDecoder d(config, {});
        FAIL("accepted an unknown head");
    } catch (const std::invalid_argument &e) {
        CHECK(std::string(e.what()).find("unknown head 'SB'") != std::string::npos);
    }
}

/* Induced spikes that never pause (50 us at 1 kHz, the lamp's true level XOR the spike)
 * on the yellow lamp across a whole green -> yellow -> red sequence: the yellow is still
 * measured to within a spike's width, whatever the spikes' phase against the lamp's
 * edges, and no fault is raised. */
TEST(PhaseDecoder, ContinuousSpikesDoNotHideOrShiftTheYellow)
{
    for (Nanos phase : std::vector<Nanos>{0, 20'000, 49'000, 50'000, 500'000, 999'000}) {
        Recorder r;
        PhaseDecoder d(oneHead(), r.sink());
        d.begin({false, false, true}, T0);
        Nanos yellowOn = T0 + 1 * s + phase, redOn = yellowOn + 3600 * ms;
        auto yellowTrue = [&](Nanos t) { return t >= yellowOn && t < redOn; };
        bool out = false;
        for (Nanos t = T0 + 1000; t < T0 + 6 * s; t += 1000) {
            if (t == yellowOn)
                d.edge(G, false, t);
            if (t == redOn)
                d.edge(R, true, t);
            bool spike = (t - T0) % ms < 50'000;
            bool now = yellowTrue(t) != spike;
            if (now != out) {
                d.edge(Y, now, t);
                out = now;
            }
        }
        d.advance(T0 + 7 * s);
        CHECK_TEXT(r.faults.empty(), ("phase " + std::to_string(phase)).c_str());
        LONGS_EQUAL(3, r.phases.size());
        CHECK(r.phases[1].phase == Phase::Yellow);
        CHECK(r.phases[2].phase == Phase::Red);
        CHECK(std::llabs(r.phases[1].at.sampleNs - yellowOn) <= 51'000);
        CHECK(std::llabs(r.phases[2].at.sampleNs - redOn) <= 51'000);
        LONGS_EQUAL(1, r.intervals.size());
        CHECK(std::llabs(r.intervals[0].durationNs - 3600 * ms) <= 51'000);
    }
}

/* The camera calibration and the top-down lane view against the simulator's camera model
 * (its truth): a homography fitted to the points an installer would mark must put every
 * road point where the pinhole camera does, and a vehicle's rear found in a rendered
 * frame must be where the world put it. */
#include <cmath>
#include <string>

#include <opencv2/core.hpp>

#include "pipeline/evidence/evidence_builder.h"
#include "pipeline/evidence/vehicle_identity.h"
#include "pipeline/scene/lane_view.h"
#include "pipeline/scene/road_calibration.h"
#include "sim/renderer.h"
#include "sim_calibration.h"
#include "sim/world.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::pipeline;

namespace {

struct Marked
{
    sim::World world;
    sim::Renderer renderer;
    CameraCalibration calibration;

    explicit Marked(const std::string &scenario)
        : world(sim::loadScenario(std::string(STOPLINE_SCENARIO_DIR) + "/" + scenario)),
          renderer(world.scenario(), *world.scenario().camera),
          calibration(testkit::markedCalibration(world.scenario(), renderer))
    {}
};

} /* namespace */

TEST_GROUP(CameraCalibration){};

TEST(CameraCalibration, markedPointsGiveTheCamerasOwnProjectionAcrossThePhotoZone)
{
    Marked m("demo.toml");
    CHECK(m.calibration.points.size() >= 6);
    RoadHomography h = RoadHomography::fit(m.calibration.points);
    CHECK(h.worstResidualPx() < 1.0); /* marks are rounded to the pixel */
    double worst = 0;
    for (double x = -6; x <= 12; x += 1.5)
        for (double y : {0.5, 1.8, 3.0, 4.2, 5.4, 6.7}) {
            auto truth = m.renderer.camera().project({x, y, 0});
            auto fitted = h.toImage({x, y});
            CHECK(truth.has_value() && fitted.has_value());
            worst = std::max(worst, std::hypot(truth->x - fitted->x, truth->y - fitted->y));
            auto back = h.toRoad(*truth);
            CHECK(back.has_value());
            CHECK(std::fabs(back->alongM - x) < 0.15);
            CHECK(std::fabs(back->acrossM - y) < 0.05);
        }
    std::printf("\nhomography vs pinhole: worst %.2f px over the photo zone\n", worst);
    CHECK(worst < 2.0);
}

TEST(CameraCalibration, tooFewOrCollinearPointsAreRefusedWithAReason)
{
    std::vector<MarkedPoint> three{{{0, 0}, {100, 400}}, {{0, 3.6}, {600, 400}},
                                   {{-4, 0}, {90, 600}}};
    CHECK_THROWS(CalibrationError, RoadHomography::fit(three));
    std::vector<MarkedPoint> line{{{0, 0}, {100, 400}},
                                  {{0, 1}, {200, 400}},
                                  {{0, 2}, {300, 400}},
                                  {{0, 3}, {400, 400}}};
    CHECK_THROWS(CalibrationError, RoadHomography::fit(line));
    Marked m("demo.toml");
    auto points = m.calibration.points;
    points[2].pixel.x += 25; /* one point mis-clicked */
    CHECK_THROWS(CalibrationError, RoadHomography::fit(points));
}

TEST(CameraCalibration, aVehiclesRearIsFoundWhereTheWorldPutsIt)
{
    Marked m("demo.toml");
    RoadHomography h = RoadHomography::fit(m.calibration.points);
    cv::Mat empty(720, 1280, CV_8UC3), frame(720, 1280, CV_8UC3);
    m.renderer.render(sim::Scene{}, empty);
    std::vector<LaneView> views;
    for (const LaneBand &l : m.calibration.lanes)
        views.emplace_back(h, l, RoadSpan{-18, 26}, cv::Size(1280, 720));
    int checked = 0;
    double worst = 0;
    for (double t = 5; t < 60; t += 0.25) {
        sim::Scene scene = m.world.sceneAt(static_cast<Nanos>(t * kNanosPerSecond));
        m.renderer.render(scene, frame);
        for (const sim::SceneVehicle &v : scene.vehicles) {
            const double rear = v.pose.x - v.plan->spec.lengthM;
            if (std::fabs(v.pose.heading) > 0.01 || rear < -5 || rear > 12)
                continue;
            bool alone = true; /* nothing else in the lane nearer the camera */
            for (const sim::SceneVehicle &o : scene.vehicles)
                if (&o != &v && o.plan->spec.lane == v.plan->spec.lane && o.pose.x < v.pose.x)
                    alone = false;
            if (!alone)
                continue;
            const LaneView &view = views[v.plan->spec.lane - 1];
            auto rears = view.findRears(view.sample(frame), view.sample(empty));
            CHECK(!rears.empty());
            if (rears.empty())
                continue;
            /* The shadow reaches 0.1 m behind the bumper. */
            const double err = rears.front().alongM - (rear - 0.1);
            worst = std::max(worst, std::fabs(err));
            ++checked;
        }
    }
    std::printf("rear found within %.2f m of the truth in %d frames\n", worst, checked);
    CHECK(checked > 20);
    CHECK(worst < 0.2);
}

namespace {

/* Frames rendered by the simulator's camera at its rate, as the ring would hold them. */
struct Rendered
{
    std::vector<cv::Mat> images;
    std::vector<hal::FramePtr> frames;

    hal::FramePtr at(Marked &m, double t, std::uint64_t sequence)
    {
        cv::Mat image(720, 1280, CV_8UC3);
        m.renderer.render(m.world.sceneAt(static_cast<Nanos>(t * kNanosPerSecond)), image);
        images.push_back(image);
        auto f = std::make_shared<hal::Frame>();
        f->sequence = sequence;
        f->stamp.sampleNs = static_cast<Nanos>(t * kNanosPerSecond);
        f->width = 1280;
        f->height = 720;
        f->stride = 1280 * 3;
        f->data = image.data;
        f->size = image.total() * 3;
        frames.push_back(f);
        return f;
    }
};

/* The daemon's once-a-second background learning over the minute before `untilS`. */
void learn(const VehicleBinder &binder, Marked &m, Rendered &r, double untilS)
{
    for (double t = std::max(0.0, untilS - 60); t < untilS; t += 1.0)
        binder.learnBackground(*r.at(m, t, 200000 + static_cast<std::uint64_t>(t)));
}

/* A speed decision measured at `eventS`, with every frame of [fromS, toS] to search and a
 * 5 fps clip around it. */
VehicleIdentity bindSpeedAt(Marked &m, Rendered &r, double mph, double eventS, double fromS,
                            double toS)
{
    Decision d;
    d.kind = ViolationKind::SchoolZoneSpeed;
    d.eventNs = static_cast<Nanos>(eventS * kNanosPerSecond);
    d.speed.emplace();
    d.speed->correctedSpeed = mph;
    Snapshot s;
    const double fps = 15;
    for (long k = std::lround(fromS * fps); k <= std::lround(toS * fps); ++k)
        s.search.push_back(r.at(m, k / fps, static_cast<std::uint64_t>(k)));
    for (double t = fromS - 2; t <= toS + 2; t += 0.2)
        s.range.push_back(r.at(m, t, 100000 + static_cast<std::uint64_t>(t * 10)));
    m.calibration.speedZone = {-6, 11.5};
    VehicleBinder binder(m.calibration);
    learn(binder, m, r, fromS);
    return binder.bind(d, s);
}

} /* namespace */

TEST(CameraCalibration, theSpeedersPhotoSpeedAgreesWithItsTrueSpeed)
{
    Marked m("identity_side_by_side.toml");
    Rendered r;
    /* 8SOLO41: 41 mph, at the line at 38.0 s, out of the beam at 36.6 s. */
    VehicleIdentity id = bindSpeedAt(m, r, 41.0, 36.5, 36.8, 39.5);
    STRCMP_EQUAL("", id.bound() ? "" : id.why.c_str());
    UNSIGNED_LONGS_EQUAL(1, id.lane);
    CHECK(id.photoSpeedMph.has_value());
    std::printf("photo speed %.2f mph for a true 41.00 (%s)\n", id.photoSpeedMph.value_or(0),
                id.why.c_str());
    DOUBLES_EQUAL(41.0, id.photoSpeedMph.value_or(0), 1.0);
}

TEST(CameraCalibration, twoVehiclesAbreastAreAmbiguous)
{
    Marked m("identity_side_by_side.toml");
    Rendered r;
    VehicleIdentity id = bindSpeedAt(m, r, 42.0, 6.5, 6.8, 9.5);
    STRCMP_EQUAL("identity_ambiguous", reasonName(id.reason));
}

TEST(CameraCalibration, aSlowCarPullingAwayInTheNextLaneIsNotTheSpeeder)
{
    /* hil_mix: MIX0006 at 42 mph alone in the beam; MIX0003 moves off at walking pace in
     * the other lane, inside the photo zone, measurably not at the radar's speed. */
    Marked m("hil_mix.toml");
    Rendered r;
    VehicleIdentity id = bindSpeedAt(m, r, 42.0, 28.3, 28.6, 31.5);
    STRCMP_EQUAL("", id.bound() ? "" : id.why.c_str());
    UNSIGNED_LONGS_EQUAL(1, id.lane);
    DOUBLES_EQUAL(42.0, id.photoSpeedMph.value_or(0), 1.0);
}

namespace {

/* A red-light decision for a crossing at `crossS` in `lane` at `mps`, with every frame of
 * the next `searchS` seconds and a 5 fps clip around it. */
VehicleIdentity bindRedAt(Marked &m, Rendered &r, unsigned lane, double crossS, double mps,
                          double searchS)
{
    Decision d;
    d.kind = ViolationKind::RedLight;
    d.eventNs = static_cast<Nanos>(crossS * kNanosPerSecond);
    d.redLight.emplace();
    d.redLight->lane = lane;
    d.redLight->crossingNs = d.eventNs;
    d.redLight->speedAtLineMps = mps;
    /* The loops as they saw it: a 4.5 m car over a 1.8 m entry loop. */
    d.redLight->crossing.entryLengthM = 1.8;
    d.redLight->crossing.entryOnNs = d.eventNs - static_cast<Nanos>(5.8 / mps * kNanosPerSecond);
    d.redLight->entryOffNs =
            d.redLight->crossing.entryOnNs + static_cast<Nanos>(6.3 / mps * kNanosPerSecond);
    Snapshot s;
    const double fps = 15;
    s.keyFrames.push_back(r.at(m, std::round(crossS * fps) / fps, 1));
    for (long k = std::lround(crossS * fps) + 1; k <= std::lround((crossS + searchS) * fps); ++k)
        s.search.push_back(r.at(m, k / fps, static_cast<std::uint64_t>(k)));
    for (double t = crossS - 3; t <= crossS + 3; t += 0.2)
        s.range.push_back(r.at(m, t, 100000 + static_cast<std::uint64_t>(t * 10)));
    m.calibration.redLightZone = {-6, 11.5};
    VehicleBinder binder(m.calibration);
    learn(binder, m, r, crossS);
    return binder.bind(d, s);
}

} /* namespace */

TEST(CameraCalibration, aRollingRightTurnIsFollowedIntoTheIntersection)
{
    /* demo: 5KDR221 turns right on red at 10 mph, front on the line at 25.3 s. */
    Marked m("demo.toml");
    Rendered r;
    VehicleIdentity id = bindRedAt(m, r, 1, 25.297, 4.47, 2.0);
    STRCMP_EQUAL("", id.bound() ? "" : id.why.c_str());
    CHECK(id.bRearM >= 0.5);
}

TEST(CameraCalibration, aSpeederWithATrailingFragmentIsStillOneVehicle)
{
    /* demo: 9FST321 at 42 mph, the search span as the rule plans it. */
    Marked m("demo.toml");
    Rendered r;
    VehicleIdentity id = bindSpeedAt(m, r, 42.0, 33.4, 33.9, 37.3);
    STRCMP_EQUAL("", id.bound() ? "" : id.why.c_str());
    DOUBLES_EQUAL(42.0, id.photoSpeedMph.value_or(0), 1.0);
}


TEST(CameraCalibration, aCarTheColourOfTheRoadIsFoundByItsLengthFromTheLoops)
{
    /* pipeline_hil: 5KDR221 again, its grey body close to the asphalt's grey: only its
     * shadow and glass stand out, so its rear is where the loops' length puts it. */
    Marked m("../../tests/hil/pipeline/pipeline_hil.toml");
    Rendered r;
    VehicleIdentity id = bindRedAt(m, r, 1, 25.297, 4.47, 1.6);
    STRCMP_EQUAL("", id.bound() ? "" : id.why.c_str());
    DOUBLES_EQUAL(-4.6, id.aRearM, 0.4);
}

namespace {

/* When the truth has `plate`'s front on the stop line, and its exit loop firing. */
struct TrueCrossing
{
    Nanos crossNs = 0;
    Nanos exitOnNs = 0;
    unsigned lane = 0;
};

TrueCrossing trueCrossing(const sim::World &world, const std::string &plate)
{
    TrueCrossing t;
    for (const sim::TruthRecord &r : world.truth()) {
        if (r.record.value("plate", "") != plate)
            continue;
        if (r.record["type"] == "crossing") {
            t.crossNs = r.at;
            t.lane = r.record["lane"].get<unsigned>();
        }
        if (r.record["type"] == "loop" && r.record["occupied"].get<bool>() && t.crossNs &&
            !t.exitOnNs && r.record["loop"].get<std::string>().find("EXIT") != std::string::npos)
            t.exitOnNs = r.at;
    }
    return t;
}

/* The rule's Capture for that crossing as it asks for dating (enforce_motion's loops:
 * stop line 5.8 m past the entry loop's leading edge, exit loop's 1.0 m past the line),
 * and the camera's answer from the frames of the span at 15 fps. */
CameraCrossing dateAt(Marked &m, Rendered &r, const TrueCrossing &t, double beforeS = 3.0)
{
    Decision d;
    d.id = 7;
    d.kind = ViolationKind::RedLight;
    d.redLight.emplace();
    d.redLight->lane = t.lane;
    d.redLight->crossing.exitOnNs = t.exitOnNs;
    d.redLight->crossing.spacingM = 6.8;
    d.redLight->stopLineFromEntryM = 5.8;
    d.plan.datingFromNs = t.exitOnNs - static_cast<Nanos>(beforeS * kNanosPerSecond);
    d.plan.datingToNs = t.exitOnNs + 300 * kNanosPerMilli;
    Snapshot s;
    const double fps = 15;
    const double from = static_cast<double>(d.plan.datingFromNs) / kNanosPerSecond;
    const double to = static_cast<double>(d.plan.datingToNs) / kNanosPerSecond;
    for (long k = std::lround(std::ceil(from * fps)); k <= std::lround(std::floor(to * fps)); ++k)
        s.search.push_back(r.at(m, k / fps, static_cast<std::uint64_t>(k)));
    VehicleBinder binder(m.calibration);
    learn(binder, m, r, from);
    return binder.dateCrossing(d, s);
}

} /* namespace */

TEST(CameraCalibration, theCameraDatesTheCrossingOfAVehicleThatStoodOnTheLoops)
{
    /* enforce_motion: MOT0006 stops 3 m back, MOT0010 2 m back, each on the entry loop,
     * then turns right; the loops cannot date either. */
    Marked m("enforce_motion.toml");
    double worstMs = 0;
    for (const char *plate : {"MOT0006", "MOT0010"}) {
        Rendered r;
        const TrueCrossing t = trueCrossing(m.world, plate);
        CHECK(t.crossNs > 0 && t.exitOnNs > t.crossNs);
        const CameraCrossing c = dateAt(m, r, t);
        std::printf("%s: %s; error %+.1f ms\n", plate, c.how.c_str(), (c.atNs - t.crossNs) / 1e6);
        CHECK_TEXT(c.dated, c.how.c_str());
        LONGS_EQUAL(7, c.decisionId);
        CHECK(c.earliestNs <= t.crossNs && t.crossNs <= c.latestNs);
        const double uncertaintyMs = (c.latestNs - c.atNs) / 1e6;
        CHECK(uncertaintyMs <= 150);
        worstMs = std::max(worstMs, uncertaintyMs);
        /* Its length is the rendered car's (4.5 m). */
        DOUBLES_EQUAL(4.5, c.vehicleLengthM, 0.3);
    }
    std::printf("camera-dated crossings: worst uncertainty %.1f ms\n", worstMs);
}

TEST(CameraCalibration, theCameraDoesNotDateWhatItCannotSee)
{
    Marked m("enforce_motion.toml");
    Rendered r;
    TrueCrossing t = trueCrossing(m.world, "MOT0006");
    /* The exit loop "fired" with nobody in the lane (a fault, or a vehicle in the other
     * lane): nothing to follow, so nothing is dated, and the answer says why. */
    t.exitOnNs += 20 * kNanosPerSecond;
    const CameraCrossing c = dateAt(m, r, t);
    CHECK(!c.dated);
    STRCMP_CONTAINS("no vehicle in lane 1", c.how.c_str());
    /* Too short a span to have seen the rear a metre back. */
    Rendered r2;
    const CameraCrossing shortSpan = dateAt(m, r2, trueCrossing(m.world, "MOT0006"), 0.1);
    CHECK(!shortSpan.dated);
    STRCMP_CONTAINS("not followed back 1.0 m", shortSpan.how.c_str());
}

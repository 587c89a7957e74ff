#include "pipeline/evidence/capture.h"
#include "pipeline/evidence/evidence_builder.h"
#include "pipeline/evidence/sealer.h"
#include "pipeline/trigger/red_light.h"
#include "pipeline/trigger/school_zone.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "evidence/crypto.h"
#include "evidence/verify.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::pipeline;
namespace ev = stopline::evidence;

namespace {

constexpr Nanos kMs = kNanosPerMilli;
constexpr Nanos kS = kNanosPerSecond;
constexpr int kWidth = 640;
constexpr int kHeight = 360;
constexpr double kFps = 15;
constexpr Nanos kInterval = 66'666'667;
constexpr Nanos kT0 = 2000 * kS;
constexpr Nanos kUtcOffset = 1'790'000'000LL * kS;

/* Where the rendered plate is in frame `i` (the car drives right to left). */
cv::Rect plateIn(int i)
{
    return cv::Rect(420 - 4 * i % 300, 220, 120, 60);
}

/* A road scene with a car and a legible plate, stamped as frame `i`. */
hal::FramePtr renderFrame(hal::FramePool &pool, int i)
{
    std::shared_ptr<hal::Frame> f = pool.acquire();
    if (!f)
        return nullptr;
    f->sequence = static_cast<std::uint64_t>(i);
    f->stamp.sampleNs = kT0 + i * kInterval;
    f->stamp.seenNs = f->stamp.sampleNs + 3 * kMs;
    f->width = kWidth;
    f->height = kHeight;
    f->stride = kWidth * 3;
    f->format = hal::PixelFormat::BGR888;
    cv::Mat img(kHeight, kWidth, CV_8UC3, f->data, f->stride);
    img.setTo(cv::Scalar(90, 90, 90));
    cv::line(img, {0, 300}, {kWidth, 300}, cv::Scalar(250, 250, 250), 6); /* stop line */
    cv::Rect plate = plateIn(i);
    cv::rectangle(img, cv::Rect(plate.x - 60, plate.y - 110, 240, 190), cv::Scalar(40, 40, 150),
                  cv::FILLED); /* the car */
    cv::rectangle(img, plate, cv::Scalar(235, 235, 235), cv::FILLED);
    cv::rectangle(img, plate, cv::Scalar(30, 30, 30), 2);
    /* US plate geometry: characters about 45% of the plate height, the row about 80%
     * of its width (condensed, as plate fonts are). */
    cv::Mat text(40, 200, CV_8UC3, cv::Scalar(235, 235, 235));
    cv::putText(text, "7ABC123", {4, 36}, cv::FONT_HERSHEY_SIMPLEX, 1.3, cv::Scalar(20, 20, 20), 3,
                cv::LINE_AA);
    cv::Rect row(plate.x + plate.width / 10, plate.y + plate.height * 27 / 100,
                 plate.width * 8 / 10, plate.height * 45 / 100);
    cv::resize(text, img(row), row.size(), 0, 0, cv::INTER_AREA);
    return f;
}

SiteIdentity site()
{
    SiteIdentity s;
    s.deviceSerial = "SN-0001";
    s.location.set_code("BEL-0142");
    s.location.set_description("NE 8th St & 112th Ave NE");
    s.location.set_direction(ev::NORTHBOUND);
    s.location.set_latitude(47.6168);
    s.location.set_longitude(-122.1897);
    s.redLightStatute = "RCW 46.63.170";
    s.redLightDescription = "Failure to stop at a steady red indication";
    s.speedStatute = "RCW 46.61.440";
    s.speedDescription = "School zone speed";
    s.calibrationId = "cal-7";
    s.configHash = std::string(64, 'a');
    return s;
}

CaptureContext context()
{
    CaptureContext c;
    c.clock.set_synchronized(true);
    c.clock.set_estimated_error_us(900);
    c.clock.set_maximum_error_us(20000);
    c.clock.set_source("test");
    c.clock.set_boot_id("boot-1");
    c.utcMinusMonotonicNs = kUtcOffset;
    RadarInfo radar{"OPS243-A", "1.2.3", "b42", "U123", "power-on", 24.125, "/dev/ttyACM0"};
    c.radar = toProto(radar);
    SelfCheckResult check;
    check.kind = SelfCheckResult::Kind::Periodic;
    check.atNs = kT0 - 60 * kS;
    check.passed = true;
    check.items.push_back({"frequency_band", true, "24.125 GHz"});
    c.latestSelfCheck = toProto(check, c);
    return c;
}

RedLightConfig lights()
{
    RedLightConfig c;
    LaneConfig lane;
    lane.approach = "NB";
    lane.lane = 2;
    lane.head = "NB";
    lane.entryLoop = "NB2-entry";
    lane.exitLoop = "NB2-exit";
    lane.stopLineFromEntryM = 4.0;
    c.lanes.push_back(lane);
    return c;
}

drivers::PhaseChange phase(drivers::Phase p, drivers::Phase previous, Nanos at, Nanos dur)
{
    drivers::PhaseChange c;
    c.head = "NB";
    c.phase = p;
    c.previous = previous;
    c.at.sampleNs = at;
    c.previousDurationNs = dur;
    return c;
}

/* Red at kT0 + 1 s after a 4 s yellow; a vehicle at 12 m/s crossing at `cross`.
 * Returns the rule's decisions: Capture, then Cite. */
std::vector<Decision> redLightRunner(RedLightRule &rule, Nanos cross)
{
    using drivers::Phase;
    rule.onPhaseChange(phase(Phase::Green, Phase::Red, kT0 - 40 * kS, 30 * kS));
    rule.onPhaseChange(phase(Phase::Yellow, Phase::Green, kT0 - 3 * kS, 37 * kS));
    rule.onPhaseChange(phase(Phase::Red, Phase::Yellow, kT0 + 1 * kS, 4 * kS));
    drivers::LoopCrossing c;
    c.approach = "NB";
    c.lane = 2;
    c.entryOnNs = cross - std::llround(4.0 / 12 * kS);
    c.exitOnNs = c.entryOnNs + std::llround(6.0 / 12 * kS);
    c.spacingM = 6;
    c.speedMps = 12;
    std::vector<Decision> out = rule.onLoopCrossing(c);
    drivers::LoopPresence off;
    off.loop = "NB2-exit";
    off.occupied = false;
    off.at.sampleNs = c.exitOnNs + 500 * kMs;
    auto more = rule.onLoopPresence(off);
    out.insert(out.end(), more.begin(), more.end());
    /* The rule decides once the signal has had time to show a fault. */
    more = rule.poll(c.exitOnNs + rule.config().signalSettleNs + 1 * kS);
    out.insert(out.end(), more.begin(), more.end());
    return out;
}

Snapshot snapshotFromFrames(const std::vector<hal::FramePtr> &frames, const Decision &d,
                            const EvidenceOptions &options)
{
    boost::asio::io_context io;
    FrameRing::Options ro;
    ro.preTriggerSeconds = 10;
    ro.fps = kFps;
    FrameRing ring(ro, io.get_executor());
    for (const hal::FramePtr &f : frames)
        ring.push(f);
    std::optional<Snapshot> snap;
    ring.request(snapshotRequestFor(d, options), [&](Snapshot s) { snap = std::move(s); });
    io.run();
    CHECK(snap.has_value());
    return std::move(*snap);
}

ev::KeyRing keyRingFor(const ev::SigningKey &key, const std::string &device)
{
    ev::KeyRing ring;
    ring.enroll(
            {std::shared_ptr<const ev::PublicKey>(ev::PublicKey::fromRaw(key.publicKey().raw())),
             device});
    return ring;
}

/* A chain with its genesis sealed, ready for violations. */
std::unique_ptr<ev::ChainWriter> startChain(const ev::SigningKey &key, const std::string &device)
{
    auto writer = std::make_unique<ev::ChainWriter>(device, &key, 0, std::string());
    ev::Record genesis = ev::makeGenesis(key, "SN-0001");
    *genesis.mutable_created() = Sealer::systemNow();
    genesis.mutable_clock()->set_synchronized(true);
    writer->seal(genesis);
    return writer;
}

double iou(const ev::Box &b, const cv::Rect &r)
{
    return plateIou(cv::Rect(b.x(), b.y(), b.width(), b.height()), r);
}

} /* namespace */

TEST_GROUP(Evidence){};

TEST(Evidence, redLightRecordIsCompleteSealsAndVerifies)
{
    hal::FramePool pool(hal::frameBytes(hal::PixelFormat::BGR888, kWidth, kHeight), 160);
    std::vector<hal::FramePtr> frames;
    for (int i = 0; i < 150; ++i)
        frames.push_back(renderFrame(pool, i));

    RedLightRule rule(lights());
    const Nanos cross = kT0 + 5 * kS + 1234 * 1000; /* 4.001234 s into red */
    std::vector<Decision> ds = redLightRunner(rule, cross);
    LONGS_EQUAL(2, ds.size());
    CHECK(ds[1].verdict == Decision::Verdict::Cite);

    EvidenceOptions options;
    Snapshot snap = snapshotFromFrames(frames, ds[1], options);
    STRCMP_EQUAL("complete", snapshotStatusName(snap.status));
    PlateLocator locator;
    BuildStats stats;
    ev::Record r = buildViolationRecord(ds[1], snap, site(), context(), options, locator, &stats);

    const ev::Violation &v = r.violation();
    LONGS_EQUAL(ev::RED_LIGHT, v.type());
    STRCMP_EQUAL("RCW 46.63.170", v.statute_code().c_str());
    STRCMP_EQUAL("BEL-0142", v.location().code().c_str());
    LONGS_EQUAL(2, v.location().lane());
    LONGS_EQUAL(ev::NORTHBOUND, v.location().direction());
    CHECK(std::llabs(v.event().monotonic_ns() - cross) < 1000);
    LONGS_EQUAL(v.event().monotonic_ns() + kUtcOffset, v.event().utc_ns());

    /* The A-shot is the frame nearest the crossing, computed independently. */
    const int nearestIndex = static_cast<int>(std::lround(double(cross - kT0) / kInterval));
    const ev::Frame &a = v.frames(0);
    LONGS_EQUAL(ev::FRAME_A_SHOT, a.role());
    LONGS_EQUAL(nearestIndex, a.sequence());
    LONGS_EQUAL(kT0 + nearestIndex * kInterval, a.captured().monotonic_ns());
    CHECK(std::llabs(a.captured().monotonic_ns() - cross) <= kInterval / 2);
    LONGS_EQUAL(kWidth, a.width());
    cv::Mat decoded = cv::imdecode(std::vector<unsigned char>(a.data().begin(), a.data().end()),
                                   cv::IMREAD_COLOR);
    LONGS_EQUAL(kWidth, decoded.cols);
    LONGS_EQUAL(kHeight, decoded.rows);
    CHECK(a.sha256() == ev::sha256(a.data()));
    const ev::Frame &b = v.frames(1);
    LONGS_EQUAL(ev::FRAME_B_SHOT, b.role());
    LONGS_EQUAL(nearestIndex + 15, b.sequence()); /* 1 s later at 15 fps */

    /* Clip: 3 s either side at 5 fps, scaled to 640 wide (already 640 here). */
    int clip = 0;
    for (const ev::Frame &f : v.frames())
        if (f.role() == ev::FRAME_CLIP) {
            ++clip;
            CHECK(f.captured().monotonic_ns() >= cross - 3 * kS - kInterval);
            CHECK(f.captured().monotonic_ns() <= cross + 3 * kS + kInterval);
        }
    LONGS_EQUAL(31, clip);
    LONGS_EQUAL(31, stats.clipFrames);
    DOUBLES_EQUAL(5.0, v.clip_fps(), 1e-9); /* the record says the clip is decimated */
    LONGS_EQUAL(640, v.clip_width());

    /* Plates: the best A-shot candidate covers the rendered plate; every crop names a
     * frame of the record by hash. */
    CHECK(v.plate().candidates_size() >= 1);
    CHECK(v.plate().candidates_size() <= 3);
    CHECK(v.plate().candidates(0).source_sha256() == a.sha256());
    CHECK(iou(v.plate().candidates(0).box(), plateIn(nearestIndex)) >= 0.5);
    for (const ev::PlateCandidate &c : v.plate().candidates()) {
        CHECK(c.source_sha256() == a.sha256() || c.source_sha256() == b.sha256());
        LONGS_EQUAL(ev::FRAME_PLATE_CROP, c.crop().role());
        CHECK(c.crop().sha256() == ev::sha256(c.crop().data()));
        CHECK(c.crop().width() >= static_cast<unsigned>(c.box().width()));
    }

    /* Signal timeline. */
    const ev::SignalTimeline &s = v.signal();
    STRCMP_EQUAL("NB", s.head().c_str());
    LONGS_EQUAL(4'000'000, s.measured_yellow_us());
    LONGS_EQUAL(kT0 + 1 * kS, s.red_onset().monotonic_ns());
    LONGS_EQUAL(4'001'234, s.time_into_red_a_us());
    LONGS_EQUAL((b.captured().monotonic_ns() - (kT0 + 1 * kS) + 500) / 1000,
                s.time_into_red_b_us());
    LONGS_EQUAL(300'000, s.grace_us());
    LONGS_EQUAL(3'000'000, s.minimum_yellow_us());
    LONGS_EQUAL(3, s.changes_size());
    LONGS_EQUAL(ev::PHASE_RED, s.changes(2).phase());
    CHECK(v.qualified());
    STRCMP_EQUAL("cite", v.turn_policy().c_str());

    /* Loops and speed at the line. */
    LONGS_EQUAL(2, v.crossing().lane());
    DOUBLES_EQUAL(6.0, v.crossing().spacing_m(), 0);
    DOUBLES_EQUAL(12 / kMetersPerSecondPerMph, v.crossing().speed(), 1e-3);
    DOUBLES_EQUAL(12 / kMetersPerSecondPerMph, v.speed().loop_speed(), 1e-3);
    LONGS_EQUAL(ev::MPH, v.speed().unit());

    /* Identity, clock, self-check. */
    STRCMP_EQUAL("U123", v.radar().uid().c_str());
    CHECK(v.latest_self_check().passed());
    LONGS_EQUAL(ev::SELF_CHECK_PERIODIC, v.latest_self_check().kind());
    CHECK(r.clock().synchronized());
    STRCMP_EQUAL("boot-1", r.clock().boot_id().c_str());
    STRCMP_EQUAL("cal-7", r.calibration_id().c_str());
    STRCMP_EQUAL(std::string(64, 'a').c_str(), r.config_hash().c_str());
    CHECK(!r.software_version().empty());

    /* Sealed into a chain, it verifies. */
    auto key = ev::SigningKey::generate();
    auto writer = startChain(*key, "dev-1");
    ev::Sealed sealed = writer->seal(r);
    ev::RecordCheck check = ev::checkRecord(sealed.bytes, keyRingFor(*key, "dev-1"));
    STRCMP_EQUAL("ok", check.summary().c_str());
    CHECK(check.ok());
}

TEST(Evidence, schoolZoneRecordCarriesTheSpeedMeasurement)
{
    SchoolZoneConfig config;
    config.cosineAngleDeg = 15;
    config.calendar.sessions.push_back({*parseDate("2026-08-26"), *parseDate("2027-06-15"), ""});
    config.calendar.windows.push_back(*parseWindow("07:30-09:00"));
    SchoolZoneRule rule(config);
    drivers::BeaconState beacon;
    beacon.active = true;
    beacon.sinceNs = kT0 - 30 * kS;
    rule.onBeacon(beacon);
    rule.onSelfCheck(true, kT0 - 60 * kS);
    std::vector<Decision> ds;
    for (int i = 0; i < 8; ++i) {
        drivers::RadarReport r;
        r.targets.push_back({35.0 + 0.1 * (i % 2), 1000});
        r.at.sampleNs = kT0 + 3 * kS + i * 100 * kMs;
        auto out = rule.onRadar(r, CivilTime{{2026, 9, 15}, 2, 8 * 3600});
        ds.insert(ds.end(), out.begin(), out.end());
    }
    auto end = rule.poll(kT0 + 6 * kS);
    ds.insert(ds.end(), end.begin(), end.end());
    LONGS_EQUAL(2, ds.size());
    CHECK(ds[1].verdict == Decision::Verdict::Cite);

    hal::FramePool pool(hal::frameBytes(hal::PixelFormat::BGR888, kWidth, kHeight), 160);
    std::vector<hal::FramePtr> frames;
    for (int i = 0; i < 150; ++i)
        frames.push_back(renderFrame(pool, i));
    EvidenceOptions options;
    options.clipWidth = 320;
    Snapshot snap = snapshotFromFrames(frames, ds[1], options);
    PlateLocator locator;
    ev::Record r = buildViolationRecord(ds[1], snap, site(), context(), options, locator);
    const ev::Violation &v = r.violation();
    LONGS_EQUAL(ev::SCHOOL_ZONE_SPEED, v.type());
    STRCMP_EQUAL("RCW 46.61.440", v.statute_code().c_str());
    const ev::SpeedMeasurement &m = v.speed();
    LONGS_EQUAL(8, m.samples_size());
    DOUBLES_EQUAL(35.1, m.samples(1).speed(), 1e-9);
    LONGS_EQUAL(kT0 + 3 * kS + 100 * kMs, m.samples(1).at().monotonic_ns());
    DOUBLES_EQUAL(15, m.cosine_angle_deg(), 0);
    DOUBLES_EQUAL(35.05, m.measured_speed(), 1e-9);
    DOUBLES_EQUAL(35.05 / std::cos(15 * M_PI / 180), m.corrected_speed(), 1e-9);
    DOUBLES_EQUAL(20, m.posted_limit(), 0);
    DOUBLES_EQUAL(10, m.threshold_over(), 0);
    DOUBLES_EQUAL(0.1 / std::cos(15 * M_PI / 180), m.spread(), 1e-9);
    LONGS_EQUAL(1, m.targets_in_beam());
    LONGS_EQUAL(ev::MPH, m.unit());
    CHECK(v.school_zone().beacon_flashing());
    LONGS_EQUAL(kT0 - 30 * kS, v.school_zone().flashing_since().monotonic_ns());
    CHECK(v.school_zone().school_in_session());
    STRCMP_EQUAL("07:30-09:00", v.school_zone().enforcement_window().c_str());
    STRCMP_EQUAL("session 2026-08-26..2027-06-15", v.school_zone().calendar_entry().c_str());
    /* The A-shot is at the measurement point (third reading). */
    LONGS_EQUAL(kT0 + 3 * kS + 200 * kMs, v.event().monotonic_ns());
    for (const ev::Frame &f : v.frames())
        if (f.role() == ev::FRAME_CLIP) {
            LONGS_EQUAL(320, f.width());
            LONGS_EQUAL(180, f.height());
        }

    auto key = ev::SigningKey::generate();
    auto writer = startChain(*key, "dev-2");
    CHECK(ev::checkRecord(writer->seal(r).bytes, keyRingFor(*key, "dev-2")).ok());
}

TEST(Evidence, yuvAndGreyFramesAreConverted)
{
    hal::FramePool pool(hal::frameBytes(hal::PixelFormat::YUV420, 64, 32), 2);
    auto f = pool.acquire();
    f->width = 64;
    f->height = 32;
    f->stride = 64;
    f->format = hal::PixelFormat::YUV420;
    std::fill(f->data, f->data + 64 * 32, 200);           /* Y */
    std::fill(f->data + 64 * 32, f->data + f->size, 128); /* neutral U, V */
    cv::Mat bgr = toBgr(*f);
    LONGS_EQUAL(CV_8UC3, bgr.type());
    LONGS_EQUAL(64, bgr.cols);
    /* BT.601 limited range: 1.164 × (200 - 16) = 214 on every channel. */
    cv::Vec3b px = bgr.at<cv::Vec3b>(10, 10);
    CHECK(std::abs(px[0] - 214) <= 2 && std::abs(px[1] - 214) <= 2 && std::abs(px[2] - 214) <= 2);

    hal::Frame empty;
    CHECK_THROWS(EvidenceError, toBgr(empty));
}

TEST(Evidence, clipFramesAreScaledAlikeFromYuvAndBgr)
{
    /* A 1920x1080 test card: left half dark, right half light, a red band. */
    cv::Mat card(1080, 1920, CV_8UC3, cv::Scalar(40, 40, 40));
    card(cv::Rect(960, 0, 960, 1080)).setTo(cv::Scalar(210, 210, 210));
    card(cv::Rect(0, 500, 1920, 80)).setTo(cv::Scalar(30, 30, 220));
    cv::Mat yuv;
    cv::cvtColor(card, yuv, cv::COLOR_BGR2YUV_I420);
    hal::FramePool pool(hal::frameBytes(hal::PixelFormat::YUV420, 1920, 1080), 1);
    auto y = pool.acquire();
    y->width = 1920;
    y->height = 1080;
    y->stride = 1920;
    y->format = hal::PixelFormat::YUV420;
    std::memcpy(y->data, yuv.data, y->size);
    hal::Frame b;
    b.width = 1920;
    b.height = 1080;
    b.stride = 1920 * 3;
    b.format = hal::PixelFormat::BGR888;
    b.data = card.data;
    b.size = card.total() * 3;

    cv::Mat fromYuv = clipImage(*y, 640);
    cv::Mat fromBgr = clipImage(b, 640);
    LONGS_EQUAL(640, fromYuv.cols);
    LONGS_EQUAL(360, fromYuv.rows);
    LONGS_EQUAL(640, fromBgr.cols);
    LONGS_EQUAL(360, fromBgr.rows);
    /* Sample inside each region, away from edges: the same colours either way. */
    for (cv::Point p : {cv::Point(100, 50), cv::Point(500, 300), cv::Point(100, 180)}) {
        cv::Vec3b expect = card.at<cv::Vec3b>(p.y * 3, p.x * 3);
        for (const cv::Mat *m : {&fromYuv, &fromBgr})
            for (int c = 0; c < 3; ++c)
                CHECK(std::abs(m->at<cv::Vec3b>(p)[c] - expect[c]) <= 6);
    }
    /* Narrower frames are kept as they are. */
    LONGS_EQUAL(1920, clipImage(b, 0).cols);
    LONGS_EQUAL(1920, clipImage(b, 4000).cols);
}

TEST(Evidence, noFrameNearTheEventIsAnError)
{
    RedLightRule rule(lights());
    std::vector<Decision> ds = redLightRunner(rule, kT0 + 3 * kS);
    Snapshot empty;
    empty.status = Snapshot::Status::TimedOut;
    empty.keyFrames.resize(2);
    PlateLocator locator;
    try {
        buildViolationRecord(ds[1], empty, site(), context(), EvidenceOptions{}, locator);
        FAIL("expected EvidenceError");
    } catch (const EvidenceError &e) {
        STRCMP_CONTAINS("no camera frame near the event", e.what());
        STRCMP_CONTAINS("timed_out", e.what());
    }
}

TEST(Evidence, selfCheckAndCalibrationRecordsSealAndVerify)
{
    auto key = ev::SigningKey::generate();
    boost::asio::io_context io;
    boost::asio::thread_pool workers(1);
    Sealer sealer(startChain(*key, "dev-3"), workers.get_executor());

    SelfCheckResult check;
    check.kind = SelfCheckResult::Kind::Fork;
    check.atNs = kT0;
    check.passed = true;
    check.referenceSpeed = 35;
    check.measuredSpeed = 35.2;
    check.tolerance = 1;
    check.items.push_back({"reference_speed", true, "35.2 mph vs 35 ±1"});
    CalibrationChangeInfo change{
            "radar.cosine_angle_deg", "12", "15", "tech-9", "cal-8", "re-aimed", "2027-03-01"};

    std::vector<Sealer::Result> results;
    sealer.seal(buildSelfCheckRecord(check, site(), context()), io.get_executor(),
                [&](Sealer::Result r) { results.push_back(std::move(r)); });
    sealer.seal(buildCalibrationRecord(change, site(), context()), io.get_executor(),
                [&](Sealer::Result r) { results.push_back(std::move(r)); });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (results.size() < 2 && std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_for(std::chrono::milliseconds(10));
    }
    LONGS_EQUAL(2, results.size());
    CHECK(results[0].ok());
    CHECK(results[1].ok());
    LONGS_EQUAL(1, results[0].sealed->seq);
    LONGS_EQUAL(2, results[1].sealed->seq);
    STRCMP_EQUAL("dev-3-1", results[0].recordId.c_str());
    LONGS_EQUAL(ev::Record::kSelfCheck, results[0].body);
    LONGS_EQUAL(ev::Record::kCalibration, results[1].body);

    ev::KeyRing ring = keyRingFor(*key, "dev-3");
    ev::RecordCheck c0 = ev::checkRecord(results[0].sealed->bytes, ring);
    ev::RecordCheck c1 = ev::checkRecord(results[1].sealed->bytes, ring);
    CHECK(c0.ok());
    CHECK(c1.ok());
    LONGS_EQUAL(ev::SELF_CHECK_FORK, c0.record.self_check().kind());
    DOUBLES_EQUAL(35.2, c0.record.self_check().measured_speed(), 0);
    STRCMP_EQUAL("U123", c0.record.self_check().radar().uid().c_str());
    STRCMP_EQUAL("cal-8", c1.record.calibration_id().c_str());
    STRCMP_EQUAL("15", c1.record.calibration().new_value().c_str());
    CHECK(c1.record.prev_hash() == results[0].sealed->recordHash);
    CHECK(c1.record.created().utc_ns() >= c0.record.created().utc_ns());
    workers.join();
}

TEST(Evidence, failedPersistRollsTheChainBack)
{
    auto key = ev::SigningKey::generate();
    boost::asio::io_context io;
    boost::asio::thread_pool workers(1);
    int calls = 0;
    Sealer sealer(startChain(*key, "dev-4"), workers.get_executor(),
                  [&](const ev::Sealed &, const ev::Record &) -> std::optional<std::string> {
                      return ++calls == 1 ? std::optional<std::string>("disk full") : std::nullopt;
                  });
    std::vector<Sealer::Result> results;
    for (int i = 0; i < 2; ++i) {
        SelfCheckResult check;
        check.atNs = kT0 + i;
        check.passed = true;
        sealer.seal(buildSelfCheckRecord(check, site(), context()), io.get_executor(),
                    [&](Sealer::Result r) { results.push_back(std::move(r)); });
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (results.size() < 2 && std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_for(std::chrono::milliseconds(10));
    }
    LONGS_EQUAL(2, results.size());
    CHECK_FALSE(results[0].ok());
    STRCMP_EQUAL("not stored: disk full", results[0].error.c_str());
    CHECK(results[1].ok());
    LONGS_EQUAL(1, results[1].sealed->seq); /* the failed record left no gap */
    LONGS_EQUAL(2, sealer.nextSeq());
    workers.join();
}

TEST(Evidence, coordinatorCapturesWaitsAndSealsOffTheEventThread)
{
    auto key = ev::SigningKey::generate();
    boost::asio::io_context io;
    boost::asio::thread_pool workers(2);
    Sealer sealer(startChain(*key, "dev-5"), workers.get_executor());
    EvidenceOptions options;
    options.clipFps = 5;
    EvidenceAssembler assembler(io.get_executor(), workers.get_executor(), &sealer, site(), options,
                                PlateLocator::Options{});
    FrameRing::Options ro;
    ro.preTriggerSeconds = 4;
    ro.fps = kFps;
    FrameRing ring(ro, io.get_executor());
    std::vector<std::pair<Decision, EvidenceAssembler::Result>> done;
    CaptureCoordinator coordinator(&ring, &assembler, context,
                                   [&](const Decision &d, const EvidenceAssembler::Result &r) {
                                       done.emplace_back(d, r);
                                   });

    hal::FramePool pool(hal::frameBytes(hal::PixelFormat::BGR888, kWidth, kHeight), 160);
    /* 5 s of frames already in the ring; the crossing at 4.5 s needs frames up to 7.5 s. */
    for (int i = 0; i < 75; ++i)
        ring.push(renderFrame(pool, i));
    RedLightRule rule(lights());
    const Nanos cross = kT0 + 4500 * kMs;
    std::vector<Decision> ds = redLightRunner(rule, cross);
    coordinator.handle(ds);
    LONGS_EQUAL(1, coordinator.pending());

    /* A second candidate that the rule later refuses: its frames are released. */
    Decision other = ds[0];
    other.id = 99;
    coordinator.handle(other);
    Decision refused = other;
    refused.verdict = Decision::Verdict::NoCite;
    refused.reason = Reason::NoContinuation;
    coordinator.handle(refused);
    LONGS_EQUAL(1, coordinator.stats().cancelled);

    std::thread camera([&] {
        for (int i = 75; i < 150; ++i) {
            ring.push(renderFrame(pool, i));
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (done.empty() && std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_for(std::chrono::milliseconds(10));
    }
    camera.join();
    LONGS_EQUAL(1, done.size());
    const EvidenceAssembler::Result &r = done[0].second;
    STRCMP_EQUAL("", r.error.c_str());
    CHECK(r.ok());
    LONGS_EQUAL(1, r.seal.sealed->seq);
    LONGS_EQUAL(ds[1].id, r.decisionId);
    ev::RecordCheck check = ev::checkRecord(r.seal.sealed->bytes, keyRingFor(*key, "dev-5"));
    STRCMP_EQUAL("ok", check.summary().c_str());
    const ev::Violation &v = check.record.violation();
    const int nearestIndex = static_cast<int>(std::lround(double(cross - kT0) / kInterval));
    LONGS_EQUAL(nearestIndex, v.frames(0).sequence());
    LONGS_EQUAL(ev::FRAME_B_SHOT, v.frames(1).role());
    LONGS_EQUAL(0, coordinator.pending());
    LONGS_EQUAL(1, coordinator.stats().sealed);
    LONGS_EQUAL(0, assembler.inFlight());
    workers.join();
}

TEST(Evidence, aShotFarFromItsInstantIsRefusedNotSubstitutedAndAVehicleIsSealedOnce)
{
    auto key = ev::SigningKey::generate();
    boost::asio::io_context io;
    boost::asio::thread_pool workers(2);
    Sealer sealer(startChain(*key, "dev-6"), workers.get_executor());
    EvidenceOptions options;
    options.clipFps = 5;
    EvidenceAssembler assembler(io.get_executor(), workers.get_executor(), &sealer, site(), options,
                                PlateLocator::Options{});
    FrameRing::Options ro;
    ro.preTriggerSeconds = 10;
    ro.fps = kFps;
    FrameRing ring(ro, io.get_executor());
    std::vector<std::pair<Decision, EvidenceAssembler::Result>> done;
    CaptureCoordinator coordinator(&ring, &assembler, context,
                                   [&](const Decision &d, const EvidenceAssembler::Result &r) {
                                       done.emplace_back(d, r);
                                   });
    hal::FramePool pool(hal::frameBytes(hal::PixelFormat::BGR888, kWidth, kHeight), 200);
    auto run = [&](std::size_t until) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (done.size() < until && std::chrono::steady_clock::now() < deadline) {
            io.restart();
            io.run_for(std::chrono::milliseconds(10));
        }
    };

    /* The camera stalls from 5.0 s to 8.0 s: a crossing at 4.5 s has its A-shot, but the
     * nearest frame to its B-shot (5.5 s) is 0.5 s away. */
    for (int i = 0; i < 75; ++i)
        ring.push(renderFrame(pool, i));
    RedLightRule rule(lights());
    std::vector<Decision> stalled = redLightRunner(rule, kT0 + 4500 * kMs);
    coordinator.handle(stalled);
    for (int i = 120; i < 180; ++i)
        ring.push(renderFrame(pool, i));
    run(1);
    LONGS_EQUAL(1, done.size());
    CHECK(done[0].second.refusal == Reason::EvidenceIncomplete);
    CHECK(done[0].second.error.find("B-shot") != std::string::npos);
    CHECK(!done[0].second.seal.sealed);
    LONGS_EQUAL(1, coordinator.stats().refusedIncomplete);

    /* A clean crossing is sealed; the same vehicle cited again (another decision id, the
     * same lane and crossing) is refused as a duplicate. */
    RedLightRule again(lights());
    std::vector<Decision> clean = redLightRunner(again, kT0 + 9 * kS);
    coordinator.handle(clean);
    run(2);
    LONGS_EQUAL(2, done.size());
    CHECK(done[1].second.ok());
    Decision copy = clean.back();
    copy.id += 100;
    Decision capture = clean.front();
    capture.id = copy.id;
    coordinator.handle(std::vector<Decision>{capture, copy});
    run(3);
    LONGS_EQUAL(3, done.size());
    CHECK(done[2].second.refusal == Reason::Duplicate);
    LONGS_EQUAL(1, coordinator.stats().refusedDuplicate);
    LONGS_EQUAL(1, coordinator.stats().sealed);
    workers.join();
}

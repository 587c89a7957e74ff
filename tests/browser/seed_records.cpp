/* stopline-backoffice-seed: makes realistic sealed violations with real JPEG images
 * (a rendered road, stop line, signal head and a car with a legible plate; OpenCV
 * imgcodecs) and uploads them to a running back-office, so "the frames render" in the
 * browser test means something. Red-light and school-zone cases alternate.
 *
 * The records carry what the pipeline's evidence builder writes for their type:
 * a red-light record has the enforced head NB-1 and the conflicting head EB-1 in its
 * SignalTimeline (EB-1 turns green after a 1.0 s all-red, before the A-shot at about
 * 1.5 s into red; the B-shot follows 1.0 s later), a lane, the loop speed at the line
 * and no posted limit; a school-zone record has no signal timeline.
 *
 * Every violation also carries the vehicle identity the pipeline's binder writes
 * (Violation.identity): how the A- and B-shots were bound to the vehicle, in the road
 * coordinates of a camera calibration, the plate search regions and, for speed, the
 * two-image photo speed against the radar; a speed record's lane is the lane the
 * vehicle was found in. The seed's "camera" is the drawing itself: the stop line at
 * y = 200, 150 px of car = 4.5 m, so metres along the approach are (200 - y) / 33.3.
 * `--before-calibration 2,5` makes those violations as records made before camera
 * calibration: no identity, and a speed record without a lane (0). */

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "backoffice/client.h"
#include "evidence/crypto.h"
#include "evidence/keys.h"
#include "evidence/seal.h"

using namespace stopline::evidence;
using stopline::backoffice::ClientResponse;
using stopline::backoffice::HttpClient;

namespace {

constexpr int kW = 640, kH = 360;

/* The seed's camera: the stop line's row, pixels per metre along and across the road
 * (the car is drawn 150 px = 4.5 m long), and where the car's front is drawn in each
 * shot. The A-shot is the crossing frame; the red-light B-shot shows the rear past the
 * line (0.5 m; it stays 1.0 s after A, which the timeline tests measure); the speed
 * B-shot has the rear 6.0 m on from the A-shot, at the time the photo speed implies. */
constexpr int kStopY = 200, kCarLength = 150;
constexpr double kPxPerM = kCarLength / 4.5;
constexpr int kAFront = 206, kRedBFront = 20;
constexpr double kSpeedBDistanceM = 6.0;
constexpr double kMps = 0.44704; /* per mph */

double alongOf(int y)
{
    return (kStopY - y) / kPxPerM;
}

int rowOf(double along)
{
    return static_cast<int>(std::lround(kStopY - along * kPxPerM));
}

std::string fmt1(double v)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

/* Where the binder searches the plate of a rear at `rearY` in `lane`: the lane's 3.6 m
 * centred on the car and 0.4 m each side, from 0.4 m below the rear's road contact to
 * 1.5 m above it, inside the image. */
void plateRegion(Box *b, uint32_t lane, int rearY)
{
    const int cx = 80 + 160 * static_cast<int>(lane - 1) + 55;
    const int half = static_cast<int>(std::ceil((1.8 + 0.4) * kPxPerM));
    const int x0 = std::max(0, cx - half), x1 = std::min(kW, cx + half);
    const int y0 = std::max(0, static_cast<int>(std::floor(rearY - 1.5 * kPxPerM)));
    const int y1 = std::min(kH, static_cast<int>(std::ceil(rearY + 0.4 * kPxPerM)));
    b->set_x(x0);
    b->set_y(y0);
    b->set_width(x1 - x0);
    b->set_height(y1 - y0);
}

std::string jpeg(const cv::Mat &img)
{
    std::vector<uchar> buf;
    cv::imencode(".jpg", img, buf, {cv::IMWRITE_JPEG_QUALITY, 85});
    return std::string(buf.begin(), buf.end());
}

/* The scene with the car's front at `carY` (pixels from the top). */
cv::Mat scene(int carY, const std::string &plate, const cv::Scalar &lamp, int lane)
{
    cv::Mat img(kH, kW, CV_8UC3, cv::Scalar(70, 70, 70));
    cv::rectangle(img, {0, 0, kW, 60}, cv::Scalar(170, 140, 110),
                  cv::FILLED); /* sky-ish backdrop */
    for (int x = 160; x < kW; x += 160)
        for (int y = 70; y < kH; y += 40)
            cv::line(img, {x, y}, {x, y + 20}, cv::Scalar(230, 230, 230), 3);
    cv::line(img, {0, 200}, {kW, 200}, cv::Scalar(250, 250, 250), 8); /* stop line */
    cv::putText(img, "STOP LINE", {10, 192}, cv::FONT_HERSHEY_SIMPLEX, 0.5,
                cv::Scalar(250, 250, 250), 1);
    cv::rectangle(img, {kW - 60, 8, 40, 48}, cv::Scalar(20, 20, 20), cv::FILLED); /* signal head */
    cv::circle(img, {kW - 40, 32}, 14, lamp, cv::FILLED);
    int cx = 80 + 160 * (lane - 1);
    cv::rectangle(img, {cx, carY, 110, 150}, cv::Scalar(150, 40, 30), cv::FILLED); /* car body */
    cv::rectangle(img, {cx + 12, carY + 10, 86, 40}, cv::Scalar(200, 190, 160),
                  cv::FILLED); /* windscreen */
    cv::rectangle(img, {cx + 20, carY + 110, 70, 26}, cv::Scalar(245, 245, 245),
                  cv::FILLED); /* plate */
    cv::rectangle(img, {cx + 20, carY + 110, 70, 26}, cv::Scalar(0, 0, 0), 1);
    cv::putText(img, plate, {cx + 24, carY + 129}, cv::FONT_HERSHEY_SIMPLEX, 0.5,
                cv::Scalar(10, 10, 10), 2);
    return img;
}

Frame *addFrame(Violation *v, FrameRole role, const cv::Mat &img, int64_t utc, int64_t mono,
                uint64_t seq)
{
    Frame *f = v->add_frames();
    f->set_role(role);
    f->mutable_captured()->set_utc_ns(utc);
    f->mutable_captured()->set_monotonic_ns(mono);
    f->set_encoding("jpeg");
    f->set_width(img.cols);
    f->set_height(img.rows);
    f->set_data(jpeg(img));
    f->set_sequence(seq);
    return f;
}

void instant(Instant *i, int64_t utc, int64_t mono)
{
    i->set_utc_ns(utc);
    i->set_monotonic_ns(mono);
}

Record violation(uint64_t index, int64_t utc, int64_t mono, bool calibrated)
{
    Record r;
    instant(r.mutable_created(), utc, mono);
    ClockState *c = r.mutable_clock();
    c->set_synchronized(true);
    c->set_estimated_error_us(500);
    c->set_maximum_error_us(4000);
    c->set_source("seed");
    c->set_boot_id("seed-boot");
    r.set_software_version("seed");
    r.set_config_hash(std::string(64, 'a'));
    r.set_calibration_id("cal-seed-1");
    Violation *v = r.mutable_violation();
    bool red = index % 3 != 0;
    /* Where the car is drawn; recorded for red light, and for speed where the camera
     * found it (calibrated). */
    uint32_t lane = 1 + index % 3;
    char plate[16];
    std::snprintf(plate, sizeof(plate), "%s%03llu", red ? "ABC" : "SZN",
                  static_cast<unsigned long long>(index));
    v->set_type(red ? RED_LIGHT : SCHOOL_ZONE_SPEED);
    v->set_statute_code(red ? "RCW 46.61.055" : "RCW 46.61.440");
    v->set_statute_description(red ? "Failure to stop at a steady red indication"
                                   : "School zone speed");
    Location *loc = v->mutable_location();
    loc->set_code(red ? "BEL-0142" : "BEL-S007");
    loc->set_description(red ? "NE 8th St & 112th Ave NE" : "Lake Hills Blvd, Sunset Elementary");
    loc->set_direction(NORTHBOUND);
    if (red || calibrated)
        loc->set_lane(lane);
    instant(v->mutable_event(), utc, mono);

    /* Signal (red light): NB-1 green, 4.0 s yellow, red about 1.5 s before the A-shot;
     * the conflicting EB-1, red since before NB-1's green, turns green after a 1.0 s
     * all-red, i.e. before the A-shot. Oldest change first, as the pipeline writes. */
    const int64_t s = 1'000'000'000;
    double speed = red ? 31.0 + index % 5 : 32.0 + index % 7; /* mph, at the line / radar */
    /* Speed: the photo speed, a little under the radar's, is what moved the rear
     * kSpeedBDistanceM between the shots; that sets the B-shot's time. */
    const double photoMph = speed - 0.4;
    const int64_t bAfterA = red || !calibrated
                                    ? 1'000'000'000
                                    : std::llround(kSpeedBDistanceM / (photoMph * kMps) * 1e9);
    int64_t redOnset = mono - 1'500'000'000 - static_cast<int64_t>(index) * 10'000'000;
    if (red) {
        SignalTimeline *sig = v->mutable_signal();
        sig->set_head("NB-1");
        struct
        {
            const char *head;
            Phase phase;
            int64_t at;
        } phases[] = {{"EB-1", PHASE_RED, redOnset - 26 * s},
                      {"NB-1", PHASE_GREEN, redOnset - 24 * s},
                      {"NB-1", PHASE_YELLOW, redOnset - 4 * s},
                      {"NB-1", PHASE_RED, redOnset},
                      {"EB-1", PHASE_GREEN, redOnset + 1 * s}};
        for (auto &p : phases) {
            PhaseChange *pc = sig->add_changes();
            pc->set_head(p.head);
            pc->set_phase(p.phase);
            instant(pc->mutable_at(), utc - (mono - p.at), p.at);
        }
        sig->set_measured_yellow_us(4'000'000);
        sig->set_minimum_yellow_us(3'500'000);
        sig->set_measured_all_red_us(1'000'000);
        instant(sig->mutable_red_onset(), utc - (mono - redOnset), redOnset);
        sig->set_time_into_red_a_us((mono - redOnset) / 1000);
        sig->set_time_into_red_b_us((mono + bAfterA - redOnset) / 1000);
        sig->set_grace_us(200'000);
    }
    SpeedMeasurement *sp = v->mutable_speed();
    sp->set_unit(MPH);
    sp->set_cosine_angle_deg(12);
    for (int i = -8; i <= 4; ++i) {
        RadarSample *rs = sp->add_samples();
        instant(rs->mutable_at(), utc + i * 50'000'000LL, mono + i * 50'000'000LL);
        rs->set_speed(speed * std::cos(12 * M_PI / 180) + 0.3 * std::sin(i));
        rs->set_magnitude(900);
    }
    sp->set_measured_speed(speed * std::cos(12 * M_PI / 180));
    sp->set_corrected_speed(speed);
    if (red) { /* the loop pair's speed at the line; no posted limit in a red-light record */
        sp->set_loop_speed(speed);
    } else {
        sp->set_posted_limit(20);
        sp->set_threshold_over(4);
    }
    sp->set_spread(0.6);
    sp->set_targets_in_beam(1);
    if (!red) {
        SchoolZoneState *z = v->mutable_school_zone();
        z->set_beacon_flashing(true);
        instant(z->mutable_flashing_since(), utc - 600 * s, mono - 600 * s);
        z->set_school_in_session(true);
        z->set_calendar_entry("2026-11-23 regular day");
        z->set_enforcement_window("07:30-09:00");
    }
    SelfCheck *sc = v->mutable_latest_self_check();
    sc->set_kind(SELF_CHECK_PERIODIC);
    instant(sc->mutable_at(), utc - 300 * s, mono - 300 * s);
    sc->set_passed(true);
    for (const char *n : {"identity", "frequency_band", "clock_advancing", "report_rate"}) {
        SelfCheckItem *it = sc->add_items();
        it->set_name(n);
        it->set_passed(true);
    }

    cv::Scalar lamp = red ? cv::Scalar(40, 40, 230) : cv::Scalar(40, 200, 60);
    const int aRear = kAFront + kCarLength;
    const int bRear = red ? kRedBFront + kCarLength : rowOf(alongOf(aRear) + kSpeedBDistanceM);
    cv::Mat a = scene(kAFront, plate, lamp, lane), b = scene(bRear - kCarLength, plate, lamp, lane);
    Frame *aShot = addFrame(v, FRAME_A_SHOT, a, utc, mono, 1000 + index * 100);
    addFrame(v, FRAME_B_SHOT, b, utc + bAfterA, mono + bAfterA, 1030 + index * 100);
    for (int i = 0; i < 8; ++i) {
        int y = 230 - i * 26;
        addFrame(v, FRAME_CLIP, scene(y, plate, lamp, lane), utc + i * 200'000'000LL,
                 mono + i * 200'000'000LL, 1000 + index * 100 + i * 6);
    }
    aShot->set_sha256(sha256(aShot->data()));
    int cx = 80 + 160 * (lane - 1);
    cv::Rect box(cx + 14, kAFront + 104, 82, 38);
    cv::Mat crop;
    cv::resize(a(box), crop, {}, 4, 4, cv::INTER_CUBIC);
    PlateCandidate *pc = v->mutable_plate()->add_candidates();
    pc->mutable_box()->set_x(box.x);
    pc->mutable_box()->set_y(box.y);
    pc->mutable_box()->set_width(box.width);
    pc->mutable_box()->set_height(box.height);
    pc->set_score(0.93);
    pc->set_source_sha256(aShot->sha256());
    pc->set_read(plate);
    pc->set_read_confidence(0.9);
    Frame *cf = pc->mutable_crop();
    cf->set_role(FRAME_PLATE_CROP);
    cf->set_encoding("jpeg");
    cf->set_width(crop.cols);
    cf->set_height(crop.rows);
    cf->set_data(jpeg(crop));

    if (calibrated) { /* what the pipeline's fillIdentity() writes */
        VehicleIdentity *id = v->mutable_identity();
        const double aAlong = alongOf(aRear), bAlong = alongOf(bRear);
        id->set_method(red ? "loops+image" : "radar+image");
        id->set_lane(lane);
        id->set_a_rear_along_m(aAlong);
        id->set_b_rear_along_m(bAlong);
        plateRegion(id->mutable_a_plate_region(), lane, aRear);
        plateRegion(id->mutable_b_plate_region(), lane, bRear);
        id->set_zone_from_m(red ? -6.0 : -5.0);
        id->set_zone_to_m(red ? 11.5 : 12.0);
        /* Red light: from the crossing frame on; speed: the span the radar allows. */
        const int64_t from = red ? 0 : -300'000'000, to = 1'200'000'000;
        instant(id->mutable_searched_from(), utc + from, mono + from);
        instant(id->mutable_searched_to(), utc + to, mono + to);
        id->set_vehicles_in_zone(1);
        const std::string laneName = "lane " + std::to_string(lane);
        if (red) {
            id->set_explanation(laneName + ": rear at " + fmt1(aAlong) + " m at the crossing, " +
                                fmt1(bAlong) + " m in the B-shot");
        } else {
            id->set_photo_speed_mph(photoMph);
            id->set_radar_speed_mph(speed);
            id->set_photo_speed_tolerance_mph(3.0);
            id->set_explanation(laneName + ": rear at " + fmt1(aAlong) + " m, then " +
                                fmt1(bAlong) + " m " + fmt1(bAfterA / 1e9) + " s later: " +
                                fmt1(photoMph) + " mph (radar " + fmt1(speed) + " mph)");
        }
        id->set_calibration("cam-seed: 6 points, worst 0.40 px; lanes 1 [0.00, 3.60] 2 [3.60, "
                            "7.20] 3 [7.20, 10.80]; photo zones red_light [-6.00, 11.50] speed "
                            "[-5.00, 12.00] m");
    }
    return r;
}

} /* namespace */

int main(int argc, char **argv)
{
    CLI::App app{"Seal violations with rendered JPEG frames and upload them to a back-office."};
    std::string keyFile, device, host = "127.0.0.1", token, heartbeat;
    unsigned count = 4;
    uint16_t port = 0;
    app.add_option("--key", keyFile, "device private key (stopline-keygen)")->required();
    app.add_option("--device", device, "device id")->required();
    app.add_option("--count", count, "violations after the genesis record");
    app.add_option("--host", host);
    app.add_option("--port", port)->required();
    app.add_option("--token", token, "device upload token (enroll-device)")->required();
    unsigned daysAgo = 0;
    app.add_option("--days-ago", daysAgo,
                   "date the violations this many days back (tests of payment deadlines)");
    std::vector<unsigned> beforeCalibration;
    app.add_option("--before-calibration", beforeCalibration,
                   "violations (1 = the first) made as before camera calibration: no vehicle "
                   "identity, no lane on a speed record")
            ->delimiter(',');
    CLI11_PARSE(app, argc, argv);
    try {
        auto key = SigningKey::loadFile(keyFile);
        ChainWriter writer(device, key.get(), 0, {});
        HttpClient client(host, port);
        std::vector<std::pair<std::string, std::string>> headers = {
                {"Authorization", "Bearer " + token}, {"Content-Type", "application/x-protobuf"}};
        int64_t utc = std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count() -
                      int64_t{count + 1} * 60'000'000'000 - int64_t{daysAgo} * 86'400'000'000'000;
        int64_t mono = 5'000'000'000'000;
        Record genesis = makeGenesis(*key, "SN-" + device);
        instant(genesis.mutable_created(), utc, mono);
        genesis.mutable_clock()->set_synchronized(true);
        genesis.mutable_clock()->set_boot_id("seed-boot");
        std::vector<Sealed> sealed{writer.seal(genesis)};
        for (unsigned i = 1; i <= count; ++i) {
            const bool calibrated = std::find(beforeCalibration.begin(), beforeCalibration.end(),
                                              i) == beforeCalibration.end();
            Record r = violation(i, utc + int64_t{i} * 60'000'000'000,
                                 mono + int64_t{i} * 60'000'000'000, calibrated);
            sealed.push_back(writer.seal(r));
        }
        for (const Sealed &s : sealed) {
            ClientResponse res = client.request("POST", "/api/v1/records", s.bytes, headers);
            std::cout << "seq " << s.seq << " " << s.bytes.size() << " bytes -> " << res.status
                      << " case " << res.header("x-stopline-case") << "\n";
            if (res.status != 201 && res.status != 200) {
                std::cerr << "upload refused: " << res.body << "\n";
                return 1;
            }
        }
        Instant now;
        now.set_utc_ns(utc + int64_t{count + 1} * 60'000'000'000);
        ClockState clock;
        clock.set_synchronized(true);
        ClientResponse cp = client.request("POST", "/api/v1/checkpoints",
                                           writer.checkpoint(now, clock), headers);
        std::cout << "checkpoint -> " << cp.status << "\n";
        ClientResponse hb = client.request(
                "POST", "/api/v1/heartbeats",
                R"({"software_version": "seed", "signal_sensing": {"ok": true}, "radar": {"ok": true},
                    "camera": {"ok": true, "fps": 29.97}, "spool": {"depth": 0, "bytes": 0},
                    "disk_free_bytes": 12500000000, "clock": {"synchronized": true, "estimated_error_us": 500,
                    "maximum_error_us": 4000}, "enforcement": {"suspended": false, "reason": ""}})",
                {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
        std::cout << "heartbeat -> " << hb.status << "\n";
    } catch (const std::exception &e) {
        std::cerr << "stopline-backoffice-seed: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

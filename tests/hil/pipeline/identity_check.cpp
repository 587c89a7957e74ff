#include "identity_check.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <optional>

#include "evidence.pb.h"
#include "pipeline/plate/plate_locator.h"

namespace stopline::hil {

namespace ev = stopline::evidence;

namespace {

cv::Rect boxOf(const Json &p)
{
    const Json &b = p["box"];
    return {b[0].get<int>(), b[1].get<int>(), b[2].get<int>(), b[3].get<int>()};
}

std::string fmt(const char *f, double v)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

} /* namespace */

IdentityCheck checkIdentity(const RigRun &run)
{
    IdentityCheck out;
    Nanos t0 = 0;
    std::map<std::uint64_t, const Json *> frames; /* camera sequence -> truth */
    std::vector<const Json *> crossings, passes;
    for (const Json &r : run.truth) {
        const std::string type = r["type"];
        if (type == "start")
            t0 = r["t0_ns"].get<Nanos>();
        else if (type == "frame")
            frames[r["sequence"].get<std::uint64_t>()] = &r;
        else if (type == "crossing")
            crossings.push_back(&r);
        else if (type == "vehicle_exit" && r.contains("in_beam"))
            passes.push_back(&r);
    }
    auto plateIn = [&](std::uint64_t sequence,
                       const std::string &plate) -> std::optional<cv::Rect> {
        auto f = frames.find(sequence);
        if (f == frames.end())
            return std::nullopt;
        for (const Json &p : (*f->second)["plates"])
            if (p["plate"] == plate)
                return boxOf(p);
        return std::nullopt;
    };

    for (const RigRun::Outcome &o : run.outcomes) {
        if (!o.result.ok() || !o.result.seal.sealed)
            continue;
        ev::SealedRecord sealed;
        ev::Record rec;
        if (!sealed.ParseFromString(o.result.seal.sealed->bytes) ||
            !rec.ParseFromString(sealed.record())) {
            out.problems.push_back("a sealed record does not parse");
            continue;
        }
        ++out.records;
        const ev::Violation &v = rec.violation();
        const Nanos event = v.event().monotonic_ns();
        const bool red = v.type() == ev::RED_LIGHT;
        /* The accused, from the truth. */
        std::string plate;
        Nanos best = 500 * kNanosPerMilli;
        if (red) {
            for (const Json *c : crossings) {
                const Nanos at = (*c)["t_ns"].get<Nanos>();
                if ((*c)["lane"].get<unsigned>() == v.crossing().lane() &&
                    std::llabs(at - event) < best) {
                    best = std::llabs(at - event);
                    plate = (*c)["plate"];
                }
            }
        } else {
            for (const Json *p : passes) {
                const Json &b = (*p)["in_beam"];
                if (event >= t0 + b["from_ns_rel"].get<Nanos>() - 300 * kNanosPerMilli &&
                    event <= t0 + b["to_ns_rel"].get<Nanos>() + 300 * kNanosPerMilli)
                    plate = (*p)["plate"];
            }
        }
        const std::string what =
                std::string(red ? "red light" : "speed") + " record " + std::to_string(rec.seq());
        if (plate.empty()) {
            out.problems.push_back(what + ": no vehicle in the truth matches it");
            continue;
        }
        std::string line = what + " (" + plate + ")";
        const ev::Frame *shots[2] = {nullptr, nullptr};
        for (const ev::Frame &f : v.frames()) {
            if (f.role() == ev::FRAME_A_SHOT)
                shots[0] = &f;
            if (f.role() == ev::FRAME_B_SHOT)
                shots[1] = &f;
        }
        for (int i = 0; i < 2; ++i) {
            const char *name = i ? "B-shot" : "A-shot";
            if (!shots[i])
                out.problems.push_back(what + ": no " + name);
            else if (!plateIn(shots[i]->sequence(), plate))
                out.problems.push_back(what + ": " + plate + "'s plate is not in the " + name +
                                       " (frame " + std::to_string(shots[i]->sequence()) + ")");
        }
        if (v.plate().candidates_size() == 0)
            out.problems.push_back(what + ": no plate candidate");
        for (int i = 0; i < v.plate().candidates_size(); ++i) {
            const ev::PlateCandidate &c = v.plate().candidates(i);
            const cv::Rect box(c.box().x(), c.box().y(), c.box().width(), c.box().height());
            const std::uint64_t seq = c.crop().sequence();
            if (i == 0) {
                auto mine = plateIn(seq, plate);
                const double iou = mine ? pipeline::plateIou(box, *mine) : 0;
                line += fmt(", best candidate IoU %.2f", iou);
                if (iou < 0.5)
                    out.problems.push_back(what + ": best candidate overlaps " + plate +
                                           "'s plate with IoU " + fmt("%.2f", iou));
            }
            auto f = frames.find(seq);
            if (f == frames.end())
                continue;
            for (const Json &p : (*f->second)["plates"])
                if (p["plate"] != plate && pipeline::plateIou(box, boxOf(p)) >= 0.3)
                    out.problems.push_back(what + ": candidate " + std::to_string(i) + " is " +
                                           p["plate"].get<std::string>() + "'s plate, not " +
                                           plate + "'s");
        }
        if (!red) {
            ++out.speedRecords;
            const double photo = v.identity().photo_speed_mph(),
                         radar = v.speed().corrected_speed();
            const double diff = std::fabs(photo - radar);
            out.worstPhotoRadarMph = std::max(out.worstPhotoRadarMph, diff);
            line += fmt(", photo speed %.2f mph", photo) + fmt(" vs radar %.2f", radar);
            if (!v.has_identity() || diff > 2.0)
                out.problems.push_back(what + ": photo speed " + fmt("%.2f", photo) +
                                       " mph vs radar " + fmt("%.2f", radar));
        }
        out.lines.push_back(line);
    }
    return out;
}

} /* namespace stopline::hil */

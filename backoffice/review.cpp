#include "backoffice/review.h"

#include <cmath>
#include <cstdio>
#include <ctime>

#include "evidence/crypto.h"

namespace stopline::backoffice {

using namespace evidence;
using nlohmann::json;

std::string isoUtc(int64_t ns)
{
    std::time_t s = static_cast<std::time_t>(ns / 1'000'000'000);
    int ms = static_cast<int>((ns % 1'000'000'000) / 1'000'000);
    if (ms < 0) {
        ms += 1000;
        --s;
    }
    std::tm tm{};
    gmtime_r(&s, &tm);
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    return buf;
}

namespace {

std::string seconds(int64_t us)
{
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.2f s", static_cast<double>(us) / 1e6);
    return buf;
}

const char *unitName(SpeedUnit u)
{
    switch (u) {
    case MPH:
        return "mph";
    case KMH:
        return "km/h";
    case METERS_PER_SECOND:
        return "m/s";
    case FEET_PER_SECOND:
        return "ft/s";
    case CENTIMETERS_PER_SECOND:
        return "cm/s";
    default:
        return "";
    }
}

const char *phaseName(Phase p)
{
    switch (p) {
    case PHASE_GREEN:
        return "green";
    case PHASE_YELLOW:
        return "yellow";
    case PHASE_RED:
        return "red";
    case PHASE_DARK:
        return "dark";
    case PHASE_FLASHING_RED:
        return "flashing_red";
    case PHASE_FLASHING_YELLOW:
        return "flashing_yellow";
    case PHASE_CONFLICT:
        return "conflict";
    default:
        return "unknown";
    }
}

const char *directionName(Direction d)
{
    switch (d) {
    case NORTHBOUND:
        return "northbound";
    case SOUTHBOUND:
        return "southbound";
    case EASTBOUND:
        return "eastbound";
    case WESTBOUND:
        return "westbound";
    default:
        return "";
    }
}

const char *roleKey(FrameRole r)
{
    switch (r) {
    case FRAME_A_SHOT:
        return "a";
    case FRAME_B_SHOT:
        return "b";
    case FRAME_CLIP:
        return "clip";
    case FRAME_PLATE_CROP:
        return "plate";
    default:
        return "other";
    }
}

json instantJson(const Instant &i)
{
    return json{{"utc_ns", i.utc_ns()}, {"monotonic_ns", i.monotonic_ns()}};
}

json frameJson(const Frame &f)
{
    return json{{"sha256", toHex(f.sha256())},
                {"width", f.width()},
                {"height", f.height()},
                {"encoding", f.encoding()},
                {"captured_utc_ns", f.captured().utc_ns()},
                {"captured_monotonic_ns", f.captured().monotonic_ns()},
                {"sequence", f.sequence()}};
}

/* A search region: null when the record has none (an empty box: out of view). */
json boxJson(const Box &b)
{
    if (b.width() <= 0 || b.height() <= 0)
        return nullptr;
    return json{{"x", b.x()}, {"y", b.y()}, {"width", b.width()}, {"height", b.height()}};
}

/* How the A- and B-shots were bound to the accused vehicle; null for a record made
 * before camera calibration. The two-image speed check's figures are null where the
 * record has none (red light: the pipeline sets all three only for the speed method). */
json identityJson(const Violation &v)
{
    if (!v.has_identity())
        return nullptr;
    const VehicleIdentity &id = v.identity();
    const bool twoImage = id.photo_speed_mph() != 0 || id.radar_speed_mph() != 0 ||
                          id.photo_speed_tolerance_mph() != 0;
    auto speed = [twoImage](double mph) { return twoImage ? json(mph) : json(nullptr); };
    return json{{"method", id.method()},
                {"lane", id.lane()},
                {"a_rear_along_m", id.a_rear_along_m()},
                {"b_rear_along_m", id.b_rear_along_m()},
                {"a_plate_region", boxJson(id.a_plate_region())},
                {"b_plate_region", boxJson(id.b_plate_region())},
                {"zone_from_m", id.zone_from_m()},
                {"zone_to_m", id.zone_to_m()},
                {"photo_speed_mph", speed(id.photo_speed_mph())},
                {"radar_speed_mph", speed(id.radar_speed_mph())},
                {"photo_speed_tolerance_mph", speed(id.photo_speed_tolerance_mph())},
                {"searched_from", instantJson(id.searched_from())},
                {"searched_to", instantJson(id.searched_to())},
                {"vehicles_in_zone", id.vehicles_in_zone()},
                {"explanation", id.explanation()},
                {"calibration", id.calibration()}};
}

} /* namespace */

std::vector<ChecklistItem> checklistFor(const Record &record)
{
    std::vector<ChecklistItem> items;
    if (!record.has_violation())
        return items;
    const Violation &v = record.violation();
    const std::string location = v.location().code() + " " + v.location().description() + "; " +
                                 v.statute_code() + " " + v.statute_description();
    bool hasB = false;
    for (const Frame &f : v.frames())
        hasB = hasB || f.role() == FRAME_B_SHOT;
    if (v.type() == RED_LIGHT) {
        const SignalTimeline &s = v.signal();
        ChecklistItem red{"light_red", "Light is red (A-shot after red onset and grace)", {}, ""};
        if (s.time_into_red_a_us() > 0 || s.grace_us() > 0) {
            /* The crossing is an estimate: proven only when even its earliest instant is
             * past the grace, as the device judged it. */
            const std::int64_t u = s.time_into_red_uncertainty_us();
            red.proven = s.time_into_red_a_us() - u > s.grace_us();
            const std::string method = v.crossing().crossing_method();
            red.evidence = seconds(s.time_into_red_a_us()) +
                           (u > 0 ? " ± " + std::to_string((u + 500) / 1000) + " ms" : "") +
                           " into red at the crossing" +
                           (method.empty() ? "" : " (dated by " + method + ")") + " (grace " +
                           seconds(s.grace_us()) + ")";
        }
        items.push_back(red);
        ChecklistItem yellow{"yellow_minimum", "Yellow not shorter than the minimum", {}, ""};
        if (s.measured_yellow_us() > 0) {
            yellow.proven = s.measured_yellow_us() >= s.minimum_yellow_us();
            yellow.evidence = "measured yellow " + seconds(s.measured_yellow_us()) + ", minimum " +
                              seconds(s.minimum_yellow_us());
        }
        items.push_back(yellow);
        items.push_back({"behind_line_first_photo",
                         "First photo: vehicle behind the stop line (curb-line prolongation)",
                         {},
                         "look at the A-shot"});
        items.push_back({"continues_through",
                         "Vehicle continues through the intersection",
                         {},
                         hasB ? "look at the B-shot (" + seconds(s.time_into_red_b_us()) +
                                         " into red) and the clip"
                              : "no B-shot in the record"});
    } else if (v.type() == SCHOOL_ZONE_SPEED) {
        const SchoolZoneState &z = v.school_zone();
        const SpeedMeasurement &sp = v.speed();
        items.push_back({"beacons_activated", "School-zone beacons activated", z.beacon_flashing(),
                         z.beacon_flashing()
                                 ? "beacon flashing since " + isoUtc(z.flashing_since().utc_ns())
                                 : "beacon not flashing"});
        items.push_back(
                {"limit_marked",
                 "Speed limit clearly marked",
                 {},
                 "posted limit in record: " + std::to_string(static_cast<int>(sp.posted_limit())) +
                         " " + unitName(sp.unit())});
        items.push_back({"school_in_session", "School in session", z.school_in_session(),
                         z.calendar_entry().empty() ? "no calendar entry"
                                                    : "calendar: " + z.calendar_entry() + " " +
                                                              z.enforcement_window()});
        const SelfCheck &sc = v.latest_self_check();
        items.push_back(
                {"radar_working", "Radar working properly (self-check valid)",
                 sc.kind() != SELF_CHECK_KIND_UNSPECIFIED ? std::optional<bool>(sc.passed())
                                                          : std::optional<bool>(false),
                 sc.kind() != SELF_CHECK_KIND_UNSPECIFIED
                         ? std::string(sc.passed() ? "self-check passed " : "self-check FAILED ") +
                                   isoUtc(sc.at().utc_ns())
                         : "no self-check in the record"});
        char buf[128];
        std::snprintf(buf, sizeof(buf), "%.1f %s measured (corrected), limit %.0f + %.0f",
                      sp.corrected_speed(), unitName(sp.unit()), sp.posted_limit(),
                      sp.threshold_over());
        items.push_back({"speed_over", "Speed over the limit plus threshold",
                         sp.corrected_speed() > sp.posted_limit() + sp.threshold_over(), buf});
    }
    std::string read = v.plate().candidates_size() ? v.plate().candidates(0).read() : "";
    items.push_back({"plate_legible",
                     "Plate legible",
                     {},
                     read.empty() ? "no plate read: look at the crop" : "plate read: " + read});
    items.push_back({"plate_matches",
                     "Plate matches the vehicle (make, model, year)",
                     {},
                     "compare the vehicle with the registration"});
    items.push_back({"location_code", "Location and violation code correct", {}, location});
    return items;
}

const std::vector<RejectReason> &rejectReasons()
{
    static const std::vector<RejectReason> reasons = {
            {"plate_not_legible", "Plate not legible"},
            {"not_past_line_on_red", "Vehicle not past the line on red"},
            {"emergency_vehicle", "Emergency vehicle"},
            {"funeral_procession", "Funeral procession"},
            {"government_vehicle", "Government / city vehicle"},
            {"dealer_plate", "Dealer plate"},
            {"yellow_too_short", "Yellow too short"},
            {"radar_self_check_invalid", "Radar self-check not valid"},
            {"wrong_location_code", "Wrong location / code"},
            {"duplicate", "Duplicate"},
            {"other", "Other (note required)"},
    };
    return reasons;
}

bool validReason(const std::string &code)
{
    for (const RejectReason &r : rejectReasons())
        if (code == r.code)
            return true;
    return false;
}

std::string approvalStatement(const CaseInfo &c, const StoredRecord &record,
                              const UserInfo &reviewer, int64_t decidedNs, const json &checklist)
{
    json j{{"type", "stopline-approval-v1"},
           {"case_id", c.id},
           {"device_id", record.deviceId},
           {"seq", record.seq},
           {"record_hash", toHex(record.hash)},
           {"violation_type", c.violationType},
           {"location_code", c.locationCode},
           {"reviewer",
            {{"user_id", reviewer.id},
             {"username", reviewer.username},
             {"display_name", reviewer.displayName},
             {"role", reviewer.role},
             {"signature_sha256", toHex(reviewer.signatureSha256)}}},
           {"decision", "approved"},
           {"decided_utc_ns", decidedNs},
           {"decided_utc", isoUtc(decidedNs)},
           {"checklist", checklist}};
    return j.dump();
}

bool checkApproval(const std::string &statement, const std::string &signature,
                   const PublicKey &serverKey, std::string *reason)
{
    if (!serverKey.verify(kApprovalDomain, statement, signature)) {
        *reason = "approval signature invalid";
        return false;
    }
    json j = json::parse(statement, nullptr, false);
    if (j.is_discarded() || j.value("type", "") != "stopline-approval-v1") {
        *reason = "approval statement malformed";
        return false;
    }
    return true;
}

json caseJson(const CaseInfo &c, const StoredRecord &stored,
              const std::vector<std::string> &verification)
{
    json j;
    j["id"] = c.id;
    j["status"] = c.status;
    j["version"] = c.version;
    j["lease"] = {{"owner", c.leaseOwner}, {"expires_ns", c.leaseExpiresNs}};
    j["device_id"] = c.deviceId;
    j["seq"] = c.seq;
    j["site"] = c.site;
    j["type"] = c.violationType;
    j["received_ns"] = stored.receivedNs;
    j["record_hash"] = toHex(stored.hash);
    j["verification"] = verification;
    SealedRecord env;
    Record r;
    if (!env.ParseFromString(stored.bytes) || !r.ParseFromString(env.record())) {
        j["error"] = "stored record does not parse";
        return j;
    }
    j["record_id"] = r.record_id();
    j["key_id"] = env.key_id();
    j["software_version"] = r.software_version();
    j["calibration_id"] = r.calibration_id();
    j["config_hash"] = r.config_hash();
    j["clock"] = {{"synchronized", r.clock().synchronized()},
                  {"estimated_error_us", r.clock().estimated_error_us()},
                  {"maximum_error_us", r.clock().maximum_error_us()},
                  {"source", r.clock().source()}};
    const Violation &v = r.violation();
    j["time_utc"] = isoUtc(v.event().utc_ns() ? v.event().utc_ns() : r.created().utc_ns());
    j["event"] = instantJson(v.event());
    j["location"] = {{"code", v.location().code()},
                     {"description", v.location().description()},
                     {"direction", directionName(v.location().direction())},
                     {"lane", v.location().lane()},
                     {"latitude", v.location().latitude()},
                     {"longitude", v.location().longitude()}};
    j["statute"] = {{"code", v.statute_code()}, {"description", v.statute_description()}};
    const SignalTimeline &s = v.signal();
    json changes = json::array();
    for (const PhaseChange &pc : s.changes())
        changes.push_back({{"head", pc.head()},
                           {"phase", phaseName(pc.phase())},
                           {"at", instantJson(pc.at())}});
    j["signal"] = {{"head", s.head()},
                   {"changes", changes},
                   {"measured_yellow_us", s.measured_yellow_us()},
                   {"minimum_yellow_us", s.minimum_yellow_us()},
                   {"measured_all_red_us", s.measured_all_red_us()},
                   {"red_onset", instantJson(s.red_onset())},
                   {"time_into_red_a_us", s.time_into_red_a_us()},
                   {"time_into_red_b_us", s.time_into_red_b_us()},
                   {"time_into_red_uncertainty_us", s.time_into_red_uncertainty_us()},
                   {"crossing_method", v.crossing().crossing_method()},
                   {"camera_dating", v.crossing().camera_dating()},
                   {"grace_us", s.grace_us()}};
    const SpeedMeasurement &sp = v.speed();
    json samples = json::array();
    for (const RadarSample &rs : sp.samples())
        samples.push_back({{"at", instantJson(rs.at())},
                           {"speed", rs.speed()},
                           {"target", rs.target_index()}});
    j["speed"] = {{"unit", unitName(sp.unit())},
                  {"measured", sp.measured_speed()},
                  {"corrected", sp.corrected_speed()},
                  {"limit", sp.posted_limit()},
                  {"threshold_over", sp.threshold_over()},
                  {"cosine_angle_deg", sp.cosine_angle_deg()},
                  {"spread", sp.spread()},
                  {"targets_in_beam", sp.targets_in_beam()},
                  {"loop_speed", sp.loop_speed()},
                  {"samples", samples}};
    const SchoolZoneState &z = v.school_zone();
    j["school_zone"] = {{"beacon_flashing", z.beacon_flashing()},
                        {"school_in_session", z.school_in_session()},
                        {"calendar_entry", z.calendar_entry()},
                        {"enforcement_window", z.enforcement_window()}};
    const SelfCheck &sc = v.latest_self_check();
    json scItems = json::array();
    for (const SelfCheckItem &it : sc.items())
        scItems.push_back({{"name", it.name()}, {"passed", it.passed()}, {"detail", it.detail()}});
    j["self_check"] = {{"present", sc.kind() != SELF_CHECK_KIND_UNSPECIFIED},
                       {"passed", sc.passed()},
                       {"at_utc", sc.at().utc_ns() ? isoUtc(sc.at().utc_ns()) : ""},
                       {"items", scItems}};
    json frames = {{"a", nullptr}, {"b", nullptr}, {"clip", json::array()}, {"plate", nullptr}};
    for (const Frame &f : v.frames()) {
        std::string k = roleKey(f.role());
        if (k == "clip")
            frames["clip"].push_back(frameJson(f));
        else if (k == "a" || k == "b")
            frames[k] = frameJson(f);
    }
    if (v.plate().candidates_size()) {
        const PlateCandidate &pc = v.plate().candidates(0);
        json p = frameJson(pc.crop());
        p["read"] = pc.read();
        p["score"] = pc.score();
        p["box"] = {{"x", pc.box().x()},
                    {"y", pc.box().y()},
                    {"width", pc.box().width()},
                    {"height", pc.box().height()}};
        p["source_sha256"] = toHex(pc.source_sha256());
        frames["plate"] = p;
    }
    j["frames"] = frames;
    j["identity"] = identityJson(v);
    json items = json::array();
    for (const ChecklistItem &it : checklistFor(r))
        items.push_back({{"key", it.key},
                         {"label", it.label},
                         {"proven", it.proven ? json(*it.proven) : json(nullptr)},
                         {"evidence", it.evidence}});
    j["checklist"] = items;
    if (c.status != "queued") {
        j["decision"] = {{"decision", c.decision},
                         {"reason", c.reasonCode},
                         {"note", c.note},
                         {"by", c.decidedBy},
                         {"at_utc", isoUtc(c.decidedNs)},
                         {"time_on_case_ms", c.timeOnCaseMs},
                         {"clip_viewed", c.clipViewed},
                         {"checklist",
                          json::parse(c.checklist.empty() ? "{}" : c.checklist, nullptr, false)}};
    }
    return j;
}

} /* namespace stopline::backoffice */

/* Quality control (second reviews, rubber-stamp flags) and the statistics pages. */

#include <algorithm>
#include <ctime>
#include <map>

#include "backoffice/review.h"
#include "backoffice/workflows/casework.h"
#include "backoffice/workflows/casework_internal.h"

namespace stopline::backoffice {

using nlohmann::json;
using namespace work;

namespace {

int64_t median(std::vector<int64_t> v)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

const char *selfCheckKind(evidence::SelfCheckKind k)
{
    switch (k) {
    case evidence::SELF_CHECK_POWER_ON:
        return "power_on";
    case evidence::SELF_CHECK_PERIODIC:
        return "periodic";
    case evidence::SELF_CHECK_FORK:
        return "tuning_fork";
    case evidence::SELF_CHECK_RESET:
        return "radar_reset";
    case evidence::SELF_CHECK_RECOVERY:
        return "recovery";
    default:
        return "unspecified";
    }
}

int localHour(int64_t ns)
{
    std::time_t t = static_cast<std::time_t>(ns / kSecond);
    std::tm tm{};
    localtime_r(&t, &tm);
    return tm.tm_hour;
}

json reviewJson(const Row &r)
{
    /* case_id, reason, decided_by, time_on_case_ms, minimum_ms, queued_ns, reviewer,
     * reviewed_ns, verdict, note, decision, reason_code, violation_type, site, decided_ns */
    return json{{"case_id", r.integer(0)},
                {"reason", r.text(1)},
                {"rubber_stamp", r.text(1) == "rubber_stamp"},
                {"decided_by", r.text(2)},
                {"time_on_case_ms", r.integer(3)},
                {"minimum_ms", r.integer(4)},
                {"queued_utc", isoUtc(r.integer(5))},
                {"reviewer", r.text(6)},
                {"reviewed_utc", r.isNull(7) ? "" : isoUtc(r.integer(7))},
                {"verdict", r.text(8)},
                {"note", r.text(9)},
                {"decision", r.text(10)},
                {"reject_reason", r.text(11)},
                {"type", r.text(12)},
                {"site", r.text(13)},
                {"decided_utc", r.isNull(14) ? "" : isoUtc(r.integer(14))}};
}

/* One reviewer's decisions: the quality page and the statistics show the same tally. */
struct ReviewerTally
{
    int64_t approved = 0, rejected = 0, flagged = 0;
    std::vector<int64_t> times;

    void add(bool approve, int64_t timeOnCaseMs, int64_t minimumMs)
    {
        ++(approve ? approved : rejected);
        times.push_back(timeOnCaseMs);
        flagged += timeOnCaseMs < minimumMs;
    }
};

json reviewersJson(const std::map<std::string, ReviewerTally> &byReviewer)
{
    json out = json::array();
    for (const auto &[name, t] : byReviewer)
        out.push_back({{"reviewer", name},
                       {"approved", t.approved},
                       {"rejected", t.rejected},
                       {"median_time_on_case_ms", median(t.times)},
                       {"faster_than_minimum", t.flagged}});
    return out;
}

const char *kReviewSelect =
        "SELECT s.case_id, s.reason, s.decided_by, s.time_on_case_ms, s.minimum_ms, s.queued_ns, "
        "s.reviewer, s.reviewed_ns, s.verdict, s.note, c.decision, c.reason_code, "
        "c.violation_type, c.site, c.decided_ns FROM second_reviews s JOIN cases c ON c.id = "
        "s.case_id ";

} /* namespace */

json CaseWork::quality()
{
    json pending = json::array(), done = json::array(), reviewers = json::array();
    int64_t since = store_->now() - 30 * kDay;
    store_->transact(false, [&](SqlDb &db) {
        for (const Row &r : db.query(std::string(kReviewSelect) +
                                     "WHERE s.reviewed_ns IS NULL ORDER BY s.queued_ns LIMIT 500"))
            pending.push_back(reviewJson(r));
        for (const Row &r :
             db.query(std::string(kReviewSelect) +
                      "WHERE s.reviewed_ns IS NOT NULL ORDER BY s.reviewed_ns DESC LIMIT 100"))
            done.push_back(reviewJson(r));
        std::map<std::string, ReviewerTally> by;
        for (const Row &r : db.query("SELECT decided_by, decision, time_on_case_ms FROM cases "
                                     "WHERE status <> 'queued' AND decided_ns >= ?",
                                     {since}))
            by[r.text(0)].add(r.text(1) == "approved", r.isNull(2) ? 0 : r.integer(2),
                              config_.minReviewMs);
        reviewers = reviewersJson(by);
    });
    return json{{"pending", pending},
                {"done", done},
                {"reviewers", reviewers},
                {"minimum_ms", config_.minReviewMs},
                {"sample_percent", config_.secondReviewPercent}};
}

json CaseWork::secondReview(int64_t caseId, const json &body, const Actor &who)
{
    json b = object(body);
    std::string verdict = field(b, "verdict", 20, true);
    if (verdict != "agree" && verdict != "disagree")
        throw WorkError(422, "'verdict' must be \"agree\" or \"disagree\"");
    std::string note = field(b, "note", 2000, verdict == "disagree");
    json out;
    store_->transact(true, [&](SqlDb &db) {
        auto rows = db.query("SELECT decided_by, reviewed_ns, reason FROM second_reviews WHERE "
                             "case_id = ?",
                             {caseId});
        if (rows.empty())
            throw WorkError(404, "case " + std::to_string(caseId) +
                                         " is not queued for a second review");
        if (!rows[0].isNull(1))
            throw WorkError(409,
                            "case " + std::to_string(caseId) + " already had its second review");
        if (rows[0].text(0) == who.name)
            throw WorkError(409, "a second review needs another supervisor: you decided case " +
                                         std::to_string(caseId));
        db.query("UPDATE second_reviews SET reviewer = ?, reviewed_ns = ?, verdict = ?, note = ? "
                 "WHERE case_id = ?",
                 {who.name, store_->now(), verdict, note, caseId});
        audit(store_, db, who, "second-review", caseId,
              verdict + " (" + rows[0].text(2) + ")" + (note.empty() ? "" : ": " + note));
        out = {{"ok", true}, {"verdict", verdict}};
    });
    return out;
}

/* Lane and signal timing live inside the records; they are read once per case into
 * case_stats, a bounded number per call, so the first visit to the page stays quick. */
void CaseWork::materializeStats(int64_t sinceNs)
{
    std::vector<std::pair<int64_t, int64_t>> todo;
    store_->transact(false, [&](SqlDb &db) {
        for (const Row &r : db.query("SELECT c.id, c.record_row FROM cases c LEFT JOIN case_stats "
                                     "s ON s.case_id = c.id WHERE s.case_id IS NULL AND "
                                     "c.event_utc_ns >= ? ORDER BY c.id LIMIT 5000",
                                     {sinceNs}))
            todo.emplace_back(r.integer(0), r.integer(1));
    });
    std::vector<std::vector<Value>> rows;
    for (auto [caseId, recordRow] : todo) {
        auto rec = store_->recordByRow(recordRow);
        evidence::SealedRecord env;
        evidence::Record r;
        int64_t lane = 0, yellow = 0, minimum = 0;
        double speed = 0, limit = 0;
        if (rec && env.ParseFromString(rec->bytes) && r.ParseFromString(env.record())) {
            const evidence::Violation &v = r.violation();
            lane = v.location().lane();
            yellow = v.signal().measured_yellow_us();
            minimum = v.signal().minimum_yellow_us();
            speed = v.speed().corrected_speed();
            limit = v.speed().posted_limit();
        }
        rows.push_back({caseId, lane, yellow, minimum, speed, limit});
    }
    if (rows.empty())
        return;
    store_->transact(true, [&](SqlDb &db) {
        for (const auto &p : rows)
            db.query("INSERT INTO case_stats (case_id, lane, measured_yellow_us, "
                     "minimum_yellow_us, speed, speed_limit) VALUES (?, ?, ?, ?, ?, ?) ON "
                     "CONFLICT (case_id) DO NOTHING",
                     p);
    });
}

json CaseWork::statistics(int days)
{
    if (days < 1 || days > 3660)
        throw WorkError(422, "'days' must be 1 to 3660");
    int64_t now = store_->now();
    int64_t since = now - int64_t{days} * kDay;
    materializeStats(since);
    std::map<std::string, int64_t> bySite, byType, byLane, byReason;
    std::vector<int64_t> byHour(24, 0);
    std::map<std::string, ReviewerTally> byReviewer;
    std::map<std::string, std::vector<int64_t>> yellow, yellowMin;
    int64_t total = 0, approved = 0, rejected = 0, queued = 0;
    store_->transact(false, [&](SqlDb &db) {
        for (const Row &r :
             db.query("SELECT c.site, c.violation_type, s.lane, c.event_utc_ns, c.status, "
                      "c.reason_code, c.decided_by, c.time_on_case_ms, s.measured_yellow_us, "
                      "s.minimum_yellow_us FROM cases c LEFT JOIN case_stats s ON s.case_id = c.id "
                      "WHERE c.event_utc_ns >= ?",
                      {since})) {
            ++total;
            ++bySite[r.text(0)];
            ++byType[r.text(1)];
            ++byLane[r.isNull(2) ? "?" : "lane " + std::to_string(r.integer(2))];
            ++byHour[localHour(r.integer(3))];
            std::string status = r.text(4);
            if (status == "approved" || status == "rejected") {
                bool approve = status == "approved";
                byReviewer[r.text(6)].add(approve, r.isNull(7) ? 0 : r.integer(7),
                                          config_.minReviewMs);
                if (approve) {
                    ++approved;
                } else {
                    ++rejected;
                    ++byReason[r.text(5)];
                }
            } else {
                ++queued;
            }
            if (r.text(1) == "red_light" && !r.isNull(8) && r.integer(8) > 0) {
                yellow[r.text(0)].push_back(r.integer(8));
                yellowMin[r.text(0)].push_back(r.integer(9));
            }
        }
    });
    auto series = [](const std::map<std::string, int64_t> &m) {
        json a = json::array();
        for (const auto &[k, v] : m)
            a.push_back({{"key", k}, {"count", v}});
        return a;
    };
    json hours = json::array();
    for (int h = 0; h < 24; ++h)
        hours.push_back({{"key", h}, {"count", byHour[h]}});
    json reasons = json::array();
    for (const RejectReason &rr : rejectReasons())
        if (byReason.count(rr.code))
            reasons.push_back(
                    {{"key", rr.code}, {"label", rr.label}, {"count", byReason[rr.code]}});
    json yellows = json::array();
    for (auto &[site, v] : yellow) {
        std::vector<int64_t> sorted = v;
        std::sort(sorted.begin(), sorted.end());
        int64_t below = 0;
        for (size_t i = 0; i < v.size(); ++i)
            below += v[i] < yellowMin[site][i];
        json values = json::array();
        for (size_t i = 0; i < sorted.size(); i += std::max<size_t>(1, sorted.size() / 400))
            values.push_back(sorted[i]);
        yellows.push_back({{"site", site},
                           {"count", v.size()},
                           {"min_us", sorted.front()},
                           {"median_us", median(sorted)},
                           {"max_us", sorted.back()},
                           {"minimum_required_us", median(yellowMin[site])},
                           {"below_minimum", below},
                           {"values_us", values}});
    }

    /* Devices: heartbeats (uptime, health) and radar self-check records. */
    json devices = json::array();
    for (const DeviceInfo &d : store_->devices()) {
        json beats = json::array();
        std::vector<int64_t> hoursSeen;
        int64_t first = 0;
        for (const Row &r : store_->rawQuery("SELECT received_ns, body FROM heartbeats WHERE "
                                             "device_id = ? AND received_ns >= ? ORDER BY id DESC "
                                             "LIMIT 2000",
                                             {d.id, since})) {
            json hb = json::parse(r.text(1), nullptr, false);
            int64_t at = r.integer(0);
            first = first ? std::min(first, at) : at;
            hoursSeen.push_back(at / (3600 * kSecond));
            auto ok = [&](const char *k) {
                if (!hb.is_object() || !hb.contains(k) || !hb[k].is_object())
                    return json(nullptr);
                return hb[k].value("ok", json(nullptr));
            };
            beats.push_back({{"at_utc", isoUtc(at)},
                             {"uptime_s",
                              hb.is_object() ? hb.value("uptime_s", json(nullptr)) : json(nullptr)},
                             {"signal_ok", ok("signal_sensing")},
                             {"radar_ok", ok("radar")},
                             {"camera_ok", ok("camera")}});
        }
        std::sort(hoursSeen.begin(), hoursSeen.end());
        hoursSeen.erase(std::unique(hoursSeen.begin(), hoursSeen.end()), hoursSeen.end());
        int64_t spanHours = first ? (now - first) / (3600 * kSecond) + 1 : 0;
        json checks = json::array();
        int64_t passed = 0;
        for (const Row &r : store_->rawQuery("SELECT bytes FROM records WHERE device_id = ? AND "
                                             "kind = 'self_check' AND created_utc_ns >= ? ORDER "
                                             "BY seq DESC LIMIT 500",
                                             {d.id, since})) {
            evidence::SealedRecord env;
            evidence::Record rec;
            if (!env.ParseFromString(r.text(0)) || !rec.ParseFromString(env.record()))
                continue;
            const evidence::SelfCheck &sc = rec.self_check();
            json failed = json::array();
            for (const evidence::SelfCheckItem &it : sc.items())
                if (!it.passed())
                    failed.push_back(it.name() + (it.detail().empty() ? "" : ": " + it.detail()));
            passed += sc.passed();
            checks.push_back({{"at_utc", isoUtc(sc.at().utc_ns() ? sc.at().utc_ns()
                                                                 : rec.created().utc_ns())},
                              {"kind", selfCheckKind(sc.kind())},
                              {"passed", sc.passed()},
                              {"failed", failed}});
        }
        std::reverse(beats.begin(), beats.end());
        std::reverse(checks.begin(), checks.end());
        devices.push_back({{"device_id", d.id},
                           {"site", d.site},
                           {"heartbeats", beats},
                           {"hours_with_heartbeat", hoursSeen.size()},
                           {"hours_observed", spanHours},
                           {"availability",
                            spanHours ? static_cast<double>(hoursSeen.size()) / spanHours : 0.0},
                           {"self_checks", checks},
                           {"self_checks_passed", passed}});
    }
    return json{{"days", days},
                {"from_utc", isoUtc(since)},
                {"to_utc", isoUtc(now)},
                {"total", total},
                {"approved", approved},
                {"rejected", rejected},
                {"queued", queued},
                {"by_site", series(bySite)},
                {"by_type", series(byType)},
                {"by_lane", series(byLane)},
                {"by_hour", hours},
                {"rejections_by_reason", reasons},
                {"by_reviewer", reviewersJson(byReviewer)},
                {"minimum_review_ms", config_.minReviewMs},
                {"yellow_by_site", yellows},
                {"devices", devices}};
}

} /* namespace stopline::backoffice */

/* Citations, notices and copies (assembling what is printed, mailing), and the court
 * packet. */

#include <cstdio>
#include <map>
#include <sstream>

#include "backoffice/citations/citation_pdf.h"
#include "backoffice/citations/court_packet.h"
#include "backoffice/ingest.h"
#include "backoffice/review.h"
#include "backoffice/workflows/casework.h"
#include "backoffice/workflows/casework_internal.h"
#include "evidence/crypto.h"
#include "evidence/verify.h"

namespace stopline::backoffice {

using nlohmann::json;
using namespace work;

namespace {

std::vector<std::string> addressLines(const std::string &address)
{
    std::vector<std::string> lines;
    std::string s = address;
    if (s.find('\n') == std::string::npos) {
        size_t comma = s.find(", ");
        if (comma != std::string::npos)
            return {s.substr(0, comma), s.substr(comma + 2)};
        return {s};
    }
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);)
        if (!line.empty())
            lines.push_back(line);
    return lines;
}

std::string seconds(int64_t us)
{
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.2f s", static_cast<double>(us) / 1e6);
    return buf;
}

const char *directionName(evidence::Direction d)
{
    switch (d) {
    case evidence::NORTHBOUND:
        return "northbound";
    case evidence::SOUTHBOUND:
        return "southbound";
    case evidence::EASTBOUND:
        return "eastbound";
    case evidence::WESTBOUND:
        return "westbound";
    default:
        return "";
    }
}

DocImage frameImage(const evidence::Frame &f)
{
    return {f.data(), f.encoding() == "png" ? "image/png" : "image/jpeg"};
}

} /* namespace */

CitationDoc CaseWork::citationDoc(const CitationRow &row)
{
    auto c = store_->caseInfo(row.caseId);
    if (!c)
        throw WorkError(404, "no case " + std::to_string(row.caseId));
    StoredRecord stored;
    evidence::Record record;
    if (!loadRecord(store_, *c, &stored, &record))
        throw WorkError(500,
                        "the record of case " + std::to_string(row.caseId) + " cannot be read");
    std::optional<FileRow> f;
    store_->transact(false, [&](SqlDb &db) { f = loadFile(db, row.caseId); });
    VehicleEntry v = f ? vehicleFromJson(f->vehicle).value_or(VehicleEntry{}) : VehicleEntry{};
    int64_t now = store_->now();
    const evidence::Violation &vio = record.violation();

    CitationDoc d;
    d.kind = row.kind;
    d.agencyName = config_.agencyName;
    d.number = row.number;
    d.accessCode = row.accessCode;
    d.portalUrl = config_.portalUrl;
    int64_t mailed = row.mailedNs ? row.mailedNs : now;
    d.issuedDate = rules::localDate(mailed);
    if (row.kind == "rental_notice")
        d.dueDate = rules::localDate(
                row.dueNs ? row.dueNs
                          : rules::rentalWindowEnd(mailed, row.receivedNs, config_.rules));
    else
        d.dueDate = rules::localDate(
                row.dueNs ? row.dueNs : rules::endOfLocalDay(mailed, config_.rules.paymentDays));
    d.amount = money(row.amountCents);
    d.recipientName = row.recipientName;
    d.recipientAddress = addressLines(row.recipientAddress);
    bool red = c->violationType == "red_light";
    d.violationType =
            red ? "Red light: failure to stop at a steady red signal" : "School zone speed";
    d.violationTime = localDateTime(c->eventUtcNs ? c->eventUtcNs : c->createdNs);
    d.location = vio.location().code() + "  " + vio.location().description();
    /* Lane only when the record knows it: speed records carry none (lane 0). */
    d.approach = directionName(vio.location().direction());
    if (vio.location().lane() > 0)
        d.approach +=
                (d.approach.empty() ? "lane " : ", lane ") + std::to_string(vio.location().lane());
    d.statute = vio.statute_code() + "  " + vio.statute_description();
    if (red) {
        const evidence::SignalTimeline &s = vio.signal();
        d.measurements.push_back(
                {"Time into red", seconds(s.time_into_red_a_us()) + " at photo 1, " +
                                          seconds(s.time_into_red_b_us()) + " at photo 2"});
        d.measurements.push_back({"Yellow", seconds(s.measured_yellow_us()) +
                                                    " measured (minimum " +
                                                    seconds(s.minimum_yellow_us()) + ")"});
    } else {
        char buf[96];
        std::snprintf(buf, sizeof(buf), "%.0f in a %.0f zone (beacons flashing, school in session)",
                      vio.speed().corrected_speed(), vio.speed().posted_limit());
        d.measurements.push_back({"Speed", buf});
    }
    d.plate = f ? f->plate + " " + f->state : "";
    if (!v.make.empty())
        d.vehicle = std::to_string(v.year) + " " + v.make + " " + v.model + ", " + v.colour;
    for (const evidence::Frame &fr : vio.frames()) {
        if (fr.role() == evidence::FRAME_A_SHOT)
            d.vehiclePhoto = frameImage(fr);
        else if (fr.role() == evidence::FRAME_B_SHOT)
            d.secondPhoto = frameImage(fr);
    }
    if (vio.plate().candidates_size())
        d.plateCrop = frameImage(vio.plate().candidates(0).crop());
    /* The signature the approval was signed with, by its hash: a later change of the
     * reviewer's signature does not alter an issued citation. */
    if (!c->approval.empty()) {
        json st = json::parse(c->approval, nullptr, false);
        if (st.is_object()) {
            d.reviewerName = st["reviewer"].value("display_name", c->decidedBy);
            std::string raw;
            if (evidence::fromHex(st["reviewer"].value("signature_sha256", ""), &raw))
                if (auto m = store_->media(raw))
                    d.signature = {m->bytes, m->contentType};
        }
        d.approvalHash = evidence::toHex(evidence::sha256(c->approval));
    }
    d.reviewedDate = c->decidedNs ? rules::localDate(c->decidedNs) : "";
    d.recordId = record.record_id();
    d.recordHash = evidence::toHex(stored.hash);
    d.rentalWindowDays = config_.rules.rentalWindowDays;
    if (row.kind == "agency_copy")
        d.referralNote = "Copy to " + row.recipientName +
                         " (outside agency). The Traffic Lieutenant records the referral.";
    else if (row.kind == "department_copy")
        d.referralNote = "Forwarded to " + row.recipientName +
                         " (City department). The Traffic Lieutenant records the referral.";
    return d;
}

json CaseWork::mailQueue()
{
    json list = json::array();
    int64_t held = 0;
    store_->transact(false, [&](SqlDb &db) {
        for (const Row &r : db.query(std::string("SELECT ") + kCitationColumns +
                                     ", (SELECT site FROM cases x WHERE x.id = c.case_id), "
                                     "(SELECT violation_type FROM cases x WHERE x.id = "
                                     "c.case_id) FROM citations c WHERE c.status = 'pending' "
                                     "ORDER BY c.id LIMIT 1000")) {
            json j = citationJson(citationFromRow(r));
            j["site"] = r.text(20);
            j["type"] = r.text(21);
            list.push_back(j);
        }
        held = db.query("SELECT COUNT(*) FROM citations WHERE status = 'held'")[0].integer(0);
    });
    return json{{"pending", list}, {"held", held}};
}

std::string CaseWork::mailBatchPdf(const std::vector<int64_t> &ids)
{
    std::vector<CitationRow> rows;
    store_->transact(false, [&](SqlDb &db) {
        if (ids.empty()) {
            for (const Row &r : db.query(std::string("SELECT ") + kCitationColumns +
                                         " FROM citations c WHERE c.status = 'pending' AND c.kind "
                                         "<> 'reimbursement' ORDER BY c.id LIMIT 500"))
                rows.push_back(citationFromRow(r));
            return;
        }
        for (int64_t id : ids) {
            auto r = citationById(db, id);
            if (!r)
                throw WorkError(404, "no citation " + std::to_string(id));
            if (r->kind == "reimbursement")
                throw WorkError(409, r->number + " is a reimbursement: nothing to mail");
            rows.push_back(*r);
        }
    });
    /* One PDF, one page per document, in the order given: what goes to the printer. */
    std::vector<CitationDoc> docs;
    for (const CitationRow &r : rows)
        docs.push_back(citationDoc(r));
    return renderCitationsPdf(docs);
}

json CaseWork::markMailed(const json &body, const Actor &who)
{
    json b = object(body);
    if (!b.value("ids", json()).is_array() || b["ids"].empty() || b["ids"].size() > 500)
        throw WorkError(422, "'ids' must list 1 to 500 document ids");
    std::vector<int64_t> ids;
    for (const json &v : b["ids"]) {
        if (!v.is_number_integer())
            throw WorkError(422, "'ids' must be numbers");
        ids.push_back(v.get<int64_t>());
    }
    int64_t now = store_->now();
    int64_t mailed = parseDay(b, "mailed_date", now);

    /* Render first (outside the transaction): the PDF that goes out is kept as mailed. */
    struct Prepared
    {
        CitationRow row;
        CaseInfo kase;
        std::string pdf, sha;
    };
    std::vector<Prepared> work;
    for (int64_t id : ids) {
        std::optional<CitationRow> row;
        store_->transact(false, [&](SqlDb &db) { row = citationById(db, id); });
        if (!row)
            throw WorkError(404, "no document " + std::to_string(id));
        if (row->status != "pending")
            throw WorkError(409, row->number + " is " + row->status +
                                         ", not waiting to be mailed: nothing was marked");
        auto c = store_->caseInfo(row->caseId);
        int64_t violation = c->eventUtcNs ? c->eventUtcNs : c->createdNs;
        if (rules::localDate(mailed) < rules::localDate(violation))
            throw WorkError(422, "'mailed_date' " + rules::localDate(mailed) +
                                         " is before the violation of " + row->number + " (" +
                                         rules::localDate(violation) + ")");
        Prepared p{*row, *c, {}, {}};
        p.row.mailedNs = mailed;
        if (p.row.kind == "citation")
            p.row.dueNs = rules::endOfLocalDay(mailed, config_.rules.paymentDays);
        else if (p.row.kind == "rental_notice")
            p.row.dueNs = rules::rentalWindowEnd(mailed, 0, config_.rules);
        p.pdf = renderCitationsPdf({citationDoc(p.row)});
        p.sha = evidence::sha256(p.pdf);
        work.push_back(std::move(p));
    }
    json done = json::array();
    store_->transact(true, [&](SqlDb &db) {
        for (Prepared &p : work) {
            auto now2 = citationById(db, p.row.id);
            if (!now2 || now2->status != "pending")
                throw WorkError(409, p.row.number + " changed meanwhile (" +
                                             (now2 ? now2->status : "gone") +
                                             "): nothing was marked");
            db.query("INSERT INTO media (sha256, content_type, bytes) VALUES (?, ?, ?) ON "
                     "CONFLICT (sha256) DO NOTHING",
                     {Blob{p.sha}, std::string("application/pdf"), Blob{p.pdf}});
            bool copy = p.row.kind == "agency_copy" || p.row.kind == "department_copy";
            db.query("UPDATE citations SET status = ?, mailed_ns = ?, due_ns = ?, pdf_sha256 = ? "
                     "WHERE id = ?",
                     {std::string(copy ? "referred" : "issued"), mailed,
                      p.row.dueNs ? Value{p.row.dueNs} : Value{nullptr}, Blob{p.sha}, p.row.id});
            /* The mailing task of this document is done; a copy's referral task stays
             * open until the Lieutenant records the referral. */
            if (!copy)
                db.query("UPDATE tasks SET status = 'done', closed_ns = ?, closed_by = ?, "
                         "outcome = ? WHERE case_id = ? AND rule = ? AND status = 'open'",
                         {now, who.name, "mailed " + p.row.number, p.row.caseId, p.row.rule});
            audit(store_, db, who, "mail", p.row.caseId,
                  p.row.number + " (" + p.row.kind + ") mailed " + rules::localDate(mailed) +
                          " to " + p.row.recipientName +
                          (p.row.dueNs ? ", due " + rules::localDate(p.row.dueNs) : "") +
                          "; PDF sha256 " + evidence::toHex(p.sha));
            if (p.row.kind == "rental_notice") {
                auto f = loadFile(db, p.row.caseId);
                rules::CaseFacts cf;
                Ownership o;
                if (parseOwnership(f->ownership, &o))
                    cf.ownership = o;
                cf.stage = f->stage;
                cf.violationNs = p.kase.eventUtcNs;
                rules::StepInput in;
                in.step = rules::Step::NoticeMailed;
                in.atNs = mailed;
                in.noticeMailedNs = mailed;
                rules::Outcome out = rules::decide(cf, in, config_.rules);
                if (out.row)
                    applyRow(db, *f, p.kase, out, {}, who, mailed);
            }
            json j = citationJson(p.row);
            j["status"] = copy ? "referred" : "issued";
            done.push_back(j);
        }
    });
    return json{{"mailed", done}, {"mailed_date", rules::localDate(mailed)}};
}

std::string CaseWork::citationPdf(int64_t citationId, std::string *filename)
{
    std::optional<CitationRow> row;
    store_->transact(false, [&](SqlDb &db) { row = citationById(db, citationId); });
    if (!row)
        throw WorkError(404, "no document " + std::to_string(citationId));
    if (row->kind == "reimbursement")
        throw WorkError(409, row->number + " is a reimbursement: it has no mailed document");
    *filename = row->number + (row->pdfSha256.empty() ? "-preview.pdf" : ".pdf");
    if (!row->pdfSha256.empty())
        if (auto m = store_->media(row->pdfSha256))
            return m->bytes;
    return renderCitationsPdf({citationDoc(*row)});
}

std::string CaseWork::courtPacket(int64_t caseId, const evidence::SigningKey &serverKey,
                                  const Actor &who)
{
    auto c = store_->caseInfo(caseId);
    if (!c)
        throw WorkError(404, "no case " + std::to_string(caseId));
    StoredRecord stored;
    evidence::Record record;
    if (!loadRecord(store_, *c, &stored, &record))
        throw WorkError(500, "the record of case " + std::to_string(caseId) + " cannot be read");
    std::vector<PacketFile> files;
    std::string prefix = "case-" + std::to_string(caseId) + "/";

    /* The record exactly as received and signed, and the receipt the device got. */
    files.push_back({prefix + "record.slr", stored.bytes});
    if (!stored.receipt.empty())
        files.push_back({prefix + "receipt.bin", stored.receipt});

    /* Verification with the project's verifier, against the device's enrolled keys,
     * over this record and its neighbours in the chain. */
    evidence::KeyRing ring;
    json keys = json::array();
    for (const DeviceKey &k : store_->deviceKeys(c->deviceId)) {
        auto pk = evidence::PublicKey::fromRaw(k.publicKey);
        files.push_back(
                {prefix + "keys/" + k.keyId + ".pub", "device: " + c->deviceId + "\n" + pk->pem()});
        keys.push_back({{"key_id", k.keyId}, {"source", k.source}});
        if (k.source == "enrolled")
            ring.enroll({std::shared_ptr<const evidence::PublicKey>(std::move(pk)), c->deviceId,
                         k.notBeforeNs, k.notAfterNs, k.revokedNs});
    }
    evidence::RecordCheck alone = evidence::checkRecord(stored.bytes, ring);
    auto prev = c->seq > 0 ? store_->record(c->deviceId, c->seq - 1) : std::nullopt;
    auto next = store_->record(c->deviceId, c->seq + 1);
    std::vector<evidence::BatchInput> inputs;
    if (prev)
        inputs.push_back({"seq " + std::to_string(prev->seq), prev->bytes, false});
    inputs.push_back({"seq " + std::to_string(c->seq) + " (this case)", stored.bytes, false});
    if (next)
        inputs.push_back({"seq " + std::to_string(next->seq), next->bytes, false});
    evidence::BatchOptions opt;
    opt.partial = true;
    evidence::BatchResult batch = evidence::verifyBatch(inputs, ring, opt);
    json chain{{"device_id", c->deviceId},
               {"seq", c->seq},
               {"record_hash", evidence::toHex(stored.hash)},
               {"prev_hash", evidence::toHex(record.prev_hash())},
               {"keys", keys},
               {"ingest_findings", stored.findings},
               {"previous", nullptr},
               {"next", nullptr},
               {"checkpoint", nullptr}};
    if (prev)
        chain["previous"] = {{"seq", prev->seq},
                             {"record_hash", evidence::toHex(prev->hash)},
                             {"links", prev->hash == record.prev_hash()}};
    if (next) {
        evidence::SealedRecord env;
        evidence::Record nr;
        bool ok = env.ParseFromString(next->bytes) && nr.ParseFromString(env.record());
        chain["next"] = {{"seq", next->seq},
                         {"record_hash", evidence::toHex(next->hash)},
                         {"prev_hash", ok ? evidence::toHex(nr.prev_hash()) : ""},
                         {"links", ok && nr.prev_hash() == stored.hash}};
    }
    auto cps = store_->rawQuery("SELECT seq_high, head_hash, bytes, findings, received_ns FROM "
                                "checkpoints WHERE device_id = ? AND seq_high >= ? ORDER BY "
                                "seq_high LIMIT 1",
                                {c->deviceId, static_cast<int64_t>(c->seq)});
    if (!cps.empty()) {
        evidence::CheckpointCheck cc = evidence::checkCheckpoint(cps[0].text(2), ring);
        auto head = store_->record(c->deviceId, static_cast<uint64_t>(cps[0].integer(0)));
        chain["checkpoint"] = {{"seq_high", cps[0].integer(0)},
                               {"head_hash", evidence::toHex(cps[0].text(1))},
                               {"verification", cc.summary()},
                               {"head_matches_stored_record", head && head->hash == cps[0].text(1)},
                               {"received_utc", isoUtc(cps[0].integer(4))}};
        files.push_back({prefix + "checkpoint.bin", cps[0].text(2)});
    }
    std::ostringstream report;
    report << "Verification report for case " << caseId << " (record " << record.record_id()
           << ")\nGenerated " << localDateTime(store_->now()) << " by " << who.name
           << "\n\nRecord SHA-256: " << evidence::toHex(stored.hash)
           << "\nThis record on its own (format, key, signature, blobs, clock): " << alone.summary()
           << "\nChain findings when it was received: "
           << (stored.findings.empty() ? "none" : stored.findings)
           << "\n\nChain context (project verifier over the neighbouring records):\n";
    for (const evidence::RecordCheck &rc : batch.records)
        report << "  " << rc.source << ": " << rc.summary() << "\n";
    report << "  previous record links: "
           << (prev ? (chain["previous"]["links"].get<bool>() ? "yes" : "NO") : "not stored")
           << "\n  next record links back: "
           << (next ? (chain["next"]["links"].get<bool>() ? "yes" : "NO") : "none yet")
           << "\n  covering checkpoint: "
           << (cps.empty() ? std::string("none yet")
                           : "seq_high " + std::to_string(cps[0].integer(0)) + ", " +
                                     chain["checkpoint"]["verification"].get<std::string>() +
                                     ", head matches stored record: " +
                                     (chain["checkpoint"]["head_matches_stored_record"].get<bool>()
                                              ? "yes"
                                              : "NO"))
           << "\n\nTo check independently: stopline-verify --keys keys/ record.slr\n";

    /* The officer's approval, signed by the server. */
    if (!c->approval.empty()) {
        std::string why;
        bool ok = checkApproval(c->approval, c->approvalSignature, serverKey.publicKey(), &why);
        files.push_back({prefix + "approval.json",
                         json{{"statement", c->approval},
                              {"signature", evidence::toHex(c->approvalSignature)},
                              {"key_id", serverKey.keyId()},
                              {"verifies", ok}}
                                 .dump(2)});
        files.push_back({prefix + "server-key.pem", serverKey.publicKey().pem()});
        report << "\nApproval statement signature (server key " << serverKey.keyId()
               << "): " << (ok ? "valid" : "INVALID: " + why) << "\n";
    }
    files.push_back({prefix + "verification.txt", report.str()});
    files.push_back({prefix + "chain.json", chain.dump(2)});

    /* Photos as the device sealed them. */
    int clip = 0;
    for (const evidence::Frame &fr : record.violation().frames()) {
        std::string name = fr.role() == evidence::FRAME_A_SHOT   ? "photo-a.jpg"
                           : fr.role() == evidence::FRAME_B_SHOT ? "photo-b.jpg"
                                                                 : "";
        if (fr.role() == evidence::FRAME_CLIP) {
            char buf[32];
            std::snprintf(buf, sizeof(buf), "clip/frame-%03d.jpg", clip++);
            name = buf;
        }
        if (!name.empty() && !fr.data().empty())
            files.push_back({prefix + "photos/" + name, fr.data()});
    }
    if (record.violation().plate().candidates_size())
        files.push_back({prefix + "photos/plate.jpg",
                         record.violation().plate().candidates(0).crop().data()});

    /* Documents as mailed, and the case file. */
    std::vector<CitationRow> cits;
    store_->transact(false, [&](SqlDb &db) { cits = citationsOf(db, caseId); });
    for (const CitationRow &cr : cits) {
        if (cr.kind == "reimbursement")
            continue;
        std::string fname;
        files.push_back(
                {prefix + "documents/" +
                         (cr.pdfSha256.empty() ? cr.number + "-preview.pdf" : cr.number + ".pdf"),
                 citationPdf(cr.id, &fname)});
    }
    files.push_back({prefix + "case-file.json", caseFile(caseId).dump(2)});

    /* The audit trail of the case, oldest first. */
    std::vector<AuditEntry> entries = store_->audit(100000, 0, "case:" + std::to_string(caseId));
    std::string csv = "seq,at_utc,actor,action,target,detail,ip,hash\n";
    auto q = [](const std::string &s) {
        std::string out = "\"";
        for (char ch : s)
            out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
        return out + "\"";
    };
    for (auto it = entries.rbegin(); it != entries.rend(); ++it)
        csv += std::to_string(it->seq) + "," + isoUtc(it->atNs) + "," + q(it->actor) + "," +
               q(it->action) + "," + q(it->target) + "," + q(it->detail) + "," + q(it->ip) + "," +
               it->hash + "\n";
    AuditVerification av = store_->verifyAudit();
    files.push_back({prefix + "audit.csv", csv});
    files.push_back({prefix + "README.txt",
                     "Court packet of case " + std::to_string(caseId) +
                             ".\n\nrecord.slr        the sealed record exactly as the device "
                             "sent it (protobuf SealedRecord)\nreceipt.bin       the server's "
                             "signed receipt for it\nkeys/             the device's enrolled "
                             "public keys\nverification.txt  what the verifier says about the "
                             "record and its chain\nchain.json        previous/next record "
                             "links and the covering checkpoint\napproval.json     the "
                             "reviewing officer's approval, signed by the server key "
                             "(server-key.pem)\nphotos/           the images inside the "
                             "record\ndocuments/        citations and notices as mailed\n"
                             "audit.csv         every view, decision and action on the case "
                             "(audit log hash chain " +
                             std::string(av.ok ? "intact" : "BROKEN: " + av.problem) + ", " +
                             std::to_string(av.entries) + " entries)\n"});
    std::string zip = writeZip(files, store_->now() / kSecond);
    store_->appendAudit({who.name, "court-packet", "case:" + std::to_string(caseId),
                         std::to_string(files.size()) + " files, sha256 " +
                                 evidence::toHex(evidence::sha256(zip)),
                         who.ip});
    return zip;
}

} /* namespace stopline::backoffice */

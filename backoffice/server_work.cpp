/* HTTP handlers of issue 7 (registry, business rules, documents, payments, contacts,
 * reports, quality, statistics). Each is a thin translation between the request and
 * CaseWork; who may call which is in the route table (server.cpp). */

#include <nlohmann/json.hpp>

#include "backoffice/registry/registry.h"
#include "backoffice/server.h"
#include "backoffice/server_internal.h"
#include "backoffice/workflows/casework.h"

namespace stopline::backoffice {

using nlohmann::json;

namespace {

/* Runs a CaseWork call: its refusals become the status they name, the rest 500. */
template <typename F> HttpResponse run(F &&f)
{
    try {
        return f();
    } catch (const WorkError &e) {
        return error(e.status, e.what());
    } catch (const DbError &e) {
        return error(500, std::string("database: ") + e.what());
    } catch (const nlohmann::json::type_error &e) {
        /* A field of the wrong type met a typed read in the case work: the client's
         * mistake, never the server's. */
        return error(400, std::string("a field of the request has the wrong type (") + e.what() +
                                  ")");
    }
}

json body(const HttpRequest &req)
{
    if (req.body.empty())
        return json::object();
    json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded())
        throw WorkError(400, "the request body is not JSON");
    return j;
}

HttpResponse file(const std::string &type, const std::string &name, std::string bytes,
                  bool attachment)
{
    return HttpResponse{200,
                        type,
                        std::move(bytes),
                        {{"Content-Disposition", std::string(attachment ? "attachment" : "inline") +
                                                         "; filename=\"" + name + "\""}}};
}

} /* namespace */

#define CASE_ID(ctx, id)                                                                           \
    int64_t id;                                                                                    \
    if (!parseId((ctx).params["id"], &id))                                                         \
        return error(400, "case id must be a number");

HttpResponse BackofficeApp::workStep(Context &ctx, WorkStep step, int status, const char *idName)
{
    int64_t id;
    if (!parseId(ctx.params["id"], &id))
        return error(400, std::string(idName) + " must be a number");
    return run([&] {
        return jsonResponse(status,
                            (work_.*step)(id, body(ctx.req), {ctx.who.name, ctx.req.remoteIp}));
    });
}

HttpResponse BackofficeApp::registryLookup(Context &ctx)
{
    return run([&] {
        std::string q = ctx.req.queryParam("q"), plate = ctx.req.queryParam("plate");
        json out = json::array();
        auto add = [&](const VehicleEntry &e) { out.push_back(work::vehicleJson(e)); };
        if (!plate.empty()) {
            std::string state = ctx.req.queryParam("state");
            if (state.empty())
                state = config_.work.plateState;
            if (auto e = registry_.lookup(plate, state))
                add(*e);
        } else if (!q.empty()) {
            for (const VehicleEntry &e : registry_.search(q, 50))
                add(e);
        } else {
            return error(400, "give ?plate=ABC123&state=WA or ?q=owner or plate");
        }
        audit(ctx, "registry-lookup", "registry", plate.empty() ? "q=" + q : "plate=" + plate);
        return jsonResponse(200, json{{"entries", out}, {"registry_size", registry_.count()}});
    });
}

HttpResponse BackofficeApp::setVehicle(Context &ctx)
{
    return workStep(ctx, &CaseWork::setVehicle, 200);
}

HttpResponse BackofficeApp::routeCase(Context &ctx)
{
    CASE_ID(ctx, id)
    return run([&] {
        json b = body(ctx.req);
        return jsonResponse(
                200,
                work_.route(id, b.is_object() ? b.value("facts", json::object()) : json::object(),
                            {ctx.who.name, ctx.req.remoteIp}));
    });
}

HttpResponse BackofficeApp::caseFile(Context &ctx)
{
    CASE_ID(ctx, id)
    return run([&] {
        json f = work_.caseFile(id);
        audit(ctx, "view-file", "case:" + std::to_string(id));
        return jsonResponse(200, f);
    });
}

HttpResponse BackofficeApp::ownerDeclaration(Context &ctx)
{
    return workStep(ctx, &CaseWork::ownerDeclaration, 200);
}

HttpResponse BackofficeApp::rentalAnswer(Context &ctx)
{
    return workStep(ctx, &CaseWork::rentalAnswer, 200);
}

HttpResponse BackofficeApp::rentalLapse(Context &ctx)
{
    CASE_ID(ctx, id)
    return run([&] {
        return jsonResponse(200, work_.rentalLapse(id, {ctx.who.name, ctx.req.remoteIp}));
    });
}

HttpResponse BackofficeApp::department(Context &ctx)
{
    return workStep(ctx, &CaseWork::departmentIdentified, 200);
}

HttpResponse BackofficeApp::referral(Context &ctx)
{
    return workStep(ctx, &CaseWork::recordReferral, 200);
}

HttpResponse BackofficeApp::opsFinding(Context &ctx)
{
    return workStep(ctx, &CaseWork::opsFinding, 200);
}

HttpResponse BackofficeApp::employeeReport(Context &ctx)
{
    return run([&] {
        return jsonResponse(201,
                            work_.employeeReport(body(ctx.req), {ctx.who.name, ctx.req.remoteIp}));
    });
}

HttpResponse BackofficeApp::taskList(Context &ctx)
{
    return run([&] {
        return jsonResponse(
                200, work_.tasks(ctx.req.queryParam("role"), ctx.req.queryParam("all") == "1"));
    });
}

HttpResponse BackofficeApp::taskDone(Context &ctx)
{
    return workStep(ctx, &CaseWork::taskDone, 200, "task id");
}

HttpResponse BackofficeApp::mailQueue(Context &ctx)
{
    return run([&] { return jsonResponse(200, work_.mailQueue()); });
}

HttpResponse BackofficeApp::mailBatch(Context &ctx)
{
    return run([&] {
        std::vector<int64_t> ids;
        std::string list = ctx.req.queryParam("ids");
        for (size_t pos = 0; pos < list.size();) {
            size_t comma = list.find(',', pos);
            std::string part = list.substr(pos, comma == std::string::npos ? comma : comma - pos);
            int64_t id;
            if (!parseId(part, &id))
                return error(400, "'ids' must be numbers separated by commas");
            ids.push_back(id);
            pos = comma == std::string::npos ? list.size() : comma + 1;
        }
        std::string pdf = work_.mailBatchPdf(ids);
        audit(ctx, "print-batch", "mailing", ids.empty() ? "all pending" : "ids " + list);
        return file("application/pdf", "mailing-batch.pdf", std::move(pdf), false);
    });
}

HttpResponse BackofficeApp::markMailed(Context &ctx)
{
    return run([&] {
        return jsonResponse(200, work_.markMailed(body(ctx.req), {ctx.who.name, ctx.req.remoteIp}));
    });
}

HttpResponse BackofficeApp::citationPdf(Context &ctx)
{
    int64_t id;
    if (!parseId(ctx.params["id"], &id))
        return error(400, "document id must be a number");
    return run([&] {
        std::string name;
        std::string pdf = work_.citationPdf(id, &name);
        audit(ctx, "view-document", "document:" + std::to_string(id), name);
        return file("application/pdf", name, std::move(pdf), false);
    });
}

HttpResponse BackofficeApp::payment(Context &ctx)
{
    return workStep(ctx, &CaseWork::recordPayment, 201);
}

HttpResponse BackofficeApp::contact(Context &ctx)
{
    return workStep(ctx, &CaseWork::logContact, 201);
}

HttpResponse BackofficeApp::contactInfo(Context &ctx)
{
    return workStep(ctx, &CaseWork::updateContact, 200);
}

HttpResponse BackofficeApp::overdue(Context &ctx)
{
    return run([&] { return jsonResponse(200, work_.overdue()); });
}

HttpResponse BackofficeApp::summonsCsv(Context &ctx)
{
    return run([&] {
        std::string csv = work_.summonsCsv();
        audit(ctx, "summons-report", "reports", "csv");
        return file("text/csv; charset=utf-8", "summons-service.csv", std::move(csv), true);
    });
}

HttpResponse BackofficeApp::summonsPdf(Context &ctx)
{
    return run([&] {
        std::string pdf = work_.summonsPdf();
        audit(ctx, "summons-report", "reports", "pdf");
        return file("application/pdf", "summons-service.pdf", std::move(pdf), false);
    });
}

HttpResponse BackofficeApp::search(Context &ctx)
{
    return run([&] { return jsonResponse(200, work_.search(ctx.req.queryParam("q"))); });
}

HttpResponse BackofficeApp::courtPacket(Context &ctx)
{
    CASE_ID(ctx, id)
    return run([&] {
        std::string zip = work_.courtPacket(id, *serverKey_, {ctx.who.name, ctx.req.remoteIp});
        return file("application/zip", "case-" + std::to_string(id) + "-court-packet.zip",
                    std::move(zip), true);
    });
}

HttpResponse BackofficeApp::quality(Context &ctx)
{
    return run([&] { return jsonResponse(200, work_.quality()); });
}

HttpResponse BackofficeApp::secondReview(Context &ctx)
{
    return workStep(ctx, &CaseWork::secondReview, 200);
}

HttpResponse BackofficeApp::statistics(Context &ctx)
{
    return run([&] {
        std::string d = ctx.req.queryParam("days");
        int64_t days = 30;
        if (!d.empty() && !parseId(d, &days))
            return error(400, "'days' must be a number");
        return jsonResponse(200,
                            work_.statistics(static_cast<int>(std::min<int64_t>(days, 99999))));
    });
}

} /* namespace stopline::backoffice */

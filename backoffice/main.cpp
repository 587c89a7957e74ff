/* stopline-backoffice: the back-office in one binary. `serve` runs the HTTP(S) server;
 * the other subcommands administer the same store (devices, users, signatures). */

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "backoffice/auth.h"
#include "backoffice/http_server.h"
#include "backoffice/registry/registry.h"
#include "backoffice/server.h"
#include "backoffice/store/store.h"
#include "evidence/crypto.h"
#include "evidence/keys.h"
#include "evidence/verify.h"

using namespace stopline::backoffice;
using namespace stopline::evidence;
namespace fs = std::filesystem;

namespace {

struct StoreLocation
{
    std::string data; /* SQLite data folder */
    std::string db;   /* PostgreSQL URL */
    std::string key;  /* server signing key */

    void add(CLI::App *cmd)
    {
        cmd->add_option("--data", data, "data folder (SQLite store, server key)");
        cmd->add_option("--db", db, "PostgreSQL URL instead of the SQLite store");
    }
    std::unique_ptr<Store> open(size_t pool = 4) const
    {
        if (!db.empty())
            return Store::open(db, pool);
        if (data.empty())
            throw std::runtime_error("give --data DIR (SQLite) or --db postgresql://...");
        if (!fs::exists(fs::path(data) / "stopline.db"))
            throw std::runtime_error("no store in " + data +
                                     ": run 'stopline-backoffice init --data " + data + "' first");
        return Store::openSqliteDir(data, pool);
    }
    std::string keyPath() const
    {
        if (!key.empty())
            return key;
        if (data.empty())
            throw std::runtime_error("give --key FILE (the server's signing key)");
        return (fs::path(data) / "server.key").string();
    }
};

std::string readFile(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::runtime_error("cannot read " + path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string imageType(const std::string &bytes, const std::string &path)
{
    if (bytes.rfind("\x89PNG", 0) == 0)
        return "image/png";
    if (bytes.rfind("\xff\xd8\xff", 0) == 0)
        return "image/jpeg";
    if (bytes.find("<svg") != std::string::npos)
        return "image/svg+xml";
    throw std::runtime_error(path + " is not a PNG, JPEG or SVG image");
}

/* A signature drawn as SVG for the demo account (no image library needed). */
std::string demoSignatureSvg(const std::string &name)
{
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"360\" height=\"90\" viewBox=\"0 0 "
           "360 90\">"
           "<rect width=\"360\" height=\"90\" fill=\"#fff\"/>"
           "<path d=\"M10 60 C 40 10, 60 90, 90 40 S 130 20, 150 55 S 190 70, 210 35 S 260 30, 280 "
           "60 S 330 50, 350 30\" fill=\"none\" stroke=\"#123\" stroke-width=\"3\"/>"
           "<text x=\"12\" y=\"84\" font-family=\"serif\" font-size=\"13\" fill=\"#345\">" +
           name + "</text></svg>";
}

std::string readPassword(const std::string &given)
{
    if (!given.empty())
        return given;
    if (const char *env = std::getenv("STOPLINE_PASSWORD"))
        return env;
    std::string line;
    std::cerr << "password: ";
    std::getline(std::cin, line);
    if (line.empty())
        throw std::runtime_error("empty password");
    return line;
}

int serve(const StoreLocation &loc, HttpServerOptions options, AppConfig config)
{
    auto key = SigningKey::loadFile(loc.keyPath());
    auto store = loc.open(options.threads + 1);
    BackofficeApp app(store.get(), key.get(), config);
    /* Block the stop signals before the pool starts so only sigwait() sees them. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    HttpServer server(options, [&app](const HttpRequest &r) { return app.handle(r); });
    server.start();
    auto [plainHost, plainPort] = options.listen.empty() ? std::pair<std::string, uint16_t>{}
                                                         : splitHostPort(options.listen);
    auto [tlsHost, tlsPort] = options.listenTls.empty() ? std::pair<std::string, uint16_t>{}
                                                        : splitHostPort(options.listenTls);
    std::cout << "stopline-backoffice (server id " << config.serverId << ", key " << key->keyId()
              << ") on "
              << (store->dialect() == Dialect::Sqlite ? "SQLite " + loc.data
                                                      : std::string("PostgreSQL"))
              << "\n";
    if (server.port())
        std::cout << "serving http://" << plainHost << ":" << server.port() << "/\n";
    if (server.tlsPort())
        std::cout << "serving https://" << tlsHost << ":" << server.tlsPort() << "/\n";
    std::cout.flush();
    int sig = 0;
    sigwait(&signals, &sig);
    std::cout << "stopline-backoffice: stopping (signal " << sig << ")\n";
    server.stop();
    return 0;
}

} /* namespace */

int main(int argc, char **argv)
{
    CLI::App app{"stopline back-office: evidence ingest, review queue and reviewer web UI"};
    app.require_subcommand(1);
    StoreLocation loc;

    auto *init = app.add_subcommand("init", "create the store and the server's signing key");
    loc.add(init);
    std::string serverId = "stopline-backoffice";
    init->add_option("--server-id", serverId, "name put in receipts");

    auto *serveCmd = app.add_subcommand("serve", "run the HTTP/HTTPS server");
    loc.add(serveCmd);
    serveCmd->add_option("--key", loc.key, "server signing key (default DATA/server.key)");
    HttpServerOptions options;
    AppConfig config;
    double leaseMinutes = 15;
    size_t maxBodyMiB = 16;
    serveCmd->add_option("--listen", options.listen,
                         "HOST:PORT for plain HTTP (e.g. 127.0.0.1:8080)");
    serveCmd->add_option("--listen-tls", options.listenTls, "HOST:PORT for HTTPS");
    serveCmd->add_option("--tls-cert", options.certFile, "PEM certificate chain for HTTPS");
    serveCmd->add_option("--tls-key", options.keyFile, "PEM private key for HTTPS");
    serveCmd->add_option("--client-ca", options.clientCaFile,
                         "CA of device client certificates (CN = device id)");
    serveCmd->add_option("--threads", options.threads, "I/O threads")->check(CLI::Range(1, 64));
    serveCmd->add_option("--max-body-mib", maxBodyMiB, "largest request body")
            ->check(CLI::Range(1, 1024));
    serveCmd->add_option("--lease-minutes", leaseMinutes, "how long a claimed case stays reserved")
            ->check(CLI::Range(0.01, 1440.0));
    serveCmd->add_option("--server-id", config.serverId, "name put in receipts");
    /* Issue 7: business rules, documents and quality control. */
    double minReviewSeconds = config.work.minReviewMs / 1000.0;
    std::string fineRed = "136.00", fineSchool = "234.00";
    serveCmd->add_option("--plate-state", config.work.plateState,
                         "state assumed for plate reads (two letters)");
    serveCmd->add_option("--min-review-seconds", minReviewSeconds,
                         "decisions faster than this are flagged and queued for a second review")
            ->check(CLI::Range(0.0, 3600.0));
    serveCmd->add_option("--second-review-percent", config.work.secondReviewPercent,
                         "share of the other decisions queued for a second review")
            ->check(CLI::Range(0.0, 100.0));
    serveCmd->add_option("--fine-red-light", fineRed, "amount of a red-light citation (dollars)");
    serveCmd->add_option("--fine-school-zone", fineSchool,
                         "amount of a school-zone speed citation (dollars)");
    serveCmd->add_option("--payment-days", config.work.rules.paymentDays,
                         "days from mailing to pay or request a hearing")
            ->check(CLI::Range(1, 365));
    serveCmd->add_option("--portal-url", config.work.portalUrl,
                         "where recipients view the clip, pay or request a hearing");
    serveCmd->add_option("--agency-name", config.work.agencyName, "printed on documents");
    serveCmd->add_option("--citation-prefix", config.work.citationPrefix,
                         "prefix of citation numbers");

    auto *importRegistry = app.add_subcommand(
            "import-registry", "import vehicle registrations (owner lookup) from a CSV export");
    loc.add(importRegistry);
    std::string csvPath;
    bool skipBad = false;
    importRegistry
            ->add_option("--csv", csvPath,
                         "CSV with a header: plate, state, owner_name, owner_address, make, "
                         "model, year, colour, ownership [, owner_phone, agency, "
                         "agency_contact, department]")
            ->required();
    importRegistry->add_flag("--skip-bad", skipBad,
                             "import the good rows even when some rows are bad");

    auto *enroll =
            app.add_subcommand("enroll-device", "enrol a device's public key and issue a token");
    loc.add(enroll);
    std::string pubFile, deviceId, site, description;
    bool noToken = false;
    enroll->add_option("--pub", pubFile, "the device's .pub file (stopline-keygen)")->required();
    enroll->add_option("--device", deviceId, "device id (default: the file's 'device' header)");
    enroll->add_option("--site", site, "site name shown in the queue")->required();
    enroll->add_option("--description", description, "where it stands");
    enroll->add_flag("--no-token", noToken, "no upload token (client certificates only)");

    auto *addUser = app.add_subcommand("add-user", "add a user with a role");
    loc.add(addUser);
    std::string username, displayName, role, password;
    addUser->add_option("--username", username)->required();
    addUser->add_option("--name", displayName, "display name (default: the user name)");
    addUser->add_option("--role", role, "reviewer, supervisor, technician or admin")->required();
    addUser->add_option("--password", password, "(else $STOPLINE_PASSWORD, else asked)");

    auto *authorize = app.add_subcommand("authorize", "mark a reviewer authorized to decide");
    loc.add(authorize);
    bool revoke = false;
    authorize->add_option("--username", username)->required();
    authorize->add_flag("--revoke", revoke, "withdraw the authorization");

    auto *setSig = app.add_subcommand("set-signature", "store a reviewer's digitized signature");
    loc.add(setSig);
    std::string imagePath;
    setSig->add_option("--username", username)->required();
    setSig->add_option("--image", imagePath, "PNG, JPEG or SVG")->required();

    auto *demo = app.add_subcommand(
            "demo-users", "create demo accounts: reviewer 'demo' (authorized, signature on "
                          "file) and supervisor 'supervisor', password 'demo-password'");
    loc.add(demo);

    auto *verifyAudit = app.add_subcommand("verify-audit", "check the audit log's hash chain");
    loc.add(verifyAudit);

    auto *verifyStore = app.add_subcommand(
            "verify-store",
            "re-verify every stored record and checkpoint, chain by chain, as a court would");
    loc.add(verifyStore);

    CLI11_PARSE(app, argc, argv);

    try {
        if (*init) {
            if (loc.data.empty())
                throw std::runtime_error("init needs --data DIR");
            auto store = Store::openSqliteDir(loc.data);
            std::string keyPath = (fs::path(loc.data) / "server.key").string();
            if (!fs::exists(keyPath)) {
                auto key = SigningKey::generate();
                key->writeFiles(keyPath, (fs::path(loc.data) / "server.pub").string(),
                                {{"device", serverId}});
            }
            auto key = SigningKey::loadFile(keyPath);
            std::cout << "store " << loc.data << "/stopline.db (schema " << store->schemaVersion()
                      << ")\nserver key " << keyPath << " (key id " << key->keyId() << ")\n";
            return 0;
        }
        if (*serveCmd) {
            options.bodyLimit = maxBodyMiB * 1024 * 1024;
            config.leaseNs = static_cast<int64_t>(leaseMinutes * 60e9);
            config.work.minReviewMs = static_cast<int64_t>(minReviewSeconds * 1000);
            if (!validState(config.work.plateState))
                throw std::runtime_error("--plate-state '" + config.work.plateState +
                                         "' is not a two-letter code");
            for (auto [text, cents] : {std::pair{&fineRed, &config.work.redLightFineCents},
                                       std::pair{&fineSchool, &config.work.schoolZoneFineCents}}) {
                double dollars = 0;
                size_t used = 0;
                try {
                    dollars = std::stod(*text, &used);
                } catch (...) {
                }
                if (used != text->size() || dollars <= 0 || dollars > 100000)
                    throw std::runtime_error("fine '" + *text + "' is not an amount of dollars");
                *cents = static_cast<int64_t>(dollars * 100 + 0.5);
            }
            return serve(loc, options, config);
        }
        auto store = loc.open(1);
        if (*enroll) {
            auto key = PublicKey::loadFile(pubFile);
            if (deviceId.empty()) {
                auto it = key->attributes.find("device");
                if (it == key->attributes.end())
                    throw std::runtime_error(pubFile + " names no device: give --device");
                deviceId = it->second;
            }
            KeyRing ring; /* parses not-before/not-after/revoked like the verifier */
            ring.enrollWithAttributes(std::shared_ptr<const PublicKey>(std::move(key)), deviceId);
            auto again = PublicKey::loadFile(pubFile);
            const KeyRing::Entry *e = ring.find(again->keyId());
            DeviceKey dk{again->keyId(), deviceId,     again->raw(), e->notBeforeNs,
                         e->notAfterNs,  e->revokedNs, "enrolled"};
            std::string token = noToken ? "" : randomToken();
            store->enrollDevice(deviceId, site, description, dk,
                                token.empty() ? "" : hexSha256(token));
            store->appendAudit({"admin-cli", "enroll-device", "device:" + deviceId,
                                "key " + dk.keyId + " site " + site, "local"});
            std::cout << "enrolled device " << deviceId << " key " << dk.keyId << " site " << site
                      << "\n";
            if (!token.empty())
                std::cout << "token " << token
                          << "\n(send as 'Authorization: Bearer TOKEN'; shown once)\n";
            return 0;
        }
        if (*addUser) {
            Role r;
            if (!parseRole(role, &r))
                throw std::runtime_error("role '" + role +
                                         "' is not reviewer, supervisor, technician or admin");
            int64_t id = store->addUser(username, displayName.empty() ? username : displayName,
                                        role, hashPassword(readPassword(password)));
            store->appendAudit({"admin-cli", "add-user", "user:" + username, role, "local"});
            std::cout << "user " << username << " (" << role << ") id " << id << "\n";
            return 0;
        }
        if (*authorize) {
            store->setAuthorized(username, !revoke);
            store->appendAudit({"admin-cli", revoke ? "deauthorize" : "authorize",
                                "user:" + username, "", "local"});
            std::cout << username
                      << (revoke ? " no longer authorized\n" : " authorized to review\n");
            return 0;
        }
        if (*setSig) {
            std::string bytes = readFile(imagePath);
            MediaBlob m{sha256(bytes), imageType(bytes, imagePath), bytes};
            store->setSignature(username, m);
            store->appendAudit({"admin-cli", "set-signature", "user:" + username,
                                "sha256 " + toHex(m.sha256), "local"});
            std::cout << "signature of " << username << " on file (sha256 " << toHex(m.sha256)
                      << ")\n";
            return 0;
        }
        if (*demo) {
            struct
            {
                const char *user, *name, *role;
            } people[] = {{"demo", "Officer Demo", "reviewer"},
                          {"supervisor", "Sgt. Supervisor", "supervisor"},
                          {"tech", "Tech Nician", "technician"}};
            for (auto &p : people) {
                if (!store->user(p.user))
                    store->addUser(p.user, p.name, p.role, hashPassword("demo-password"));
                if (std::string(p.role) != "technician") {
                    store->setAuthorized(p.user, true);
                    std::string svg = demoSignatureSvg(p.name);
                    store->setSignature(p.user, {sha256(svg), "image/svg+xml", svg});
                }
                store->appendAudit(
                        {"admin-cli", "demo-user", std::string("user:") + p.user, p.role, "local"});
                std::cout << "user " << p.user << " (" << p.role << ") password demo-password\n";
            }
            return 0;
        }
        if (*importRegistry) {
            std::string text = readFile(csvPath);
            RegistryImport parsed = parseRegistryCsv(text, fs::path(csvPath).filename().string());
            size_t shown = 0;
            for (const CsvProblem &p : parsed.problems)
                if (shown++ < 50)
                    std::cerr << csvPath << ":" << p.line << ": " << p.message << "\n";
            if (parsed.problems.size() > 50)
                std::cerr << "... and " << parsed.problems.size() - 50 << " more problems\n";
            if (!parsed.problems.empty() && (!skipBad || parsed.entries.empty())) {
                std::cerr << "stopline-backoffice: nothing imported (" << parsed.problems.size()
                          << " bad rows; fix them or give --skip-bad)\n";
                return 1;
            }
            StoreRegistry registry(store.get());
            size_t n = registry.import(parsed.entries);
            store->appendAudit({"admin-cli", "import-registry", "registry",
                                std::to_string(n) + " entries from " + csvPath +
                                        (parsed.problems.empty()
                                                 ? ""
                                                 : ", " + std::to_string(parsed.problems.size()) +
                                                           " bad rows skipped"),
                                "local"});
            std::cout << "imported " << n << " registrations from " << csvPath << " (registry now "
                      << registry.count() << ")"
                      << (parsed.problems.empty()
                                  ? ""
                                  : "; skipped " + std::to_string(parsed.problems.size()) +
                                            " bad rows")
                      << "\n";
            return 0;
        }
        if (*verifyStore) {
            /* The exact stored bytes through the project's verifier (items 1-8), with the
             * enrolled keys; one device at a time, in pages, so memory stays flat. */
            bool allOk = true;
            for (const DeviceInfo &d : store->devices()) {
                KeyRing ring;
                for (const DeviceKey &k : store->deviceKeys(d.id))
                    if (k.source == "enrolled")
                        ring.enroll(
                                {std::shared_ptr<const PublicKey>(PublicKey::fromRaw(k.publicKey)),
                                 d.id, k.notBeforeNs, k.notAfterNs, k.revokedNs});
                std::vector<BatchInput> inputs;
                uint64_t from = 0;
                for (;;) {
                    auto page = store->records(d.id, from, 1000);
                    for (const StoredRecord &r : page)
                        inputs.push_back({d.id + "#" + std::to_string(r.seq), r.bytes, false});
                    if (page.size() < 1000)
                        break;
                    from = page.back().seq + 1;
                }
                for (const Row &cp :
                     store->rawQuery("SELECT bytes FROM checkpoints WHERE device_id = ? "
                                     "ORDER BY seq_high DESC LIMIT 1",
                                     {d.id}))
                    inputs.push_back({d.id + " checkpoint", cp.text(0), true});
                BatchResult res = verifyBatch(inputs, ring);
                size_t bad = 0;
                for (const RecordCheck &rc : res.records)
                    if (!rc.ok()) {
                        ++bad;
                        std::cout << "  " << rc.source << ": " << rc.summary() << "\n";
                    }
                for (const CheckpointCheck &cc : res.checkpoints)
                    if (!cc.ok()) {
                        ++bad;
                        std::cout << "  " << cc.source << ": " << cc.summary() << "\n";
                    }
                std::cout << d.id << ": " << res.records.size() << " records, "
                          << (bad ? std::to_string(bad) + " with findings"
                                  : std::string("all verify"))
                          << "\n";
                allOk = allOk && bad == 0;
            }
            return allOk ? 0 : 1;
        }
        if (*verifyAudit) {
            AuditVerification v = store->verifyAudit();
            std::cout << (v.ok ? "audit log ok: " : "audit log BROKEN: ") << v.entries << " entries"
                      << (v.ok ? "" : "; " + v.problem) << "\n";
            return v.ok ? 0 : 1;
        }
    } catch (const std::exception &e) {
        std::cerr << "stopline-backoffice: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

/* The real stopline-backoffice binary over real HTTP and HTTPS (mutual TLS): the
 * ingest answers of issue 5, and kill -9 of the server while records are being
 * uploaded: after a restart every acknowledged record is there and verifies. */

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <poll.h>
#include <regex>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "backoffice/client.h"
#include "evidence/crypto.h"
#include "evidence/seal.h"
#include "evidence/verify.h"
#include "sample_chain.h"

#include <CppUTest/TestHarness.h>

using namespace stopline::backoffice;
using namespace stopline::evidence;
namespace fs = std::filesystem;
using nlohmann::json;

#ifndef BACKOFFICE_BIN
#error "BACKOFFICE_BIN must name the stopline-backoffice binary"
#endif

namespace {

/* Runs a command to completion; returns its stdout, fails the test on non-zero exit. */
std::string run(const std::string &cmd)
{
    std::string out;
    FILE *p = popen((cmd + " 2>&1").c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        out.append(buf, n);
    int rc = pclose(p);
    if (rc != 0)
        FAIL(("command failed (" + std::to_string(rc) + "): " + cmd + "\n" + out).c_str());
    return out;
}

struct ServerProcess
{
    pid_t pid = -1;
    uint16_t port = 0, tlsPort = 0;
    std::string output;

    void start(const std::vector<std::string> &args)
    {
        port = tlsPort = 0;
        output.clear();
        int fds[2];
        CHECK(pipe(fds) == 0);
        pid = fork();
        if (pid == 0) {
            dup2(fds[1], 1);
            close(fds[0]);
            std::vector<char *> argv;
            for (const std::string &a : args)
                argv.push_back(const_cast<char *>(a.c_str()));
            argv.push_back(nullptr);
            execv(argv[0], argv.data());
            _exit(127);
        }
        close(fds[1]);
        /* Wait (generously: a loaded 2-core machine) for the lines naming the ports. */
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        std::regex http("serving http://[^:]+:([0-9]+)/"), https("serving https://[^:]+:([0-9]+)/");
        while (std::chrono::steady_clock::now() < deadline && (!port || !tlsPort)) {
            pollfd p{fds[0], POLLIN, 0};
            if (poll(&p, 1, 500) <= 0)
                continue;
            char buf[1024];
            ssize_t n = read(fds[0], buf, sizeof(buf));
            if (n <= 0)
                break;
            output.append(buf, n);
            std::smatch m;
            if (std::regex_search(output, m, http))
                port = static_cast<uint16_t>(std::stoi(m[1]));
            if (std::regex_search(output, m, https))
                tlsPort = static_cast<uint16_t>(std::stoi(m[1]));
        }
        close(fds[0]);
        if (!port || !tlsPort)
            FAIL(("server did not start: " + output).c_str());
    }

    void kill9()
    {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
            pid = -1;
        }
    }

    void stop()
    {
        if (pid > 0) {
            ::kill(pid, SIGTERM);
            int status = 0;
            waitpid(pid, &status, 0);
            pid = -1;
        }
    }

    ~ServerProcess() { kill9(); }
};

struct Bench
{
    fs::path dir;
    std::string deviceId = "hil-dev-1";
    std::unique_ptr<SigningKey> deviceKey = SigningKey::generate();
    std::unique_ptr<PublicKey> serverKey;
    std::string token;
    ClientTls tls, strangerTls;
    ServerProcess server;

    Bench()
    {
        dir = fs::temp_directory_path() / ("stopline-hil-bo-" + toHex(randomBytes(6)));
        fs::create_directories(dir);
        std::string bin = BACKOFFICE_BIN;
        std::string data = (dir / "data").string();
        run(bin + " init --data " + data);
        serverKey = PublicKey::loadFile((dir / "data" / "server.pub").string());
        deviceKey->writeFiles((dir / "dev.key").string(), (dir / "dev.pub").string(),
                              {{"device", deviceId}});
        std::string out = run(bin + " enroll-device --data " + data + " --pub " +
                              (dir / "dev.pub").string() + " --site 'HIL Site'");
        std::smatch m;
        CHECK(std::regex_search(out, m, std::regex("token ([0-9a-f]{64})")));
        token = m[1];
        run("STOPLINE_PASSWORD=tech-pw " + bin + " add-user --data " + data +
            " --username tech --role technician");
        makeCertificates();
    }

    ~Bench()
    {
        server.kill9();
        std::error_code ec;
        fs::remove_all(dir, ec);
    }

    /* A CA for the server and the devices, the server certificate, a client
     * certificate for the enrolled device, and one from a CA nobody trusts. */
    void makeCertificates()
    {
        std::string d = dir.string();
        std::string ossl = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                           "-nodes -days 2 ";
        run(ossl + "-keyout " + d + "/ca.key -out " + d + "/ca.crt -subj /CN=stopline-test-ca");
        run(ossl + "-keyout " + d + "/rogue.key -out " + d + "/rogue.crt -subj /CN=rogue-ca");
        auto leaf = [&](const std::string &name, const std::string &cn, const std::string &ca) {
            run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + d +
                "/" + name + ".key -out " + d + "/" + name + ".csr -subj /CN=" + cn);
            std::ofstream(d + "/" + name + ".ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
            run("openssl x509 -req -in " + d + "/" + name + ".csr -CA " + d + "/" + ca +
                ".crt -CAkey " + d + "/" + ca + ".key -CAcreateserial -days 2 -extfile " + d + "/" +
                name + ".ext -out " + d + "/" + name + ".crt");
        };
        leaf("server", "127.0.0.1", "ca");
        leaf("device", deviceId, "ca");
        leaf("stranger", deviceId, "rogue");
        leaf("unenrolled", "not-enrolled-dev", "ca");
        tls = {d + "/ca.crt", d + "/device.crt", d + "/device.key"};
        strangerTls = {d + "/ca.crt", d + "/stranger.crt", d + "/stranger.key"};
    }

    void startServer()
    {
        std::string d = dir.string();
        server.start({BACKOFFICE_BIN, "serve", "--data", d + "/data", "--listen", "127.0.0.1:0",
                      "--listen-tls", "127.0.0.1:0", "--tls-cert", d + "/server.crt", "--tls-key",
                      d + "/server.key", "--client-ca", d + "/ca.crt", "--max-body-mib", "1",
                      "--threads", "2"});
    }

    std::vector<std::pair<std::string, std::string>> auth() const
    {
        return {{"Authorization", "Bearer " + token}, {"Content-Type", "application/x-protobuf"}};
    }
};

bool receiptOk(const Bench &b, const std::string &body, const Sealed &s, std::string *why)
{
    return checkReceipt(body, *b.serverKey, b.deviceId, s.seq, s.recordHash, why);
}

} /* namespace */

TEST_GROUP(BackofficeIngestHil){};

TEST(BackofficeIngestHil, AnswersOverHttpAndMutualTls)
{
    Bench b;
    b.startServer();
    auto chain = stopline::testkit::makeSampleChain(*b.deviceKey, b.deviceId, 4,
                                                    1'700'000'000'000'000'000);
    HttpClient http("127.0.0.1", b.server.port);
    HttpClient mtls("127.0.0.1", b.server.tlsPort, &b.tls);

    /* First upload: 201 and a receipt signed by the server for exactly this record. */
    ClientResponse first =
            http.request("POST", "/api/v1/records", chain.records[0].bytes, b.auth());
    LONGS_EQUAL_TEXT(201, first.status, first.body.c_str());
    std::string why;
    CHECK_TEXT(receiptOk(b, first.body, chain.records[0], &why), why.c_str());
    /* The same again (over mutual TLS this time): the same receipt, byte for byte. */
    ClientResponse again = mtls.request("POST", "/api/v1/records", chain.records[0].bytes,
                                        {{"Content-Type", "application/x-protobuf"}});
    LONGS_EQUAL_TEXT(200, again.status, again.body.c_str());
    CHECK(again.body == first.body);
    ClientResponse viaCert = mtls.request("POST", "/api/v1/records", chain.records[1].bytes, {});
    LONGS_EQUAL_TEXT(201, viaCert.status, viaCert.body.c_str());
    CHECK(receiptOk(b, viaCert.body, chain.records[1], &why));
    CHECK(!viaCert.header("x-stopline-case").empty());

    /* Tampered: one byte of the record changed: 4xx naming the status code. */
    std::string tampered = chain.records[2].bytes;
    tampered[tampered.size() / 2] ^= 0x20;
    ClientResponse bad = http.request("POST", "/api/v1/records", tampered, b.auth());
    CHECK_TEXT(bad.status >= 400 && bad.status < 500, bad.body.c_str());
    CHECK_TEXT(bad.body.find("signature.invalid") != std::string::npos ||
                       bad.body.find("blob.hash_mismatch") != std::string::npos,
               bad.body.c_str());

    /* Unknown device: no credentials, an unknown token, a certificate of an
     * unenrolled device, a certificate from a CA nobody trusts. */
    LONGS_EQUAL(401, http.request("POST", "/api/v1/records", chain.records[2].bytes, {}).status);
    LONGS_EQUAL(401, http.request("POST", "/api/v1/records", chain.records[2].bytes,
                                  {{"Authorization", "Bearer " + std::string(64, 'a')}})
                             .status);
    ClientTls unenrolled{b.tls.caFile, b.dir.string() + "/unenrolled.crt",
                         b.dir.string() + "/unenrolled.key"};
    HttpClient other("127.0.0.1", b.server.tlsPort, &unenrolled);
    LONGS_EQUAL(403, other.request("POST", "/api/v1/records", chain.records[2].bytes, {}).status);
    HttpClient stranger("127.0.0.1", b.server.tlsPort, &b.strangerTls);
    CHECK_THROWS(std::runtime_error,
                 stranger.request("POST", "/api/v1/records", chain.records[2].bytes, {}));

    /* Oversized (limit 1 MiB) and garbage. */
    ClientResponse big =
            http.request("POST", "/api/v1/records", std::string(2 << 20, 'x'), b.auth());
    LONGS_EQUAL_TEXT(413, big.status, big.body.c_str());
    ClientResponse garbage =
            http.request("POST", "/api/v1/records", "GET / HTTP/1.0 garbage", b.auth());
    LONGS_EQUAL_TEXT(400, garbage.status, garbage.body.c_str());
    /* Nothing refused above disturbed the server or what it had accepted. */
    LONGS_EQUAL(200, http.request("GET", "/api/v1/health").status);
    LONGS_EQUAL(200,
                http.request("POST", "/api/v1/records", chain.records[1].bytes, b.auth()).status);

    /* Heartbeats and checkpoints over the same authentication. */
    ClientResponse hb =
            mtls.request("POST", "/api/v1/heartbeats",
                         R"({"camera": {"ok": true, "fps": 30}, "spool": {"depth": 2}})",
                         {{"Content-Type", "application/json"}});
    LONGS_EQUAL_TEXT(201, hb.status, hb.body.c_str());
    ClientResponse cp = http.request("POST", "/api/v1/checkpoints", chain.checkpoint, b.auth());
    LONGS_EQUAL_TEXT(201, cp.status, cp.body.c_str());
    CHECK_TEXT(cp.body.find("chain.truncated") != std::string::npos, cp.body.c_str());
    b.server.stop();
}

TEST(BackofficeIngestHil, AcknowledgedRecordsSurviveKill9)
{
    Bench b;
    const unsigned total = 400;
    auto chain = stopline::testkit::makeSampleChain(*b.deviceKey, b.deviceId, total,
                                                    1'700'000'000'000'000'000);
    std::vector<std::string> receipts(total);
    size_t next = 0;
    for (int round = 0; round < 3 && next < total; ++round) {
        b.startServer();
        std::atomic<size_t> acked{next};
        std::atomic<bool> stop{false};
        std::string uploadError;
        uint16_t port = b.server.port;
        /* Upload in order (as the daemon does) until the server dies under us. */
        std::thread uploader([&] {
            try {
                HttpClient c("127.0.0.1", port);
                for (size_t i = acked; i < total && !stop; ++i) {
                    ClientResponse r =
                            c.request("POST", "/api/v1/records", chain.records[i].bytes, b.auth());
                    if (r.status != 201 && r.status != 200) {
                        uploadError = std::to_string(r.status) + " " + r.body;
                        break;
                    }
                    receipts[i] = r.body;
                    acked = i + 1;
                }
            } catch (const std::exception &e) {
                /* the server was killed mid-request: that record is not acknowledged */
                uploadError = e.what();
            }
        });
        size_t target = std::min<size_t>(total, next + 60);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
        while (acked < target && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        b.server.kill9(); /* mid-stream: the uploader is usually inside a request */
        stop = true;
        uploader.join();
        CHECK_TEXT(acked >= target, ("uploads did not progress: " + uploadError).c_str());
        next = acked;
    }

    /* Restart: every acknowledged record is there, byte-exact, verifies, and the
     * same upload again returns the same receipt. */
    b.startServer();
    HttpClient c("127.0.0.1", b.server.port);
    ClientResponse login =
            c.request("POST", "/api/v1/login", R"({"username": "tech", "password": "tech-pw"})",
                      {{"Content-Type", "application/json"}});
    LONGS_EQUAL_TEXT(200, login.status, login.body.c_str());
    std::string cookie = login.header("set-cookie");
    cookie = cookie.substr(0, cookie.find(';'));
    KeyRing ring;
    ring.enroll(
            {std::shared_ptr<const PublicKey>(PublicKey::fromRaw(b.deviceKey->publicKey().raw())),
             b.deviceId});
    std::vector<BatchInput> batch;
    for (size_t i = 0; i < next; ++i) {
        const Sealed &s = chain.records[i];
        ClientResponse got =
                c.request("GET", "/api/v1/records/" + b.deviceId + "/" + std::to_string(s.seq), "",
                          {{"Cookie", cookie}});
        LONGS_EQUAL_TEXT(200, got.status, ("seq " + std::to_string(s.seq) + " lost").c_str());
        CHECK(got.body == s.bytes);
        RecordCheck check = checkRecord(got.body, ring);
        CHECK_TEXT(check.ok(), check.summary().c_str());
        batch.push_back({std::to_string(s.seq), got.body, false});
        std::string why;
        CHECK_TEXT(checkReceipt(receipts[i], *b.serverKey, b.deviceId, s.seq, s.recordHash, &why),
                   why.c_str());
        if (i % 25 == 0) {
            ClientResponse again = c.request("POST", "/api/v1/records", s.bytes, b.auth());
            LONGS_EQUAL(200, again.status);
            CHECK(again.body == receipts[i]);
        }
    }
    /* The stored chain as a whole: no gap, no fork among what was acknowledged. */
    BatchResult all = verifyBatch(batch, ring);
    CHECK(all.ok());
    CHECK(next >= 180);
    b.server.stop();
    /* And the store as a whole, through the admin command a court packet would use. */
    std::string report = ::run(std::string(BACKOFFICE_BIN) + " verify-store --data " +
                               (b.dir / "data").string());
    CHECK_TEXT(report.find(b.deviceId + ": ") != std::string::npos &&
                       report.find("all verify") != std::string::npos,
               report.c_str());
}

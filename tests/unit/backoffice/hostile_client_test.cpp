/* Issue 16, hostile clients: the real stopline-backoffice binary on loopback, sent raw
 * hostile requests over a socket. Each must get a clean 4xx, the server must answer a
 * health check within 200 ms after each attack, and the store must not grow with what
 * a stranger sends. STOPLINE_TEST_BACKOFFICE names another binary (e.g. an older
 * build, to see these tests fail on it). */

#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <netinet/in.h>
#include <poll.h>
#include <regex>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "backoffice/client.h"
#include "evidence/crypto.h"
#include "evidence/keys.h"
#include "sample_chain.h"

#include <CppUTest/TestHarness.h>

using namespace stopline::backoffice;
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

#ifndef BACKOFFICE_BIN
#error "BACKOFFICE_BIN must name the stopline-backoffice binary"
#endif

namespace {

std::string backofficeBinary()
{
    const char *other = std::getenv("STOPLINE_TEST_BACKOFFICE");
    return other && *other ? other : BACKOFFICE_BIN;
}

/* Runs a command to completion; fails the test on a non-zero exit. */
void run(const std::string &cmd)
{
    std::string out;
    FILE *p = popen((cmd + " 2>&1").c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        out.append(buf, n);
    if (int rc = pclose(p); rc != 0)
        FAIL(("command failed (" + std::to_string(rc) + "): " + cmd + "\n" + out).c_str());
}

struct RawReply
{
    int status = 0; /* 0: no answer (connection refused, reset or timed out) */
    std::string head, body;
};

/* One request on its own connection (the request should say Connection: close): writes
 * what the server is willing to read, then reads the answer until EOF or the deadline. */
RawReply roundTrip(uint16_t port, const std::string &request,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10),
                  const char *fromAddress = nullptr)
{
    RawReply reply;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    /* Linux routes all of 127.0.0.0/8 to lo, so one host can be several clients. */
    if (fromAddress) {
        sockaddr_in from{};
        from.sin_family = AF_INET;
        inet_pton(AF_INET, fromAddress, &from.sin_addr);
        if (bind(fd, reinterpret_cast<sockaddr *>(&from), sizeof(from)) != 0) {
            close(fd);
            return reply;
        }
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0) {
        close(fd);
        return reply;
    }
    auto deadline = Clock::now() + timeout;
    auto msLeft = [&] {
        return static_cast<int>(std::max<int64_t>(
                0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())
                           .count()));
    };
    size_t sent = 0;
    std::string in;
    bool eof = false;
    while (!eof && msLeft() > 0) {
        pollfd p{fd, static_cast<short>(POLLIN | (sent < request.size() ? POLLOUT : 0)), 0};
        if (poll(&p, 1, msLeft()) <= 0)
            break;
        if (p.revents & POLLIN) {
            char buf[65536];
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            if (n <= 0)
                eof = true;
            else
                in.append(buf, static_cast<size_t>(n));
        } else if (p.revents & POLLOUT) {
            ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
            if (n <= 0)
                sent = request.size(); /* the server stopped reading: wait for its answer */
            else
                sent += static_cast<size_t>(n);
        } else {
            eof = true; /* POLLHUP / POLLERR */
        }
    }
    close(fd);
    size_t end = in.find("\r\n\r\n");
    if (in.rfind("HTTP/1.", 0) != 0 || end == std::string::npos)
        return reply;
    reply.status = std::atoi(in.c_str() + 9);
    reply.head = in.substr(0, end);
    reply.body = in.substr(end + 4);
    return reply;
}

std::string post(const std::string &path, const std::string &body,
                 const std::string &extraHeaders = {})
{
    return "POST " + path +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
           "Content-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n" + extraHeaders + "\r\n" + body;
}

std::string get(const std::string &target, const std::string &extraHeaders = {},
                const std::string &method = "GET")
{
    return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
           extraHeaders + "\r\n";
}

uint64_t folderBytes(const fs::path &dir)
{
    uint64_t total = 0;
    for (const auto &e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file())
            total += e.file_size();
    return total;
}

/* A fresh data folder with the demo reviewer, supervisor and technician and an admin,
 * and a server on loopback (plain HTTP and TLS with a self-signed certificate). */
struct HostileBench
{
    fs::path dir;
    pid_t pid = -1;
    uint16_t port = 0, tlsPort = 0;
    std::chrono::milliseconds worstHealth{0};

    HostileBench()
    {
        dir = fs::temp_directory_path() /
              ("stopline-hostile-" + stopline::evidence::toHex(stopline::evidence::randomBytes(6)));
        fs::create_directories(dir);
        std::string bin = backofficeBinary(), data = (dir / "data").string(), d = dir.string();
        run(bin + " init --data " + data);
        run(bin + " demo-users --data " + data);
        run("STOPLINE_PASSWORD=admin-pw " + bin + " add-user --data " + data +
            " --username admin --role admin");
        run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
            "-keyout " +
            d + "/tls.key -out " + d + "/tls.crt -subj /CN=127.0.0.1 -addext "
            "subjectAltName=IP:127.0.0.1");
        start({bin, "serve", "--data", data, "--listen", "127.0.0.1:0", "--listen-tls",
               "127.0.0.1:0", "--tls-cert", d + "/tls.crt", "--tls-key", d + "/tls.key",
               "--threads", "2"});
    }

    ~HostileBench()
    {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
        std::error_code ec;
        fs::remove_all(dir, ec);
    }

    void start(const std::vector<std::string> &args)
    {
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
        std::string output;
        std::regex http("serving http://[^:]+:([0-9]+)/"), https("serving https://[^:]+:([0-9]+)/");
        auto deadline = Clock::now() + std::chrono::seconds(60);
        while (Clock::now() < deadline && (!port || !tlsPort)) {
            pollfd p{fds[0], POLLIN, 0};
            if (poll(&p, 1, 500) <= 0)
                continue;
            char buf[1024];
            ssize_t n = read(fds[0], buf, sizeof(buf));
            if (n <= 0)
                break;
            output.append(buf, static_cast<size_t>(n));
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

    /* The server is alive and answers a normal client promptly. */
    void expectHealthy(const std::string &after)
    {
        auto t0 = Clock::now();
        RawReply r = roundTrip(port, get("/api/v1/health"), std::chrono::seconds(2));
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
        worstHealth = std::max(worstHealth, took);
        if (r.status != 200)
            FAIL(("no health answer after " + after + " (server dead?)").c_str());
        if (took > std::chrono::milliseconds(200))
            FAIL(("health took " + std::to_string(took.count()) + " ms after " + after).c_str());
    }

    /* An attack: a 4xx (not 5xx, not silence), then a prompt health answer. */
    RawReply expectRefused(const std::string &what, const std::string &request)
    {
        RawReply r = roundTrip(port, request);
        if (r.status < 400 || r.status > 499)
            FAIL((what + ": expected a 4xx, got " + std::to_string(r.status) + " " +
                  r.body.substr(0, 200))
                         .c_str());
        expectHealthy(what);
        return r;
    }

    /* Enrols a fresh device key; returns its Authorization header. */
    std::string enrollDevice(const std::string &deviceId,
                             const stopline::evidence::SigningKey &key)
    {
        std::string d = dir.string(), bin = backofficeBinary();
        key.writeFiles(d + "/" + deviceId + ".key", d + "/" + deviceId + ".pub",
                       {{"device", deviceId}});
        FILE *p = popen((bin + " enroll-device --data " + d + "/data --pub " + d + "/" +
                         deviceId + ".pub --site Test 2>&1")
                                .c_str(),
                        "r");
        std::string out;
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
            out.append(buf, n);
        pclose(p);
        std::smatch m;
        if (!std::regex_search(out, m, std::regex("token ([0-9a-f]{64})")))
            FAIL(("enroll-device: " + out).c_str());
        return "Authorization: Bearer " + m[1].str() + "\r\n";
    }

    RawReply upload(const std::string &device, const std::string &path,
                    const std::string &bytes)
    {
        return roundTrip(port, "POST " + path +
                                       " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                                       "Content-Type: application/x-protobuf\r\nContent-Length: " +
                                       std::to_string(bytes.size()) + "\r\n" + device +
                                       "\r\n" + bytes);
    }

    /* Cookie and CSRF headers of a fresh session. */
    std::string session(const std::string &user, const std::string &password)
    {
        RawReply r = roundTrip(port, post("/api/v1/login",
                                         json{{"username", user}, {"password", password}}.dump()));
        if (r.status != 200)
            FAIL(("login " + user + ": " + std::to_string(r.status) + " " + r.body).c_str());
        std::smatch m;
        std::regex cookie("Set-Cookie: (stopline_session=[^;]+)", std::regex::icase);
        CHECK(std::regex_search(r.head, m, cookie));
        return "Cookie: " + m[1].str() + "\r\nX-CSRF-Token: " +
               json::parse(r.body)["csrf"].get<std::string>() + "\r\n";
    }
};

std::string nested(size_t depth)
{
    return std::string(depth, '[') + std::string(depth, ']');
}

} /* namespace */

TEST_GROUP(HostileClient)
{
};

/* The crash of issue 16: an object whose field is nested 100,000 deep. */
TEST(HostileClient, DeeplyNestedJsonIsRefusedAndTheServerLives)
{
    HostileBench b;
    b.expectRefused("login nested 100,000 deep",
                    post("/api/v1/login",
                         "{\"username\":" + nested(100'000) + ",\"password\":\"x\"}"));
    RawReply r = b.expectRefused("login nested 1,000 deep (within its size limit)",
                                 post("/api/v1/login",
                                      "{\"username\":" + nested(1'000) + ",\"password\":\"x\"}"));
    CHECK_EQUAL(400, r.status);
    std::string reviewer = b.session("demo", "demo-password");
    r = b.expectRefused("decision nested 30,000 deep",
                        post("/api/v1/cases/1/decision",
                             "{\"version\":1,\"decision\":\"reject\",\"facts\":" +
                                     nested(30'000) + "}",
                             reviewer));
    CHECK_EQUAL(400, r.status);
    std::string tech = b.session("tech", "demo-password");
    b.expectRefused("vehicle correction nested 30,000 deep",
                    post("/api/v1/cases/1/vehicle", "{\"plate\":" + nested(30'000) + "}", tech));
    /* Depth 33 is one too many, with brackets inside strings not counted. */
    r = b.expectRefused("depth 33", post("/api/v1/login", "{\"username\":\"[[[\",\"x\":" +
                                                                  nested(32) + "}"));
    CHECK(r.body.find("deeper") != std::string::npos);
    std::printf("\n  worst health latency during nesting attacks: %lld ms\n",
                static_cast<long long>(b.worstHealth.count()));
}

TEST(HostileClient, FieldsOfTheWrongTypeAreA400NamingTheField)
{
    HostileBench b;
    std::string reviewer = b.session("demo", "demo-password");
    auto decision = [&](const std::string &body, const std::string &field) {
        RawReply r = b.expectRefused("decision " + body,
                                     post("/api/v1/cases/1/decision", body, reviewer));
        CHECK_EQUAL(400, r.status);
        if (r.body.find(field) == std::string::npos)
            FAIL(("answer does not name '" + field + "': " + r.body).c_str());
    };
    decision(R"({"version":1,"decision":["approve"]})", "decision");
    decision(R"({"version":1,"decision":"reject","reason":"other","note":5})", "note");
    decision(R"({"version":1,"decision":"reject","reason":{"a":1}})", "reason");
    decision(R"({"version":"1","decision":"reject"})", "version");
    decision(R"({"version":1,"decision":"approve","checklist":[true]})", "checklist");

    std::string admin = b.session("admin", "admin-pw");
    for (const char *body : {"[]", "{\"authorized\":\"yes\"}", "{\"authorized\":[true]}", "5"}) {
        RawReply r = b.expectRefused(std::string("authorize ") + body,
                                     post("/api/v1/users/demo/authorize", body, admin));
        CHECK_EQUAL(400, r.status);
        CHECK(r.body.find("authorized") != std::string::npos);
    }
    RawReply r = b.expectRefused("login with a numeric user name",
                                 post("/api/v1/login", R"({"username":5,"password":"x"})"));
    CHECK_EQUAL(400, r.status);
    std::string tech = b.session("tech", "demo-password");
    b.expectRefused("vehicle correction with an array plate",
                    post("/api/v1/cases/1/vehicle", R"({"plate":["X"],"state":"WA"})", tech));
}

TEST(HostileClient, InvalidUtf8IsRefusedAtTheEdgeAndTheAuditPageStaysReadable)
{
    HostileBench b;
    std::string tech = b.session("tech", "demo-password");
    for (const char *target : {"/api/v1/registry?plate=%C0%AF", "/api/v1/search?q=%FF",
                               "/api/v1/registry?q=%ED%A0%80", "/api/v1/tasks?x=%F5%80%80%80"}) {
        RawReply r = b.expectRefused(target, get(target, tech));
        CHECK_EQUAL(400, r.status);
    }
    b.expectRefused("a path with invalid UTF-8", get("/api/v1/users/%FF/authorize", tech));
    b.expectRefused("a login name with invalid UTF-8",
                    post("/api/v1/login", "{\"username\":\"\xC0\xAF\",\"password\":\"x\"}"));
    /* Valid UTF-8 still passes. */
    RawReply ok = roundTrip(b.port, get("/api/v1/registry?q=%C3%A9t%C3%A9", tech));
    CHECK_EQUAL(200, ok.status);
    std::string supervisor = b.session("supervisor", "demo-password");
    RawReply audit = roundTrip(b.port, get("/api/v1/audit", supervisor));
    CHECK_EQUAL(200, audit.status);
    CHECK(json::parse(audit.body, nullptr, false).is_object());
    b.expectHealthy("reading the audit log");
}

/* A stranger's failed logins: bounded what is audited, nothing for what is refused. */
TEST(HostileClient, ThousandHostileLoginsGrowTheStoreByLessThanOneMiB)
{
    HostileBench b;
    fs::path data = b.dir / "data";
    uint64_t before = folderBytes(data);
    /* The issue's reproduction: one 15 MiB user name. */
    b.expectRefused("a 15 MiB user name",
                    post("/api/v1/login", json{{"username", std::string(15 << 20, 'A')},
                                               {"password", "x"}}
                                                  .dump()));
    for (int i = 0; i < 1000; ++i) {
        std::string name;
        switch (i % 4) {
        case 0: /* long but within the body limit of the login route */
            name = std::string(3000, static_cast<char>('a' + i % 26)) + std::to_string(i);
            break;
        case 1: /* over that limit */
            name = std::string(60'000, 'b') + std::to_string(i);
            break;
        case 2: /* one officer's name, wrong password: throttled after five */
            name = "officer-" + std::string(56, 'c');
            break;
        default: /* escapes that expand */
            name = std::string(1000, '\n') + std::to_string(i);
        }
        RawReply r = roundTrip(
                b.port,
                post("/api/v1/login", json{{"username", name}, {"password", "wrong"}}.dump()));
        if (r.status < 400 || r.status > 499)
            FAIL(("hostile login " + std::to_string(i) + ": " + std::to_string(r.status)).c_str());
        if (i % 100 == 0)
            b.expectHealthy("hostile login " + std::to_string(i));
    }
    uint64_t grown = folderBytes(data) - before;
    std::printf("\n  store growth after 1,000 hostile logins and one 15 MiB name: %llu bytes;"
                " worst health latency %lld ms\n",
                static_cast<unsigned long long>(grown),
                static_cast<long long>(b.worstHealth.count()));
    CHECK(grown < (1u << 20));
    std::string supervisor = b.session("supervisor", "demo-password");
    RawReply audit = roundTrip(b.port, get("/api/v1/audit", supervisor));
    CHECK_EQUAL(200, audit.status);
    CHECK(audit.body.size() < 256 * 1024);
}

/* A compromised device: heartbeats are shown on every reviewer's queue page. */
TEST(HostileClient, OversizeHeartbeatsAreRefused)
{
    HostileBench b;
    auto key = stopline::evidence::SigningKey::generate();
    std::string d = b.dir.string(), bin = backofficeBinary();
    key->writeFiles(d + "/dev.key", d + "/dev.pub", {{"device", "hostile-dev"}});
    FILE *p = popen((bin + " enroll-device --data " + d + "/data --pub " + d +
                     "/dev.pub --site Test 2>&1")
                            .c_str(),
                    "r");
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        out.append(buf, n);
    pclose(p);
    std::smatch m;
    CHECK(std::regex_search(out, m, std::regex("token ([0-9a-f]{64})")));
    std::string device = "Authorization: Bearer " + m[1].str() + "\r\n";
    RawReply ok = roundTrip(b.port, post("/api/v1/heartbeats", R"({"uptime_s":1})", device));
    CHECK_EQUAL(201, ok.status);
    RawReply r = b.expectRefused(
            "a 1 MiB heartbeat",
            post("/api/v1/heartbeats", json{{"enforcement", {{"reason", std::string(1 << 20, 'x')}}}}
                                                .dump(),
                 device));
    CHECK_EQUAL(413, r.status);
    b.expectRefused("a heartbeat nested 10,000 deep",
                    post("/api/v1/heartbeats", "{\"alarms\":" + nested(5'000) + "}", device));
}

TEST(HostileClient, HeadAnswersCarryNoBodyAndTlsAnswersCarryHsts)
{
    HostileBench b;
    RawReply head = roundTrip(b.port, get("/api/v1/health", "", "HEAD"));
    CHECK_EQUAL(200, head.status);
    CHECK_EQUAL(0, head.body.size());
    std::smatch m;
    CHECK(std::regex_search(head.head, m, std::regex("Content-Length: ([0-9]+)", std::regex::icase)));
    CHECK(std::stoi(m[1]) > 0); /* the length of the GET answer */
    CHECK(head.head.find("Strict-Transport-Security") == std::string::npos); /* plain HTTP */

    ClientTls tls{(b.dir / "tls.crt").string(), "", ""};
    HttpClient client("127.0.0.1", b.tlsPort, &tls);
    ClientResponse r = client.request("GET", "/api/v1/health");
    CHECK_EQUAL(200, r.status);
    STRCMP_EQUAL("max-age=31536000", r.header("strict-transport-security").c_str());
}

/* Issue 16: five wrong passwords every 15 minutes locked a named officer out for
 * everyone, and concurrent guesses overshot the throttle. */
TEST(HostileClient, AStrangerCannotLockOutAnOfficerLoggingInFromAnotherAddress)
{
    HostileBench b;
    auto login = [&](const char *from, const std::string &password) {
        return roundTrip(b.port,
                         post("/api/v1/login",
                              json{{"username", "demo"}, {"password", password}}.dump()),
                         std::chrono::seconds(20), from);
    };
    for (int i = 0; i < 5; ++i)
        CHECK_EQUAL(401, login("127.0.0.2", "wrong").status);
    CHECK_EQUAL(429, login("127.0.0.2", "wrong").status);
    /* Even the right password waits, from the guessing address. */
    CHECK_EQUAL(429, login("127.0.0.2", "demo-password").status);
    /* The officer, from another address, is not locked out. */
    CHECK_EQUAL(200, login("127.0.0.3", "demo-password").status);
    b.expectHealthy("throttled logins");

    /* One address trying many accounts is throttled as an address. */
    int refused = 0;
    for (int i = 0; i < 25; ++i) {
        RawReply r = roundTrip(b.port,
                               post("/api/v1/login", json{{"username", "u" + std::to_string(i)},
                                                          {"password", "x"}}
                                                             .dump()),
                               std::chrono::seconds(20), "127.0.0.4");
        refused += r.status == 429;
    }
    std::printf("\n  one address, 25 accounts: %d of 25 throttled\n", refused);
    CHECK_EQUAL(5, refused); /* 20 failures per address */
}

TEST(HostileClient, ConcurrentWrongGuessesDoNotOvershootTheThrottle)
{
    HostileBench b;
    std::vector<std::thread> guessers;
    std::vector<int> status(20, 0);
    for (int i = 0; i < 20; ++i)
        guessers.emplace_back([&, i] {
            status[i] = roundTrip(b.port,
                                  post("/api/v1/login",
                                       json{{"username", "demo"}, {"password", "wrong"}}.dump()),
                                  std::chrono::seconds(30), "127.0.0.5")
                                .status;
        });
    for (std::thread &t : guessers)
        t.join();
    int judged = 0, throttled = 0;
    for (int s : status) {
        judged += s == 401;
        throttled += s == 429;
    }
    std::printf("\n  20 concurrent wrong guesses: %d judged (401), %d throttled (429)\n", judged,
                throttled);
    CHECK_EQUAL(5, judged);
    CHECK_EQUAL(15, throttled);
}

/* Issue 16: claiming by id took a further lease each time, so one reviewer could hold
 * (hide from everyone else) as many cases as they opened. */
TEST(HostileClient, AReviewerHoldsAtMostOneLease)
{
    HostileBench b;
    auto key = stopline::evidence::SigningKey::generate();
    std::string device = b.enrollDevice("lease-dev", *key);
    stopline::testkit::SampleChain chain =
            stopline::testkit::makeSampleChain(*key, "lease-dev", 4, 1'700'000'000'000'000'000);
    for (const auto &r : chain.records)
        CHECK_EQUAL(201, b.upload(device, "/api/v1/records", r.bytes).status);
    std::string demo = b.session("demo", "demo-password");
    std::string supervisor = b.session("supervisor", "demo-password");
    std::vector<int64_t> ids;
    RawReply list = roundTrip(b.port, get("/api/v1/cases", supervisor));
    json cases = json::parse(list.body)["cases"];
    for (const json &c : cases)
        ids.push_back(c["id"].get<int64_t>());
    if (ids.size() != 3)
        FAIL(("expected 3 cases: " + std::to_string(list.status) + " " + list.body).c_str());
    for (int64_t id : ids)
        CHECK_EQUAL(200, roundTrip(b.port, post("/api/v1/cases/" + std::to_string(id) + "/claim",
                                               "", demo))
                                 .status);
    /* Only the last claim holds: the others are free for the next reviewer. */
    int mine = 0;
    for (int64_t id : ids)
        mine += json::parse(roundTrip(b.port, get("/api/v1/cases/" + std::to_string(id), demo)).body)
                        ["mine"]
                                .get<bool>();
    std::printf("\n  claimed %zu cases by id: %d held\n", ids.size(), mine);
    CHECK_EQUAL(1, mine);
    RawReply first = roundTrip(b.port, post("/api/v1/cases/" + std::to_string(ids[0]) + "/claim",
                                            "", supervisor));
    CHECK_EQUAL(200, first.status);
    /* And the queue still hands the holder the case held, not another. */
    RawReply next = roundTrip(b.port, post("/api/v1/queue/next", "", demo));
    CHECK_EQUAL(ids.back(), json::parse(next.body)["case"]["id"].get<int64_t>());
}

/* Issue 16: a sequence number at or above 2^63 was stored negative: receipt given, no
 * gap alarm, invisible to verify-store and downloads. */
TEST(HostileClient, SequenceNumbersAbove2To63AreRefusedNotStoredNegative)
{
    HostileBench b;
    auto key = stopline::evidence::SigningKey::generate();
    std::string device = b.enrollDevice("seq-dev", *key);
    const int64_t t = 1'700'000'000'000'000'000;
    stopline::testkit::SampleChain chain = stopline::testkit::makeSampleChain(*key, "seq-dev", 1, t);
    CHECK_EQUAL(201, b.upload(device, "/api/v1/records", chain.records[0].bytes).status);

    const uint64_t huge = uint64_t{1} << 63;
    stopline::evidence::ChainWriter writer("seq-dev", key.get(), huge,
                                           chain.records[0].recordHash);
    stopline::evidence::Record v = stopline::testkit::sampleViolation(1, t + 1'000'000'000);
    RawReply r = b.upload(device, "/api/v1/records", writer.seal(v).bytes);
    std::printf("\n  record seq 2^63: %d\n", r.status);
    CHECK_EQUAL(422, r.status);
    CHECK(r.body.find("seq.out_of_range") != std::string::npos);

    stopline::evidence::Instant at;
    at.set_utc_ns(t + 2'000'000'000);
    stopline::evidence::ClockState clock;
    clock.set_synchronized(true);
    RawReply c = b.upload(device, "/api/v1/checkpoints", writer.checkpoint(at, clock));
    std::printf("  checkpoint seq_high 2^63: %d\n", c.status);
    CHECK_EQUAL(422, c.status);
    CHECK(c.body.find("seq.out_of_range") != std::string::npos);

    /* Nothing of it was kept: no case, no stored record at a negative seq. */
    std::string supervisor = b.session("supervisor", "demo-password");
    json cases = json::parse(roundTrip(b.port, get("/api/v1/cases", supervisor)).body)["cases"];
    CHECK_EQUAL(0, cases.size());
    b.expectHealthy("a record at seq 2^63");
}

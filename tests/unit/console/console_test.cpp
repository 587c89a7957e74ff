#include "firmware/console/console.h"
#include "firmware/console/password.h"

#include <CppUTest/TestHarness.h>

using namespace stopline;
using namespace stopline::firmware;

namespace {

/* Records what the console asked for; answers async calls when told to. */
class FakeHost : public ConsoleHost
{
public:
    std::string status() override { return "enforcing: yes\nspool: 0 records"; }
    std::string configShow() override { return "[rules.red_light]\ngrace_s = 0.3"; }
    std::string timeStatus() override { return "synchronized, est. error 1 ms"; }
    std::optional<std::string> setConfig(const std::string &key, const std::string &value,
                                         const std::string &tech) override
    {
        sets.push_back(key + "=" + value + " by " + tech);
        if (key == "rules.red_light.grace_s" && value == "9")
            return std::string("rules.red_light.grace_s: 9 is out of range 0..1");
        return std::nullopt;
    }
    void calibrate(const std::string &what, const std::vector<std::string> &args,
                   const std::string &tech, Done done) override
    {
        calibrations.push_back(what + " " + args.at(0));
        pending = std::move(done);
    }
    void selfTestRadar(const std::string &tech, Done done) override { pending = std::move(done); }
    void forkTest(double mph, const std::string &tech, Done done) override
    {
        forks.push_back(mph);
        pending = std::move(done);
    }
    void snapshot(Done done) override { pending = std::move(done); }
    void gpioWatch(bool on, std::function<void(std::string)> line) override
    {
        watching = on;
        watchLine = std::move(line);
    }
    void securityLog(const std::string &event) override { security.push_back(event); }

    std::vector<std::string> sets, calibrations, security;
    std::vector<double> forks;
    Done pending;
    bool watching = false;
    std::function<void(std::string)> watchLine;
};

} /* namespace */

TEST_GROUP(Console)
{
    FakeHost host;
    std::string out;
    std::unique_ptr<Console> console;
    Nanos now = 1'000 * kNanosPerSecond;

    void setup() override
    {
        Console::Options options;
        options.users = {{"tech", hashPassword("correct horse", 10)}};
        options.maxFailures = 3;
        options.lockoutNs = 60 * kNanosPerSecond;
        options.idleLogoutNs = 300 * kNanosPerSecond;
        console = std::make_unique<Console>(options, &host,
                                            [this](std::string_view s) { out.append(s); });
        console->start(now);
    }

    std::string type(const std::string &text)
    {
        out.clear();
        console->receive(text, now);
        return out;
    }

    void login(const std::string &password = "correct horse")
    {
        type("tech\r");
        type(password + "\r");
    }
};

TEST(Console, loginWithTheRightPasswordOpensTheShell)
{
    CHECK(out.find("login: ") != std::string::npos);
    type("tech\r\n");
    std::string echoed = type("correct horse\r");
    CHECK(echoed.find("correct horse") == std::string::npos); /* never echoed */
    CHECK(console->loggedIn());
    CHECK(echoed.find("tech@stopline> ") != std::string::npos);
    CHECK(host.security.back().find("login by 'tech'") != std::string::npos);
}

TEST(Console, wrongPasswordsLockTheConsoleEvenForTheRightOne)
{
    login("wrong1");
    login("wrong2");
    CHECK_FALSE(console->loggedIn());
    login("wrong3");
    CHECK(out.find("locked for 60 s") != std::string::npos);
    CHECK(console->lockedOut(now));
    login();
    CHECK_FALSE(console->loggedIn());
    CHECK(out.find("console locked") != std::string::npos);
    now += 61 * kNanosPerSecond;
    login();
    CHECK(console->loggedIn());
}

TEST(Console, unknownUserCountsAsAFailure)
{
    type("mallory\r");
    type("correct horse\r");
    CHECK_FALSE(console->loggedIn());
    CHECK(host.security.back().find("failed for 'mallory'") != std::string::npos);
}

TEST(Console, commandsNeedALogin)
{
    type("status\r");
    CHECK_FALSE(console->loggedIn());
    /* "status" was taken as a user name, not a command. */
    CHECK(out.find("password: ") != std::string::npos);
    CHECK(out.find("enforcing") == std::string::npos);
}

TEST(Console, setReportsTheValidationErrorAndTheSavedValue)
{
    login();
    std::string reply = type("set rules.red_light.grace_s 9\r");
    CHECK(reply.find("error: rules.red_light.grace_s: 9 is out of range") != std::string::npos);
    reply = type("set location.description NE 8th St & 112th Ave\r");
    CHECK(reply.find("location.description = NE 8th St & 112th Ave (saved)") != std::string::npos);
    STRCMP_EQUAL("location.description=NE 8th St & 112th Ave by tech", host.sets.back().c_str());
}

TEST(Console, forkTestRunsAsynchronouslyAndRejectsNonsense)
{
    login();
    CHECK(type("forktest fast\r").find("usage: forktest MPH") != std::string::npos);
    CHECK(type("forktest 35x\r").find("usage") != std::string::npos);
    type("forktest 35\r");
    LONGS_EQUAL(1, host.forks.size());
    DOUBLES_EQUAL(35.0, host.forks[0], 1e-9);
    CHECK(type("status\r").find("busy") != std::string::npos);
    out.clear();
    host.pending("fork test passed: read 35.2 mph (sealed as record 41)");
    CHECK(out.find("fork test passed") != std::string::npos);
    CHECK(out.find("tech@stopline> ") != std::string::npos);
}

TEST(Console, lineEditingAndNoise)
{
    login();
    type("statx\x7fus\r");
    CHECK(out.find("enforcing: yes") != std::string::npos);
    /* Control characters and bytes above 0x7e are noise on a serial line. */
    type("\x01\x02ti\xffme\r");
    CHECK(out.find("synchronized") != std::string::npos);
    std::string longLine(400, 'a');
    CHECK(type(longLine + "\r").find("line longer than 256") != std::string::npos);
    CHECK(type("frobnicate\r").find("unknown command 'frobnicate'") != std::string::npos);
}

TEST(Console, gpioWatchStreamsUntilEnter)
{
    login();
    type("gpio watch\r");
    CHECK(host.watching);
    out.clear();
    host.watchLine("NB_RED rising 12.000001");
    CHECK(out.find("NB_RED rising") != std::string::npos);
    type("\r");
    CHECK_FALSE(host.watching);
    CHECK(out.find("gpio watch stopped") != std::string::npos);
}

TEST(Console, idleSessionLogsOutAndDropsLateResults)
{
    login();
    type("selftest radar\r");
    now += 301 * kNanosPerSecond;
    console->tick(now);
    CHECK_FALSE(console->loggedIn());
    out.clear();
    host.pending("radar self-check passed");
    CHECK(out.empty());
}

TEST(Console, passwordHashesRoundTripAndMalformedOnesNeverMatch)
{
    std::string h = hashPassword("pw", 10);
    CHECK(checkPassword("pw", h));
    CHECK_FALSE(checkPassword("pW", h));
    CHECK_FALSE(checkPassword("pw", "$scrypt$ln=10,r=8,p=1$garbage$garbage"));
    CHECK_FALSE(passwordHashProblem(h).has_value());
    CHECK(passwordHashProblem("plaintext").has_value());
}

#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hal/time.h"

namespace stopline::firmware {

/* What the console asks of the daemon. Long operations answer through `done`, which
 * may be called later on the event thread; the console stays responsive meanwhile. */
class ConsoleHost
{
public:
    using Done = std::function<void(std::string)>;

    virtual ~ConsoleHost() = default;

    virtual std::string status() = 0;
    virtual std::string configShow() = 0;
    virtual std::string timeStatus() = 0;
    /* Validates, applies and persists atomically; returns the error message when the
     * value is refused (nothing changes then). */
    virtual std::optional<std::string> setConfig(const std::string &key, const std::string &value,
                                                 const std::string &technician) = 0;
    /* Stop-line position, loop spacing or radar angle; seals a calibration record. */
    virtual void calibrate(const std::string &what, const std::vector<std::string> &args,
                           const std::string &technician, Done done) = 0;
    virtual void selfTestRadar(const std::string &technician, Done done) = 0;
    /* Tuning-fork test: the radar must read `mph` within ±1 mph; seals the result. */
    virtual void forkTest(double mph, const std::string &technician, Done done) = 0;
    virtual void snapshot(Done done) = 0;
    /* Streams one line per GPIO edge through `line` until called again with false. */
    virtual void gpioWatch(bool on, std::function<void(std::string)> line) = 0;
    /* Security log: logins, failures, lockouts (journald in the daemon). */
    virtual void securityLog(const std::string &event) = 0;
};

/* The technician console on a serial line: line editing and echo, login with a
 * password hash from the configuration, lockout after repeated failures, idle logout,
 * and the field commands. Pure: bytes and the time come in, text goes out through
 * `write`; the daemon owns the serial port. */
class Console
{
public:
    struct User
    {
        std::string name;
        std::string passwordHash;
    };

    struct Options
    {
        std::vector<User> users;
        int maxFailures = 5;
        Nanos lockoutNs = 15 * 60 * kNanosPerSecond;
        Nanos idleLogoutNs = 15 * 60 * kNanosPerSecond;
        std::string banner = "stopline technician console";
        std::size_t maxLine = 256;
    };

    Console(Options options, ConsoleHost *host, std::function<void(std::string_view)> write);

    /* Prints the banner and the login prompt. */
    void start(Nanos now);

    /* Raw bytes from the serial line. */
    void receive(std::string_view bytes, Nanos now);

    /* Idle logout and lockout expiry; call every few seconds. */
    void tick(Nanos now);

    bool loggedIn() const { return state_ == State::Shell; }
    const std::string &user() const { return user_; }
    bool lockedOut(Nanos now) const { return now < lockedUntil_; }

private:
    enum class State { Login, Password, Shell, Busy, Watching };

    void line(const std::string &text, Nanos now);
    void command(const std::string &text, Nanos now);
    void prompt();
    void print(std::string_view text);
    void finish(std::string result);
    void logout(const std::string &why);

    Options options_;
    ConsoleHost *host_;
    std::function<void(std::string_view)> write_;
    State state_ = State::Login;
    std::string buffer_;
    bool overflow_ = false;
    bool lastWasCr_ = false;
    std::string pendingUser_;
    std::string user_;
    int failures_ = 0;
    Nanos lockedUntil_ = 0;
    Nanos lastActivity_ = 0;
    unsigned busyToken_ = 0;
};

} /* namespace stopline::firmware */

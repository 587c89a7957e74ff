#include "firmware/console/console.h"

#include <charconv>
#include <sstream>

#include "firmware/console/password.h"

namespace stopline::firmware {

namespace {

std::vector<std::string> words(const std::string &text)
{
    std::istringstream in(text);
    std::vector<std::string> out;
    std::string w;
    while (in >> w)
        out.push_back(w);
    return out;
}

const char kHelp[] = "commands:\r\n"
                     "  status                      health, enforcement state, spool, radar\r\n"
                     "  config show                 effective configuration\r\n"
                     "  set KEY VALUE               change a setting (validated, saved)\r\n"
                     "  calibrate stop-line LANE M  stop line, metres past the entry loop\r\n"
                     "  calibrate loop-spacing LANE M\r\n"
                     "  calibrate radar-angle DEG   beam angle to the direction of travel\r\n"
                     "  calibrate camera ...        mark road points in a snapshot (calibrate camera"
                     " help)\r\n"
                     "  selftest radar              run the radar self-check now\r\n"
                     "  forktest MPH                tuning-fork test against a fork of MPH\r\n"
                     "  snapshot                    capture a frame and report its details\r\n"
                     "  gpio watch                  show input edges (Enter stops)\r\n"
                     "  time                        clock and synchronization state\r\n"
                     "  logout\r\n";

/* Serial terminals want CRLF. */
std::string crlf(const std::string &text)
{
    std::string out;
    out.reserve(text.size() + 8);
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
            out += '\r';
        out += text[i];
    }
    if (!out.empty() && out.back() != '\n')
        out += "\r\n";
    return out;
}

} /* namespace */

Console::Console(Options options, ConsoleHost *host, std::function<void(std::string_view)> write)
    : options_(std::move(options)), host_(host), write_(std::move(write))
{}

void Console::print(std::string_view text)
{
    write_(text);
}

void Console::start(Nanos now)
{
    lastActivity_ = now;
    print(crlf(options_.banner));
    state_ = State::Login;
    prompt();
}

void Console::prompt()
{
    switch (state_) {
    case State::Login:
        print("login: ");
        break;
    case State::Password:
        print("password: ");
        break;
    case State::Shell:
        print(user_ + "@stopline> ");
        break;
    case State::Busy:
    case State::Watching:
        break;
    }
}

void Console::receive(std::string_view bytes, Nanos now)
{
    lastActivity_ = now;
    for (char c : bytes) {
        bool cr = c == '\r';
        if (c == '\n' && lastWasCr_) {
            lastWasCr_ = false;
            continue; /* CRLF is one line end */
        }
        lastWasCr_ = cr;
        if (c == '\r' || c == '\n') {
            print("\r\n");
            std::string text = overflow_ ? std::string() : buffer_;
            if (overflow_)
                print("error: line longer than " + std::to_string(options_.maxLine) +
                      " characters ignored\r\n");
            buffer_.clear();
            overflow_ = false;
            line(text, now);
            continue;
        }
        if (c == 0x7f || c == 0x08) {
            if (!buffer_.empty()) {
                buffer_.pop_back();
                if (state_ != State::Password)
                    print("\b \b");
            }
            continue;
        }
        if (c == 0x03) { /* Ctrl-C: drop the line */
            buffer_.clear();
            overflow_ = false;
            print("^C\r\n");
            if (state_ == State::Watching) {
                line("", now);
                continue;
            }
            prompt();
            continue;
        }
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e)
            continue; /* line noise on a serial cable: ignore, never act on it */
        if (buffer_.size() >= options_.maxLine) {
            overflow_ = true;
            continue;
        }
        buffer_.push_back(c);
        if (state_ != State::Password)
            print(std::string_view(&c, 1));
    }
}

void Console::line(const std::string &text, Nanos now)
{
    switch (state_) {
    case State::Login:
        if (text.empty()) {
            prompt();
            return;
        }
        pendingUser_ = text;
        state_ = State::Password;
        prompt();
        return;
    case State::Password: {
        std::string who = pendingUser_;
        pendingUser_.clear();
        if (lockedOut(now)) {
            /* Do not even check: a locked console must not become a password oracle. */
            long long left = (lockedUntil_ - now + kNanosPerSecond - 1) / kNanosPerSecond;
            print("console locked after repeated failures; try again in " + std::to_string(left) +
                  " s\r\n");
            host_->securityLog("console login attempt for '" + who + "' while locked");
            state_ = State::Login;
            prompt();
            return;
        }
        const User *match = nullptr;
        for (const User &u : options_.users)
            if (u.name == who)
                match = &u;
        /* Check a hash even for unknown users so timing does not reveal who exists. */
        static const std::string dummy = hashPassword("not a user", 15);
        bool ok = checkPassword(text, match ? std::string_view(match->passwordHash) : dummy);
        if (!match || !ok) {
            ++failures_;
            host_->securityLog("console login failed for '" + who + "' (" +
                               std::to_string(failures_) + " in a row)");
            if (failures_ >= options_.maxFailures) {
                lockedUntil_ = now + options_.lockoutNs;
                failures_ = 0;
                host_->securityLog("console locked for " +
                                   std::to_string(options_.lockoutNs / kNanosPerSecond) + " s");
                print("login incorrect; console locked for " +
                      std::to_string(options_.lockoutNs / kNanosPerSecond) + " s\r\n");
            } else {
                print("login incorrect\r\n");
            }
            state_ = State::Login;
            prompt();
            return;
        }
        failures_ = 0;
        user_ = who;
        state_ = State::Shell;
        host_->securityLog("console login by '" + who + "'");
        print("welcome, " + who + ". type 'help' for commands.\r\n");
        prompt();
        return;
    }
    case State::Shell:
        command(text, now);
        return;
    case State::Busy:
        print("busy: waiting for the previous command to finish\r\n");
        return;
    case State::Watching:
        host_->gpioWatch(false, nullptr);
        state_ = State::Shell;
        print("gpio watch stopped\r\n");
        prompt();
        return;
    }
}

void Console::finish(std::string result)
{
    if (state_ != State::Busy)
        return; /* logged out meanwhile */
    print(crlf(result));
    state_ = State::Shell;
    prompt();
}

void Console::logout(const std::string &why)
{
    if (state_ == State::Watching)
        host_->gpioWatch(false, nullptr);
    host_->securityLog("console logout of '" + user_ + "' (" + why + ")");
    print("logged out (" + why + ")\r\n");
    user_.clear();
    state_ = State::Login;
    ++busyToken_;
    prompt();
}

void Console::command(const std::string &text, Nanos now)
{
    std::vector<std::string> w = words(text);
    if (w.empty()) {
        prompt();
        return;
    }
    auto async = [this]() {
        state_ = State::Busy;
        unsigned token = ++busyToken_;
        return [this, token](std::string result) {
            if (token == busyToken_)
                finish(std::move(result));
        };
    };
    const std::string &cmd = w[0];
    if (cmd == "help" || cmd == "?") {
        print(kHelp);
    } else if (cmd == "status") {
        print(crlf(host_->status()));
    } else if (cmd == "config" && w.size() == 2 && w[1] == "show") {
        print(crlf(host_->configShow()));
    } else if (cmd == "set") {
        if (w.size() < 3) {
            print("usage: set KEY VALUE\r\n");
        } else {
            /* The value is the rest of the line, so it may contain spaces. */
            std::string value = text.substr(text.find(w[1]) + w[1].size());
            value.erase(0, value.find_first_not_of(' '));
            if (auto err = host_->setConfig(w[1], value, user_))
                print("error: " + *err + "\r\n");
            else
                print(w[1] + " = " + value + " (saved)\r\n");
        }
    } else if (cmd == "calibrate") {
        if (w.size() < 3) {
            print("usage: calibrate stop-line|loop-spacing LANE METRES | calibrate radar-angle "
                  "DEGREES | calibrate camera point|lane|zone|show|clear|apply ...\r\n");
        } else {
            host_->calibrate(w[1], std::vector<std::string>(w.begin() + 2, w.end()), user_,
                             async());
            return;
        }
    } else if (cmd == "selftest" && w.size() == 2 && w[1] == "radar") {
        print("running radar self-check...\r\n");
        host_->selfTestRadar(user_, async());
        return;
    } else if (cmd == "forktest") {
        double mph = 0;
        const char *first = w.size() == 2 ? w[1].data() : nullptr;
        auto [ptr, ec] = first ? std::from_chars(first, first + w[1].size(), mph)
                               : std::from_chars_result{nullptr, std::errc::invalid_argument};
        if (!first || ec != std::errc() || ptr != first + w[1].size() || mph < 5 || mph > 150) {
            print("usage: forktest MPH (the fork's nominal speed, 5 to 150)\r\n");
        } else {
            print("hold the fork in front of the radar...\r\n");
            host_->forkTest(mph, user_, async());
            return;
        }
    } else if (cmd == "snapshot") {
        host_->snapshot(async());
        return;
    } else if (cmd == "gpio" && w.size() == 2 && w[1] == "watch") {
        state_ = State::Watching;
        print("watching GPIO inputs; press Enter to stop\r\n");
        host_->gpioWatch(true, [this](std::string edge) {
            if (state_ == State::Watching)
                print(crlf(edge));
        });
        return;
    } else if (cmd == "time") {
        print(crlf(host_->timeStatus()));
    } else if (cmd == "logout" || cmd == "exit") {
        logout("by request");
        return;
    } else {
        print("unknown command '" + cmd + "'; type 'help'\r\n");
    }
    prompt();
}

void Console::tick(Nanos now)
{
    if ((state_ == State::Shell || state_ == State::Watching || state_ == State::Busy) &&
        now - lastActivity_ > options_.idleLogoutNs)
        logout("idle");
}

} /* namespace stopline::firmware */

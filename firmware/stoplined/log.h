#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace stopline::firmware {

/* syslog(3) priorities: journald reads a "<N>" prefix on each stderr line as the level. */
enum class LogLevel { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };

/* "error", "warning", "notice", "info", "debug". */
const char *logLevelName(LogLevel level);
std::optional<LogLevel> parseLogLevel(std::string_view name);

/* The daemon's one log: lines to stderr with a level. Under systemd (JOURNAL_STREAM names
 * stderr) each line starts with "<N>" so journald keeps the level and adds its own time;
 * on a terminal or in a test log each line gets a local timestamp instead, so a person
 * reading a file can line events up with the simulator's ground truth. Thread-safe: the
 * sealing worker and the event thread both log. */
class Logger
{
public:
    /* `sink` receives whole lines (with the newline); empty = stderr. */
    explicit Logger(std::function<void(std::string_view)> sink = {});

    void setLevel(LogLevel level) { level_ = level; }
    LogLevel level() const { return level_; }
    /* Forces the journald prefix form on or off (detected from the environment). */
    void setJournal(bool journal) { journal_ = journal; }
    bool journal() const { return journal_; }

    void log(LogLevel level, std::string_view message);
    void error(std::string_view m) { log(LogLevel::Error, m); }
    void warning(std::string_view m) { log(LogLevel::Warning, m); }
    void notice(std::string_view m) { log(LogLevel::Notice, m); }
    void info(std::string_view m) { log(LogLevel::Info, m); }
    void debug(std::string_view m) { log(LogLevel::Debug, m); }

    /* True when stderr is the journal's stream (systemd sets JOURNAL_STREAM=dev:ino). */
    static bool stderrIsJournal();

private:
    std::function<void(std::string_view)> sink_;
    LogLevel level_ = LogLevel::Info;
    bool journal_ = false;
    std::mutex lock_;
};

} /* namespace stopline::firmware */

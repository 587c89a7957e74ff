#include "firmware/stoplined/log.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <sys/stat.h>
#include <unistd.h>

namespace stopline::firmware {

const char *logLevelName(LogLevel level)
{
    switch (level) {
    case LogLevel::Error:
        return "error";
    case LogLevel::Warning:
        return "warning";
    case LogLevel::Notice:
        return "notice";
    case LogLevel::Info:
        return "info";
    case LogLevel::Debug:
        return "debug";
    }
    return "info";
}

std::optional<LogLevel> parseLogLevel(std::string_view name)
{
    for (LogLevel l :
         {LogLevel::Error, LogLevel::Warning, LogLevel::Notice, LogLevel::Info, LogLevel::Debug})
        if (name == logLevelName(l))
            return l;
    return std::nullopt;
}

Logger::Logger(std::function<void(std::string_view)> sink)
    : sink_(std::move(sink)), journal_(stderrIsJournal())
{}

bool Logger::stderrIsJournal()
{
    /* systemd.exec(5): JOURNAL_STREAM is "device:inode" of the stream stderr was
     * connected to; compare it with what stderr is now (a shell may have redirected). */
    const char *env = std::getenv("JOURNAL_STREAM");
    if (!env)
        return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(env, "%llu:%llu", &dev, &ino) != 2)
        return false;
    struct stat st;
    if (fstat(STDERR_FILENO, &st) != 0)
        return false;
    return st.st_dev == dev && st.st_ino == ino;
}

void Logger::log(LogLevel level, std::string_view message)
{
    if (static_cast<int>(level) > static_cast<int>(level_))
        return;
    std::string line;
    line.reserve(message.size() + 40);
    if (journal_) {
        line = "<" + std::to_string(static_cast<int>(level)) + ">";
    } else {
        timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        tm local;
        localtime_r(&ts.tv_sec, &local);
        char stamp[40];
        std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &local);
        std::snprintf(stamp + n, sizeof stamp - n, ".%03ld ", ts.tv_nsec / 1000000);
        line = stamp;
        if (level != LogLevel::Info) {
            line += logLevelName(level);
            line += ": ";
        }
    }
    line += message;
    line += '\n';
    std::lock_guard<std::mutex> guard(lock_);
    if (sink_) {
        sink_(line);
        return;
    }
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

} /* namespace stopline::firmware */

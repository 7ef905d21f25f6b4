#include "log.hpp"

#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace wh {

namespace {
// journald stamps each line itself; anywhere else (a file, a terminal, a container's log
// driver) a line without a time cannot be lined up with the database's or the receiver's.
bool stderr_wants_timestamps() {
    static const bool wants = [] {
        struct stat st {};
        if (fstat(2, &st) != 0) return true;
        return !journal_stream_matches(std::getenv("JOURNAL_STREAM"), st.st_dev, st.st_ino);
    }();
    return wants;
}

void stderr_sink(void*, LogLevel level, const std::string& line) {
    static const char* names[] = {"error", "warn", "info", "debug"};
    if (stderr_wants_timestamps())
        std::fprintf(stderr, "%s [%s] %s\n", log_timestamp(std::chrono::system_clock::now()).c_str(),
                     names[int(level)], line.c_str());
    else
        std::fprintf(stderr, "[%s] %s\n", names[int(level)], line.c_str());
}
LogSink g_sink = stderr_sink;
void* g_baton = nullptr;
std::atomic<LogLevel> g_level{LogLevel::debug};
}  // namespace

bool journal_stream_matches(const char* journal_stream, unsigned long long dev, unsigned long long ino) {
    unsigned long long want_dev = 0, want_ino = 0;
    char rest = 0;
    if (!journal_stream || std::sscanf(journal_stream, "%llu:%llu%c", &want_dev, &want_ino, &rest) != 2)
        return false;
    return want_dev == dev && want_ino == ino;
}

std::string log_timestamp(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    const long long ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
    const std::time_t secs = std::time_t(ms / 1000 - (ms % 1000 < 0 ? 1 : 0));
    std::tm tm {};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, int(((ms % 1000) + 1000) % 1000));
    return buf;
}

void set_log_sink(LogSink sink, void* baton) {
    g_sink = sink ? sink : stderr_sink;
    g_baton = baton;
}

void set_log_level(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }

bool log_enabled(LogLevel level) { return int(level) <= int(g_level.load(std::memory_order_relaxed)); }

void log_line(LogLevel level, const std::string& line) {
    if (log_enabled(level)) g_sink(g_baton, level, line);
}

}  // namespace wh

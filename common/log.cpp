#include "log.hpp"

#include <atomic>
#include <cstdio>

namespace wh {

namespace {
void stderr_sink(void*, LogLevel level, const std::string& line) {
    static const char* names[] = {"error", "warn", "info", "debug"};
    std::fprintf(stderr, "[%s] %s\n", names[int(level)], line.c_str());
}
LogSink g_sink = stderr_sink;
void* g_baton = nullptr;
std::atomic<LogLevel> g_level{LogLevel::debug};
}  // namespace

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

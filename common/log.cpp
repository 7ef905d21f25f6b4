#include "log.hpp"

#include <cstdio>

namespace wh {

namespace {
void stderr_sink(void*, LogLevel level, const std::string& line) {
    static const char* names[] = {"error", "warn", "info", "debug"};
    std::fprintf(stderr, "[%s] %s\n", names[int(level)], line.c_str());
}
LogSink g_sink = stderr_sink;
void* g_baton = nullptr;
}  // namespace

void set_log_sink(LogSink sink, void* baton) {
    g_sink = sink ? sink : stderr_sink;
    g_baton = baton;
}

void log_line(LogLevel level, const std::string& line) { g_sink(g_baton, level, line); }

}  // namespace wh

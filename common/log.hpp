// Logging from the core without knowing where lines go: the module routes them into
// httpd's error log, the worker to stderr ("[level] line", with an RFC 3339 UTC time in front
// unless stderr is the journal, which stamps lines itself). Every warning or error carries a
// unique tag (WH00001…) and says what to do about it; tags are listed in the README.
#pragma once

#include <chrono>
#include <string>

namespace wh {

enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };

using LogSink = void (*)(void* baton, LogLevel level, const std::string& line);

void set_log_sink(LogSink sink, void* baton);
// Lines above `level` are dropped before the sink (the worker's --log-level). Default: debug,
// everything goes to the sink (httpd filters by its own LogLevel).
void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
void log_line(LogLevel level, const std::string& line);

// The stderr sink's decision: true when JOURNAL_STREAM ("DEV:INODE", set by systemd when it
// connects stderr to the journal) names the device and inode of stderr (fstat of fd 2).
bool journal_stream_matches(const char* journal_stream, unsigned long long dev, unsigned long long ino);
// The stderr sink's prefix: "2026-12-04T18:43:20.123Z" (UTC, milliseconds).
std::string log_timestamp(std::chrono::system_clock::time_point t);

inline void log_error(const std::string& l) { log_line(LogLevel::error, l); }
inline void log_warn(const std::string& l) { log_line(LogLevel::warn, l); }
inline void log_info(const std::string& l) { log_line(LogLevel::info, l); }
inline void log_debug(const std::string& l) { log_line(LogLevel::debug, l); }

}  // namespace wh

// Worker-side logging helpers on top of the shared wh log sink (stderr by default): a level
// gate for --log-level and a throttle so a repeating problem is not logged on every loop.
#pragma once

#include <string>

#include "log.hpp"  // common/log.hpp

namespace wh::worker {

void set_log_level(LogLevel level);
LogLevel log_level();
inline bool log_enabled(LogLevel level) { return int(level) <= int(log_level()); }

inline void wlog(LogLevel level, const std::string& line) {
    if (log_enabled(level)) log_line(level, line);
}

// True when a line keyed `key` may be logged now: at most once per `seconds`.
bool log_throttle(const std::string& key, int seconds);

}  // namespace wh::worker

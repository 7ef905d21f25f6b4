// The worker logs through the shared wh log front-end (common/log.hpp: log_error … log_debug,
// gated by --log-level); this adds a throttle so a repeating problem is not logged on every
// loop.
#pragma once

#include <string>

#include "log.hpp"  // common/log.hpp

namespace wh::worker {

// True when a line keyed `key` may be logged now: at most once per `seconds`. Thread-safe
// (the loop and the recorder thread).
bool log_throttle(const std::string& key, int seconds);

}  // namespace wh::worker

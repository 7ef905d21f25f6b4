#include "worker_log.hpp"

#include <chrono>
#include <map>
#include <mutex>

namespace wh::worker {

namespace {
LogLevel g_level = LogLevel::info;
}

void set_log_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }

bool log_throttle(const std::string& key, int seconds) {
    static std::mutex m;  // the loop and the recorder thread
    static std::map<std::string, std::chrono::steady_clock::time_point> last;
    std::lock_guard<std::mutex> lk(m);
    auto now = std::chrono::steady_clock::now();
    auto it = last.find(key);
    if (it != last.end() && now - it->second < std::chrono::seconds(seconds)) return false;
    last[key] = now;
    return true;
}

}  // namespace wh::worker

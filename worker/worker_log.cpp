#include "worker_log.hpp"

#include <mutex>

#include "throttle.hpp"

namespace wh::worker {

bool log_throttle(const std::string& key, int seconds) {
    static std::mutex m;
    static std::map<int, Throttle<std::string>> by_gap;  // one throttle per gap
    std::lock_guard<std::mutex> lk(m);
    auto& throttle = by_gap.try_emplace(seconds, std::chrono::seconds(seconds)).first->second;
    return throttle.allow(key, Throttle<std::string>::Clock::now());
}

}  // namespace wh::worker

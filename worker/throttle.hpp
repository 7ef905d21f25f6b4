// At most once per gap per key: the auto-disable check per endpoint (lifecycle.hpp) and the
// log lines of a repeating problem (worker_log.hpp). Not thread-safe; pure, unit-tested.
#pragma once

#include <chrono>
#include <iterator>
#include <map>

namespace wh::worker {

template <class Key>
class Throttle {
public:
    using Clock = std::chrono::steady_clock;
    explicit Throttle(std::chrono::milliseconds gap) : gap_(gap) {}

    // True (and remembered) when `key` may go ahead now: not within the gap of its last time.
    bool allow(const Key& key, Clock::time_point now) {
        auto it = last_.find(key);
        if (it != last_.end() && now < it->second + gap_) return false;
        last_[key] = now;
        if (last_.size() > 10000) {  // forget stale entries (bounded memory)
            for (auto i = last_.begin(); i != last_.end();)
                i = now >= i->second + gap_ ? last_.erase(i) : std::next(i);
        }
        return true;
    }
    std::chrono::milliseconds gap() const { return gap_; }
    size_t size() const { return last_.size(); }

private:
    std::chrono::milliseconds gap_;
    std::map<Key, Clock::time_point> last_;
};

}  // namespace wh::worker

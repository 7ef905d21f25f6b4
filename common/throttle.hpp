// At most once per gap per key: the worker's auto-disable check per endpoint
// (worker/lifecycle.hpp), the log lines of a repeating problem (worker/worker_log.hpp, the
// module's database errors). Not thread-safe; pure, unit-tested.
#pragma once

#include <chrono>
#include <cstdint>
#include <iterator>
#include <map>

namespace wh {

template <class Key>
class Throttle {
public:
    using Clock = std::chrono::steady_clock;
    explicit Throttle(std::chrono::milliseconds gap) : gap_(gap) {}

    // True (and remembered) when `key` may go ahead now: not within the gap of its last time.
    // skipped, when given, gets how many times the key was refused since it last went ahead.
    bool allow(const Key& key, Clock::time_point now, uint64_t* skipped = nullptr) {
        auto it = last_.find(key);
        if (it != last_.end() && now < it->second.at + gap_) {
            ++it->second.skipped;
            return false;
        }
        if (skipped) *skipped = it != last_.end() ? it->second.skipped : 0;
        last_[key] = Seen{now, 0};
        if (last_.size() > 10000) {  // forget stale entries (bounded memory)
            for (auto i = last_.begin(); i != last_.end();)
                i = now >= i->second.at + gap_ ? last_.erase(i) : std::next(i);
        }
        return true;
    }
    std::chrono::milliseconds gap() const { return gap_; }
    size_t size() const { return last_.size(); }

private:
    struct Seen {
        Clock::time_point at;
        uint64_t skipped;
    };
    std::chrono::milliseconds gap_;
    std::map<Key, Seen> last_;
};

}  // namespace wh

#include "payload.hpp"

#include <algorithm>
#include <iterator>

namespace wh::worker {

std::shared_ptr<const std::string> SharedEventData::share(uint64_t event_id,
                                                          std::shared_ptr<const std::string> loaded) {
    std::weak_ptr<const std::string>& slot = held_[event_id];
    if (auto live = slot.lock()) return live;
    slot = loaded;
    if (held_.size() >= sweep_at_) {
        for (auto it = held_.begin(); it != held_.end();) it = it->second.expired() ? held_.erase(it) : std::next(it);
        sweep_at_ = std::max<size_t>(64, 2 * held_.size());
    }
    return loaded;
}

}  // namespace wh::worker

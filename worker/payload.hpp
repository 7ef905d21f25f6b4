// The worker's side of the notification body (common/notification.hpp builds it): the data
// of the events in flight, held once however many notifications carry it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "notification.hpp"

namespace wh::worker {

using wh::build_payload;
using wh::json_quote;
using wh::Payload;
using wh::PayloadFields;

// The data of the events in flight, by event id: a claim that loads an event whose earlier
// notifications are still in flight (claimed in an earlier batch) uses the copy they hold,
// so an event's data is in memory once however its notifications were claimed.
class SharedEventData {
public:
    // The live copy of event_id's data if there is one, else `loaded` (kept for later calls).
    std::shared_ptr<const std::string> share(uint64_t event_id, std::shared_ptr<const std::string> loaded);
    size_t tracked() const { return held_.size(); }  // entries, live or not yet swept (tests)

private:
    std::map<uint64_t, std::weak_ptr<const std::string>> held_;
    size_t sweep_at_ = 64;  // entries past which the expired ones are dropped
};

}  // namespace wh::worker

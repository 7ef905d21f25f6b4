// Endpoint lifecycle: automatic disable after sustained failure, and
// the `system.endpoint-disabled` event to the integrator's other endpoints in the same scope.
//
// Auto-disable rule (`auto_disable_after`, default 5d): an endpoint is disabled when no
// attempt has succeeded since the clock started and its failed attempts span at least the
// period: there is a failed attempt at least `period` old, after the clock start. The clock
// starts at the endpoint's last successful attempt, or at its last change (updated_at: a
// PATCH, a re-enable, a secret rotation), whichever is later: re-enabling gives the endpoint
// a full period again. Checked when an attempt fails, at most once per endpoint per
// min(period / 4, 60 s) per worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "db.hpp"
#include "throttle.hpp"

namespace wh::worker {

constexpr const char* kEndpointDisabledCode = "system.endpoint-disabled";

// ---- pure parts (unit-tested) ---------------------------------------------------------

// "5d", "12h", "90m", "3s", "1500ms": the largest unit that divides the period.
std::string format_period(long long ms);

// The disabled_reason of an automatic disable.
std::string auto_disable_reason(long long period_ms);

// The data of a system.endpoint-disabled event: {"endpointId","url","reason","disabledAt"}.
std::string endpoint_disabled_data(const std::string& endpoint_id, const std::string& url,
                                   const std::string& reason, const std::string& disabled_at);

// Per-endpoint throttle of the auto-disable check: a quarter of the period, from 100 ms to
// 60 s.
class CheckThrottle : public Throttle<uint64_t> {
public:
    explicit CheckThrottle(long long period_ms);
};

// ---- database side --------------------------------------------------------------------

struct DisableResult {
    bool disabled = false;      // this call disabled the endpoint
    uint64_t notified = 0;      // deliveries of the system event created
    std::string endpoint_public_id, reason;
};

// Applies the auto-disable rule to one endpoint (after a failed attempt); when it holds,
// disables the endpoint and publishes the system event, all in one transaction. A no-op for
// an endpoint already disabled or deleted. Throws DbError.
DisableResult auto_disable_if_failing(Db& db, uint64_t endpoint_id, long long period_ms);

// On 410 Gone: disables the endpoint and publishes the system event, inside the caller's
// transaction (the one recording the attempt), so neither happens without the other.
// A no-op for an endpoint already disabled or deleted.
DisableResult disable_gone(Db& d, uint64_t endpoint_id);

}  // namespace wh::worker

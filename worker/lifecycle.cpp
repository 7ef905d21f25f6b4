#include "lifecycle.hpp"

#include <algorithm>

#include "json.hpp"
#include "parse.hpp"

namespace wh::worker {

std::string format_period(long long ms) {
    struct Unit { long long ms; const char* name; };
    static const Unit units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
    if (ms <= 0) return "0s";
    for (const auto& u : units)
        if (ms % u.ms == 0) return std::to_string(ms / u.ms) + u.name;
    return std::to_string(ms) + "ms";
}

std::string auto_disable_reason(long long period_ms) {
    return "auto-disabled: every delivery attempt failed for " + format_period(period_ms);
}

std::string endpoint_disabled_data(const std::string& endpoint_id, const std::string& url,
                                   const std::string& reason, const std::string& disabled_at) {
    JsonPtr o(json_object());
    json_object_set_new(o.get(), "endpointId", json_string(endpoint_id.c_str()));
    json_object_set_new(o.get(), "url", json_string(url.c_str()));
    json_object_set_new(o.get(), "reason", json_string(reason.c_str()));
    json_object_set_new(o.get(), "disabledAt", json_string(disabled_at.c_str()));
    return json_dump(o.get());
}

CheckThrottle::CheckThrottle(long long period_ms)
    : Throttle(std::chrono::milliseconds(std::clamp<long long>(period_ms / 4, 100, 60000))) {}

namespace {

// The database's clock now, in RFC 3339 (UTC: the session's time zone is +00:00).
std::string db_now(Db& d) {
    Rows now = d.query("SELECT NOW(3)");
    return now.empty() ? std::string() : rfc3339_from_db(now[0][0].value_or(""));
}

// The endpoint a disable is about, as locked for it.
struct DisablingEndpoint {
    uint64_t id = 0;
    std::string public_id, url, scope_kind, scope_id;
    bool enabled = false;
};

// Locks the endpoint row (FOR UPDATE): disabling and announcing are serialised per endpoint.
bool lock_endpoint(Db& d, uint64_t id, DisablingEndpoint& ep) {
    Rows r = d.query("SELECT public_id, url, scope_kind, scope_id, enabled FROM webhook_endpoints "
                     "WHERE id = ? AND deleted_at IS NULL FOR UPDATE",
                     {id});
    if (r.empty()) return false;
    const auto& row = r[0];
    ep.id = id;
    ep.public_id = row[r.col("public_id")].value_or("");
    ep.url = row[r.col("url")].value_or("");
    ep.scope_kind = row[r.col("scope_kind")].value_or("");
    ep.scope_id = row[r.col("scope_id")].value_or("");
    ep.enabled = row[r.col("enabled")].value_or("0") == "1";
    return true;
}

// Inserts the system event (already fanned out) and its deliveries to the other enabled,
// subscribed endpoints of the same scope. The event carries the scope's ID in resellerId or
// portfolioId and "" in the other (a scope is one or the other).
uint64_t publish_disabled(Db& d, const DisablingEndpoint& ep, const std::string& reason,
                          const std::string& disabled_at) {
    bool reseller = ep.scope_kind == "reseller";
    std::string key = "endpoint-disabled:" + ep.public_id + ":" + disabled_at;
    uint64_t inserted = d.exec(
        "INSERT IGNORE INTO webhook_events (event_code, reseller_id, portfolio_id, data, idempotency_key, "
        "fanned_out_at) VALUES (?, ?, ?, ?, ?, NOW(3))",
        {kEndpointDisabledCode, reseller ? ep.scope_id : std::string(), reseller ? std::string() : ep.scope_id,
         endpoint_disabled_data(ep.public_id, ep.url, reason, disabled_at), key});
    if (inserted == 0) return 0;  // another worker published this disable already
    uint64_t event_id = d.last_insert_id();
    return d.exec(
        "INSERT IGNORE INTO webhook_deliveries (event_id, endpoint_id, event_code) "
        "SELECT ?, o.id, s.event_code FROM webhook_endpoints o "
        "JOIN webhook_endpoint_subscriptions s ON s.endpoint_id = o.id AND s.event_code = ? "
        "WHERE o.scope_kind = ? AND o.scope_id = ? AND o.id <> ? AND o.enabled = 1 AND o.deleted_at IS NULL "
        "ORDER BY o.id",
        {event_id, kEndpointDisabledCode, ep.scope_kind, ep.scope_id, ep.id});
}

// Disables the locked endpoint with `reason` and publishes the system event (at = when).
DisableResult disable(Db& d, const DisablingEndpoint& ep, const std::string& reason, const std::string& at) {
    d.exec("UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ? WHERE id = ?", {reason, ep.id});
    DisableResult r;
    r.disabled = true;
    r.endpoint_public_id = ep.public_id;
    r.reason = reason;
    r.notified = publish_disabled(d, ep, reason, at);
    return r;
}

// The endpoint's (ep) last successful attempt, test notifications left out (they never count
// for or against an endpoint): backwards on (endpoint_id, delivered_at) to the first
// delivery that is not a test, almost always the first one.
const char* kLastSuccess =
    "(SELECT d.delivered_at FROM webhook_deliveries d STRAIGHT_JOIN webhook_events e ON e.id = d.event_id "
    "WHERE d.endpoint_id = ep.id AND d.delivered_at IS NOT NULL AND e.test_endpoint_id IS NULL "
    "ORDER BY d.delivered_at DESC LIMIT 1)";

}  // namespace

DisableResult auto_disable_if_failing(Db& db, uint64_t endpoint_id, long long period_ms) {
    DisableResult res;
    if (period_ms <= 0) return res;
    long long period_us = period_ms * 1000;
    // Cheap test first, without locks: the last success (an index dive on
    // (endpoint_id, delivered_at)) and the endpoint's last change start the clock.
    Rows start = db.query(std::string("SELECT GREATEST(ep.updated_at, COALESCE(") + kLastSuccess +
                              ", ep.updated_at)) FROM webhook_endpoints ep "
                              "WHERE ep.id = ? AND ep.enabled = 1 AND ep.deleted_at IS NULL",
                          {endpoint_id});
    if (start.empty() || !start[0][0]) return res;
    std::string clock_start = *start[0][0];
    // A failed attempt after the clock start that is at least `period` old. Only deliveries
    // attempted since the clock start can hold one ((endpoint_id, last_attempt_at) index).
    Rows old_failure = db.query(
        "SELECT 1 FROM webhook_deliveries d JOIN webhook_attempts a ON a.delivery_id = d.id "
        "JOIN webhook_events e ON e.id = d.event_id AND e.test_endpoint_id IS NULL "
        "WHERE d.endpoint_id = ? AND d.last_attempt_at > ? AND a.outcome = 'failure' "
        "AND a.started_at > ? AND a.started_at <= NOW(3) - INTERVAL ? MICROSECOND LIMIT 1",
        {endpoint_id, clock_start, clock_start, period_us});
    if (old_failure.empty()) return res;

    std::string reason = auto_disable_reason(period_ms);
    return with_transaction(db, [&](Db& d) {
        DisablingEndpoint ep;
        if (!lock_endpoint(d, endpoint_id, ep) || !ep.enabled) return DisableResult();
        // Re-check the clock under the lock: a success or a change since the test wins.
        Rows again = d.query(std::string("SELECT 1 FROM webhook_endpoints ep WHERE ep.id = ? AND ep.updated_at <= ? "
                                         "AND COALESCE(") + kLastSuccess + ", ep.updated_at) <= ?",
                             {endpoint_id, clock_start, clock_start});
        if (again.empty()) return DisableResult();
        return disable(d, ep, reason, db_now(d));
    });
}

DisableResult disable_gone(Db& d, uint64_t endpoint_id) {
    DisablingEndpoint ep;
    if (!lock_endpoint(d, endpoint_id, ep) || !ep.enabled) return DisableResult();
    std::string at = db_now(d);
    // The reason gives the time to the second.
    std::string reason = "410 Gone from the receiver at " + at.substr(0, 19) + "Z; PATCH enabled=true to resume";
    return disable(d, ep, reason, at);
}

}  // namespace wh::worker

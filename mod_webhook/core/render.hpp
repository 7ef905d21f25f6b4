// JSON renderings of stored resources.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "json.hpp"

namespace wh::api {

// One webhook_endpoints row plus its subscriptions, as the API shows it.
struct EndpointRow {
    uint64_t id = 0;
    std::string public_id;
    std::string url;
    std::string scope_kind;  // "reseller" | "portfolio"
    std::string scope_id;
    std::optional<std::string> username;
    bool has_password = false;
    std::string ack_mode;
    bool enabled = true;
    std::optional<std::string> disabled_reason;
    std::optional<std::string> description;
    std::string created_at;  // DB text, UTC
    std::string updated_at;
    std::vector<std::string> event_types;
};

// The endpoint resource of docs/contract.md §4; "secret" only when given (create, rotate).
// Never contains the password.
JsonPtr endpoint_json(const EndpointRow& row, const std::string* secret = nullptr);

// One webhook_deliveries row with its endpoint's and event's public ids.
struct DeliveryRow {
    uint64_t id = 0;
    std::string notification_id;
    std::string endpoint_public_id;
    std::string scope_kind, scope_id;  // the endpoint's scope (for authorization)
    std::string event_public_id;
    std::string event_code;
    std::string status;
    unsigned attempts = 0;
    std::optional<std::string> next_attempt_at;  // DB text, UTC
    std::optional<std::string> last_attempt_at;
    std::optional<std::string> last_http_status;
    std::optional<std::string> last_error;
    std::optional<std::string> delivered_at;
    std::string created_at;
    std::string updated_at;
    bool test = false;  // a test notification (POST /endpoints/{id}/test)
};

struct AttemptRow {
    unsigned attempt_no = 0;
    std::string started_at;
    long long duration_ms = 0;
    std::string outcome;  // success | failure
    std::optional<std::string> http_status;
    std::optional<std::string> error_class;
    std::optional<std::string> error_message;
    std::optional<std::string> response_excerpt;  // raw bytes; shown as text
};

// {"notificationId","endpointId","eventId","eventCode","status","attemptCount",
//  "nextAttemptAt","lastAttemptAt","lastHttpStatus","lastError","deliveredAt","createdAt",
//  "updatedAt","test"} plus "attempts":[…] when attempts is given.
JsonPtr delivery_json(const DeliveryRow& row, const std::vector<AttemptRow>* attempts = nullptr);

// GET /endpoints/{id}/stats: the endpoint's attempts of the last 24 h, its backlog now and
// its newest failed attempt.
struct EndpointStats {
    unsigned long long attempts = 0, succeeded = 0, failed = 0;
    std::optional<long long> p50, p95, p99;  // attempt durations, ms; none without attempts
    unsigned long long pending = 0;           // pending + inflight deliveries
    std::optional<std::string> oldest_pending_at;  // DB text, UTC
    std::optional<AttemptRow> last_error;          // started_at, http_status, error_class, error_message
};

// {"window","attempts","succeeded","failed","successRate","latencyMs":{"p50","p95","p99"},
//  "pending","oldestPendingAt","lastError":{"at","httpStatus","errorClass","message"}|null}
JsonPtr endpoint_stats_json(const EndpointStats& s);

// One page of a list: {"<key>": items, "next": the cursor of the next page or null}.
// Takes ownership of items (a JSON array).
JsonPtr list_page_json(const char* key, json_t* items, const std::optional<std::string>& next);

}  // namespace wh::api

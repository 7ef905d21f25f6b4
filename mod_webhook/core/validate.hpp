// Pure request validation: no DB, no httpd. Each function reports EVERY bad field.
#pragma once

#include <jansson.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "http.hpp"
#include "json.hpp"
#include "problem.hpp"
#include "util.hpp"  // rfc3339_to_db

namespace wh::api {

// Event codes known to the catalogue table.
using Catalogue = std::set<std::string>;

// True for application/json with optional parameters (charset=utf-8, …), any case.
bool is_json_content_type(const std::string& content_type);

// Parses a request body as JSON (UTF-8, no duplicate keys). Returns null and a reason
// when malformed (-> 400).
JsonPtr parse_json_body(const std::string& body, std::string& error);

// Limits from the contract (docs/contract.md) and the schema.
constexpr size_t kMaxUsername = 255;
constexpr size_t kMaxPassword = 512;      // bytes; sealed it must fit VARCHAR(1024)
constexpr size_t kMaxDescription = 1024;  // characters
constexpr size_t kMaxIdempotencyKey = 255;
constexpr size_t kMaxBatch = 1000;
// Levels of objects/arrays in an event's data, data itself included (422 above): MariaDB's
// JSON_VALID, the CHECK on webhook_events.data, refuses documents nesting 32 levels or more.
constexpr size_t kMaxDataDepth = 31;
constexpr long long kMaxEventDate = 253402300799999LL;  // 9999-12-31T23:59:59.999Z
constexpr unsigned kDefaultListLimit = 50;
constexpr unsigned kMaxListLimit = 200;

// ---- endpoints ----

struct EndpointInput {
    std::string url;
    std::string scope_kind;  // "reseller" or "portfolio"
    std::string scope_id;
    std::vector<std::string> event_types;
    std::optional<std::string> username;
    std::optional<std::string> password;
    std::optional<std::string> description;
    std::string ack_mode = "notification-id";
    bool enabled = true;
};

// POST /endpoints body. Fills out and returns the errors (empty = valid).
FieldErrors validate_endpoint_create(const json_t* body, const Catalogue& catalogue,
                                     const ApiConfig& config, EndpointInput& out);

struct EndpointPatch {
    std::optional<std::string> url;
    std::optional<std::vector<std::string>> event_types;
    bool set_credentials = false;            // username+password given (strings or nulls)
    std::optional<std::string> username;     // with set_credentials: nullopt = remove
    std::optional<std::string> password;
    bool set_description = false;
    std::optional<std::string> description;  // with set_description: nullopt = remove
    std::optional<std::string> ack_mode;
    std::optional<bool> enabled;
};

// PATCH /endpoints/{id} body.
FieldErrors validate_endpoint_patch(const json_t* body, const Catalogue& catalogue,
                                    const ApiConfig& config, EndpointPatch& out);

struct ListQuery {
    std::optional<std::string> reseller_id;
    std::optional<std::string> portfolio_id;
    unsigned limit = kDefaultListLimit;
    std::optional<std::string> after;
};

// GET /endpoints query parameters (unknown parameters are ignored).
FieldErrors validate_list_query(const std::map<std::string, std::string>& query, ListQuery& out);

// ---- deliveries ----

struct DeliveryListQuery {
    std::optional<std::string> status;  // pending|inflight|delivered|failed|cancelled
    std::optional<std::string> event_code;  // a code of the catalogue
    std::optional<std::string> since;   // createdAt >= this (database UTC text)
    std::optional<std::string> until;   // createdAt <= this (database UTC text)
    unsigned limit = kDefaultListLimit;
    std::optional<std::string> after;   // notificationId of the previous page's last item
};

// GET /endpoints/{id}/deliveries query parameters (unknown parameters are ignored):
// status, eventCode (a code of `catalogue`), since/until (RFC 3339, until not before
// since), limit, after.
FieldErrors validate_delivery_query(const std::map<std::string, std::string>& query,
                                    const Catalogue& catalogue, DeliveryListQuery& out);

// POST /endpoints/{id}/recover body: {"since": RFC 3339}.
FieldErrors validate_recover(const json_t* body, std::string& since_db_utc);

// POST /endpoints/{id}/test body: {"eventCode"?: a catalogue code}. body null (no body):
// nothing to check, event_code stays empty (the caller's default).
FieldErrors validate_test_request(const json_t* body, const Catalogue& catalogue, std::string& event_code);

// ---- events ----

struct EventInput {
    std::string event_code;
    std::string reseller_id;
    std::string portfolio_id;
    std::optional<std::string> merchant_id;
    std::optional<long long> event_date;  // epoch ms; nullopt = the DB default (now)
    std::string data_json;                // compact JSON text of the data object
    std::optional<std::string> idempotency_key;
    std::optional<std::string> ordering_key;  // orderingKey: per-key order for endpoints that ask
};

// POST /events body: one event object or an array of 1..1000. header_key is the
// Idempotency-Key header ("" when absent), allowed for a single event only. Field names
// are "eventCode" for one event and "[i].eventCode" for an array.
FieldErrors validate_events(const json_t* body, const std::string& header_key,
                            const Catalogue& catalogue, std::vector<EventInput>& out,
                            bool& is_array);

}  // namespace wh::api

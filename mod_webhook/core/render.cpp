#include "render.hpp"

#include "util.hpp"

namespace wh::api {

namespace {
json_t* opt_text(const std::optional<std::string>& s) { return s ? json_text(*s) : json_null(); }
json_t* opt_time(const std::optional<std::string>& s) { return s ? json_text(rfc3339_from_db(*s)) : json_null(); }
json_t* opt_int(const std::optional<std::string>& s) {
    if (!s || s->empty()) return json_null();
    try {
        return json_integer(std::stoll(*s));
    } catch (...) {
        return json_null();
    }
}
}  // namespace

JsonPtr endpoint_json(const EndpointRow& row, const std::string* secret) {
    JsonPtr j(json_object());
    json_t* o = j.get();
    json_object_set_new(o, "id", json_text(row.public_id));
    json_object_set_new(o, "url", json_text(row.url));
    json_object_set_new(o, row.scope_kind == "portfolio" ? "portfolioId" : "resellerId",
                        json_text(row.scope_id));
    json_t* types = json_array();
    for (const auto& t : row.event_types) json_array_append_new(types, json_text(t));
    json_object_set_new(o, "eventTypes", types);
    json_object_set_new(o, "username", opt_text(row.username));
    json_object_set_new(o, "hasPassword", json_boolean(row.has_password));
    json_object_set_new(o, "ackMode", json_text(row.ack_mode));
    json_object_set_new(o, "enabled", json_boolean(row.enabled));
    json_object_set_new(o, "disabledReason", opt_text(row.disabled_reason));
    json_object_set_new(o, "description", opt_text(row.description));
    json_object_set_new(o, "createdAt", json_text(rfc3339_from_db(row.created_at)));
    json_object_set_new(o, "updatedAt", json_text(rfc3339_from_db(row.updated_at)));
    if (secret) json_object_set_new(o, "secret", json_text(*secret));
    return j;
}

JsonPtr delivery_json(const DeliveryRow& row, const std::vector<AttemptRow>* attempts) {
    JsonPtr j(json_object());
    json_t* o = j.get();
    json_object_set_new(o, "notificationId", json_text(row.notification_id));
    json_object_set_new(o, "endpointId", json_text(row.endpoint_public_id));
    json_object_set_new(o, "eventId", json_text(row.event_public_id));
    json_object_set_new(o, "eventCode", json_text(row.event_code));
    json_object_set_new(o, "status", json_text(row.status));
    json_object_set_new(o, "attemptCount", json_integer(row.attempts));
    json_object_set_new(o, "nextAttemptAt", row.status == "pending" ? opt_time(row.next_attempt_at) : json_null());
    json_object_set_new(o, "lastAttemptAt", opt_time(row.last_attempt_at));
    json_object_set_new(o, "lastHttpStatus", opt_int(row.last_http_status));
    json_object_set_new(o, "lastError", opt_text(row.last_error));
    json_object_set_new(o, "deliveredAt", opt_time(row.delivered_at));
    json_object_set_new(o, "createdAt", json_text(rfc3339_from_db(row.created_at)));
    json_object_set_new(o, "updatedAt", json_text(rfc3339_from_db(row.updated_at)));
    json_object_set_new(o, "test", json_boolean(row.test));
    if (attempts) {
        json_t* arr = json_array();
        for (const auto& a : *attempts) {
            json_t* x = json_object();
            json_object_set_new(x, "attemptNo", json_integer(a.attempt_no));
            json_object_set_new(x, "startedAt", json_text(rfc3339_from_db(a.started_at)));
            json_object_set_new(x, "durationMs", json_integer(a.duration_ms));
            json_object_set_new(x, "outcome", json_text(a.outcome));
            json_object_set_new(x, "httpStatus", opt_int(a.http_status));
            json_object_set_new(x, "errorClass", opt_text(a.error_class));
            json_object_set_new(x, "errorMessage", opt_text(a.error_message));
            json_object_set_new(x, "responseExcerpt", opt_text(a.response_excerpt));
            json_array_append_new(arr, x);
        }
        json_object_set_new(o, "attempts", arr);
    }
    return j;
}

JsonPtr endpoint_stats_json(const EndpointStats& s) {
    auto opt_ms = [](const std::optional<long long>& v) { return v ? json_integer(*v) : json_null(); };
    JsonPtr j(json_object());
    json_t* o = j.get();
    json_object_set_new(o, "window", json_string("24h"));
    json_object_set_new(o, "attempts", json_integer(json_int_t(s.attempts)));
    json_object_set_new(o, "succeeded", json_integer(json_int_t(s.succeeded)));
    json_object_set_new(o, "failed", json_integer(json_int_t(s.failed)));
    json_object_set_new(o, "successRate",
                        s.attempts ? json_real(double(s.succeeded) / double(s.attempts)) : json_null());
    json_t* lat = json_object();
    json_object_set_new(lat, "p50", opt_ms(s.p50));
    json_object_set_new(lat, "p95", opt_ms(s.p95));
    json_object_set_new(lat, "p99", opt_ms(s.p99));
    json_object_set_new(o, "latencyMs", lat);
    json_object_set_new(o, "pending", json_integer(json_int_t(s.pending)));
    json_object_set_new(o, "oldestPendingAt", opt_time(s.oldest_pending_at));
    json_t* err = json_null();
    if (s.last_error) {
        const AttemptRow& a = *s.last_error;
        err = json_object();
        json_object_set_new(err, "at", json_text(rfc3339_from_db(a.started_at)));
        json_object_set_new(err, "httpStatus", opt_int(a.http_status));
        json_object_set_new(err, "errorClass", opt_text(a.error_class));
        json_object_set_new(err, "message", opt_text(a.error_message));
    }
    json_object_set_new(o, "lastError", err);
    return j;
}

JsonPtr list_page_json(const char* key, json_t* items, const std::optional<std::string>& next) {
    JsonPtr j(json_object());
    json_object_set_new(j.get(), key, items);
    json_object_set_new(j.get(), "next", opt_text(next));
    return j;
}

}  // namespace wh::api

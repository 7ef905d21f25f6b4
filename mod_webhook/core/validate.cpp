#include "validate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "log.hpp"
#include "parse.hpp"
#include "target.hpp"
#include "util.hpp"

namespace wh::api {

namespace {

std::string str_of(const json_t* v) {
    return std::string(json_string_value(v), json_string_length(v));
}

// A caller's value quoted back in a message: at most 64 bytes, cut on a character boundary.
std::string echo(const std::string& s) {
    if (s.size() <= 64) return s;
    size_t n = 64;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return s.substr(0, n) + "...";
}

void add(FieldErrors& errs, const std::string& field, const std::string& message) {
    errs.push_back({field, message});
}

void check_unknown(const json_t* obj, const std::set<std::string>& known, const std::string& prefix,
                   FieldErrors& errs) {
    const char* key;
    json_t* value;
    json_object_foreach(const_cast<json_t*>(obj), key, value) {
        (void)value;
        if (!known.count(key)) add(errs, prefix + key, "unknown field");
    }
}

bool check_url(const json_t* v, const ApiConfig& cfg, FieldErrors& errs, std::string& out) {
    if (!json_is_string(v)) {
        add(errs, "url", "must be a string");
        return false;
    }
    std::string s = str_of(v);
    wh::Url u;
    std::string e = wh::parse_url(s, u);
    std::string detail;  // the refused address: the admin's log, never the caller's answer
    if (e.empty()) e = cfg.check_target ? cfg.check_target(u, cfg.policy)
                                        : wh::check_target(u, cfg.policy, nullptr, &detail);
    if (!detail.empty() && e == wh::kTargetResolveTimeout)
        wh::log_warn("WH00045: an endpoint URL was refused (422): " + detail + " did not resolve within " +
                     std::to_string(wh::kResolveTimeout.count()) +
                     " ms; check the DNS resolver of this host (/etc/resolv.conf, its name servers)");
    else if (!detail.empty())
        wh::log_warn("WH00044: an endpoint URL was refused (422): " + detail +
                     "; if this receiver is meant to be reached, add its range to WebhookAllowPrivateTargets "
                     "(and the worker's allow_private_targets)");
    if (!e.empty()) {
        add(errs, "url", e);
        return false;
    }
    out = s;
    return true;
}

bool check_event_types(const json_t* v, const Catalogue& cat, FieldErrors& errs,
                       std::vector<std::string>& out) {
    if (!json_is_array(v)) {
        add(errs, "eventTypes", "must be an array of event type codes");
        return false;
    }
    if (json_array_size(v) == 0) {
        add(errs, "eventTypes", "must name at least one event type");
        return false;
    }
    // More items than the catalogue has codes cannot all be known and distinct: one error,
    // not one per item (a 1 MiB body holds 200,000 of them).
    if (json_array_size(v) > cat.size()) {
        add(errs, "eventTypes", "names " + std::to_string(json_array_size(v)) + " event types, but the catalogue "
                                "has only " + std::to_string(cat.size()) + " (see GET /event-types); list each "
                                "type once");
        return false;
    }
    bool ok = true;
    std::set<std::string> seen;
    size_t i;
    json_t* item;
    json_array_foreach(const_cast<json_t*>(v), i, item) {
        std::string field = "eventTypes[" + std::to_string(i) + "]";
        if (!json_is_string(item)) {
            add(errs, field, "must be a string");
            ok = false;
            continue;
        }
        std::string code = str_of(item);
        if (!cat.count(code)) {
            add(errs, field, "unknown event type '" + echo(code) + "' (see GET /event-types)");
            ok = false;
        } else if (!seen.insert(code).second) {
            add(errs, field, "duplicate event type '" + echo(code) + "'");
            ok = false;
        } else {
            out.push_back(code);
        }
    }
    return ok;
}

bool has_control_chars(const std::string& s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7F) return true;
    return false;
}

bool check_username(const json_t* v, FieldErrors& errs, std::string& out) {
    if (!json_is_string(v)) {
        add(errs, "username", "must be a string");
        return false;
    }
    std::string s = str_of(v);
    if (s.empty() || utf8_length(s) > kMaxUsername) {
        add(errs, "username", "must be 1-" + std::to_string(kMaxUsername) + " characters");
        return false;
    }
    if (s.find(':') != std::string::npos || has_control_chars(s)) {
        add(errs, "username", "must not contain ':' or control characters (HTTP Basic)");
        return false;
    }
    out = s;
    return true;
}

bool check_password(const json_t* v, FieldErrors& errs, std::string& out) {
    if (!json_is_string(v)) {
        add(errs, "password", "must be a string");
        return false;
    }
    std::string s = str_of(v);
    if (s.empty() || s.size() > kMaxPassword) {
        add(errs, "password", "must be 1-" + std::to_string(kMaxPassword) + " bytes");
        return false;
    }
    out = s;
    return true;
}

bool check_description(const json_t* v, FieldErrors& errs, std::optional<std::string>& out) {
    if (json_is_null(v)) {
        out.reset();
        return true;
    }
    if (!json_is_string(v)) {
        add(errs, "description", "must be a string or null");
        return false;
    }
    std::string s = str_of(v);
    if (utf8_length(s) > kMaxDescription) {
        add(errs, "description", "must be at most " + std::to_string(kMaxDescription) + " characters");
        return false;
    }
    if (has_control_chars(s)) {  // it ends up in consoles, logs and the portal
        add(errs, "description", "must not contain control characters");
        return false;
    }
    out = s;
    return true;
}

bool check_ack_mode(const json_t* v, FieldErrors& errs, std::string& out) {
    if (json_is_string(v)) {
        std::string s = str_of(v);
        if (s == "notification-id" || s == "status") {
            out = s;
            return true;
        }
    }
    add(errs, "ackMode", "must be \"notification-id\" or \"status\"");
    return false;
}

bool check_enabled(const json_t* v, FieldErrors& errs, bool& out) {
    if (!json_is_boolean(v)) {
        add(errs, "enabled", "must be true or false");
        return false;
    }
    out = json_is_true(v);
    return true;
}

// A scope/merchant id member; absent or null -> nullopt.
std::optional<std::string> check_id(const json_t* v, const std::string& field, FieldErrors& errs,
                                    bool& bad) {
    bad = false;
    if (!v || json_is_null(v)) return std::nullopt;
    if (!json_is_string(v) || !wh::valid_scope_id(str_of(v))) {
        add(errs, field, "must be 1-64 characters of A-Z a-z 0-9 . _ -");
        bad = true;
        return std::nullopt;
    }
    return str_of(v);
}

const std::set<std::string> kEndpointFields = {"url",      "resellerId",  "portfolioId",
                                               "eventTypes", "username",  "password",
                                               "description", "ackMode",  "enabled"};

}  // namespace

bool is_json_content_type(const std::string& content_type) {
    std::string ct = content_type.substr(0, content_type.find(';'));
    size_t b = ct.find_first_not_of(" \t");
    size_t e = ct.find_last_not_of(" \t");
    if (b == std::string::npos) return false;
    return ascii_lower(ct.substr(b, e - b + 1)) == "application/json";
}

JsonPtr parse_json_body(const std::string& body, std::string& error) {
    if (body.empty()) {
        error = "the request body is empty; send a JSON document";
        return nullptr;
    }
    // Jansson rejects invalid UTF-8 and duplicate keys; we say so in the detail.
    std::string err;
    JsonPtr j = wh::json_parse(body, &err);
    if (!j) error = "malformed JSON: " + err;
    return j;
}

FieldErrors validate_endpoint_create(const json_t* body, const Catalogue& catalogue,
                                     const ApiConfig& config, EndpointInput& out) {
    FieldErrors errs;
    if (!json_is_object(body)) {
        add(errs, "", "the request body must be a JSON object");
        return errs;
    }
    check_unknown(body, kEndpointFields, "", errs);

    const json_t* url = json_object_get(body, "url");
    if (!url) add(errs, "url", "is required");
    else check_url(url, config, errs, out.url);

    bool bad_r, bad_p;
    auto reseller = check_id(json_object_get(body, "resellerId"), "resellerId", errs, bad_r);
    auto portfolio = check_id(json_object_get(body, "portfolioId"), "portfolioId", errs, bad_p);
    if (!bad_r && !bad_p) {
        if (reseller && portfolio) {
            add(errs, "resellerId", "give exactly one of resellerId and portfolioId, not both");
            add(errs, "portfolioId", "give exactly one of resellerId and portfolioId, not both");
        } else if (!reseller && !portfolio) {
            add(errs, "resellerId", "exactly one of resellerId and portfolioId is required");
            add(errs, "portfolioId", "exactly one of resellerId and portfolioId is required");
        } else if (reseller) {
            out.scope_kind = "reseller";
            out.scope_id = *reseller;
        } else {
            out.scope_kind = "portfolio";
            out.scope_id = *portfolio;
        }
    }

    const json_t* types = json_object_get(body, "eventTypes");
    if (!types) add(errs, "eventTypes", "is required");
    else check_event_types(types, catalogue, errs, out.event_types);

    const json_t* user = json_object_get(body, "username");
    const json_t* pass = json_object_get(body, "password");
    if (user && json_is_null(user)) user = nullptr;
    if (pass && json_is_null(pass)) pass = nullptr;
    std::string u, p;
    bool user_ok = user && check_username(user, errs, u);
    bool pass_ok = pass && check_password(pass, errs, p);
    if (user && !pass) add(errs, "password", "is required when username is given");
    if (pass && !user) add(errs, "username", "is required when password is given");
    if (user_ok && pass_ok) {
        out.username = u;
        out.password = p;
    }

    if (const json_t* d = json_object_get(body, "description")) check_description(d, errs, out.description);
    if (const json_t* a = json_object_get(body, "ackMode")) check_ack_mode(a, errs, out.ack_mode);
    if (const json_t* e = json_object_get(body, "enabled")) check_enabled(e, errs, out.enabled);
    return errs;
}

FieldErrors validate_endpoint_patch(const json_t* body, const Catalogue& catalogue,
                                    const ApiConfig& config, EndpointPatch& out) {
    FieldErrors errs;
    if (!json_is_object(body)) {
        add(errs, "", "the request body must be a JSON object");
        return errs;
    }
    check_unknown(body, kEndpointFields, "", errs);  // scope fields get their own message
    for (const char* k : {"resellerId", "portfolioId"})
        if (json_object_get(body, k))
            add(errs, k, "cannot be changed; register a new endpoint for another scope");

    if (const json_t* url = json_object_get(body, "url")) {
        std::string s;
        if (check_url(url, config, errs, s)) out.url = s;
    }
    if (const json_t* types = json_object_get(body, "eventTypes")) {
        std::vector<std::string> v;
        if (check_event_types(types, catalogue, errs, v)) out.event_types = v;
    }
    const json_t* user = json_object_get(body, "username");
    const json_t* pass = json_object_get(body, "password");
    if (user || pass) {
        if (!user) {
            add(errs, "username", "send username and password together (both null to remove them)");
        } else if (!pass) {
            add(errs, "password", "send username and password together (both null to remove them)");
        } else if (json_is_null(user) && json_is_null(pass)) {
            out.set_credentials = true;  // remove
        } else if (json_is_null(user) || json_is_null(pass)) {
            add(errs, json_is_null(user) ? "username" : "password",
                "both username and password must be null to remove the credentials");
        } else {
            std::string u, p;
            bool ok = check_username(user, errs, u);
            ok = check_password(pass, errs, p) && ok;
            if (ok) {
                out.set_credentials = true;
                out.username = u;
                out.password = p;
            }
        }
    }
    if (const json_t* d = json_object_get(body, "description")) {
        if (check_description(d, errs, out.description)) out.set_description = true;
    }
    if (const json_t* a = json_object_get(body, "ackMode")) {
        std::string s;
        if (check_ack_mode(a, errs, s)) out.ack_mode = s;
    }
    if (const json_t* e = json_object_get(body, "enabled")) {
        bool b;
        if (check_enabled(e, errs, b)) out.enabled = b;
    }
    return errs;
}

FieldErrors validate_list_query(const std::map<std::string, std::string>& query, ListQuery& out) {
    FieldErrors errs;
    auto it = query.find("resellerId");
    if (it != query.end()) {
        if (wh::valid_scope_id(it->second)) out.reseller_id = it->second;
        else add(errs, "resellerId", "must be 1-64 characters of A-Z a-z 0-9 . _ -");
    }
    it = query.find("portfolioId");
    if (it != query.end()) {
        if (wh::valid_scope_id(it->second)) out.portfolio_id = it->second;
        else add(errs, "portfolioId", "must be 1-64 characters of A-Z a-z 0-9 . _ -");
    }
    if (query.count("resellerId") && query.count("portfolioId"))
        add(errs, "portfolioId", "filter by resellerId or by portfolioId, not both");
    it = query.find("limit");
    if (it != query.end()) {
        long long v = 0;
        if (!wh::parse_int_min_max(it->second, 1, kMaxListLimit, v).empty())
            add(errs, "limit", "must be an integer from 1 to " + std::to_string(kMaxListLimit));
        else out.limit = unsigned(v);
    }
    it = query.find("after");
    if (it != query.end()) {
        if (!it->second.empty() && it->second.size() <= 32 && wh::valid_scope_id(it->second))
            out.after = it->second;
        else add(errs, "after", "must be the id of an endpoint (the 'next' of the previous page)");
    }
    return errs;
}

namespace {

// since/until of the delivery log: RFC 3339 to database UTC text; until not before since.
void delivery_time_range(const std::map<std::string, std::string>& query, DeliveryListQuery& out,
                         FieldErrors& errs) {
    for (const char* field : {"since", "until"}) {
        auto it = query.find(field);
        if (it == query.end()) continue;
        std::string db;
        if (!rfc3339_to_db(it->second, db))
            add(errs, field, "must be an RFC 3339 date-time such as 2026-11-26T00:00:00Z");
        else
            (std::string(field) == "since" ? out.since : out.until) = db;
    }
    // Both are fixed-width "YYYY-MM-DD hh:mm:ss.mmm" in UTC: text order is time order.
    if (out.since && out.until && *out.until < *out.since) add(errs, "until", "must not be before since");
}

}  // namespace

FieldErrors validate_delivery_query(const std::map<std::string, std::string>& query,
                                    const Catalogue& catalogue, DeliveryListQuery& out) {
    FieldErrors errs;
    ListQuery lq;
    std::map<std::string, std::string> paging;
    for (const char* k : {"limit"})
        if (query.count(k)) paging[k] = query.at(k);
    for (const auto& e : validate_list_query(paging, lq)) errs.push_back(e);
    out.limit = lq.limit;
    auto it = query.find("status");
    if (it != query.end()) {
        static const std::set<std::string> kStatuses = {"pending", "inflight", "delivered", "failed", "cancelled"};
        if (kStatuses.count(it->second)) out.status = it->second;
        else add(errs, "status", "must be one of pending, inflight, delivered, failed, cancelled");
    }
    it = query.find("eventCode");
    if (it != query.end()) {
        if (catalogue.count(it->second)) out.event_code = it->second;
        // Not echoed: a query value is any bytes (JSON bodies are checked UTF-8 before this).
        else add(errs, "eventCode", "must be an event type of the catalogue (see GET /event-types)");
    }
    delivery_time_range(query, out, errs);
    it = query.find("after");
    if (it != query.end()) {
        if (!it->second.empty() && it->second.size() <= 32 && wh::valid_scope_id(it->second))
            out.after = it->second;
        else add(errs, "after", "must be a notificationId (the 'next' of the previous page)");
    }
    return errs;
}

FieldErrors validate_recover(const json_t* body, std::string& since) {
    FieldErrors errs;
    if (!json_is_object(body)) {
        add(errs, "", "the request body must be a JSON object");
        return errs;
    }
    check_unknown(body, {"since"}, "", errs);
    const json_t* v = json_object_get(body, "since");
    if (!v) add(errs, "since", "is required");
    else if (!json_is_string(v) || !rfc3339_to_db(str_of(v), since))
        add(errs, "since", "must be an RFC 3339 date-time such as 2026-11-26T00:00:00Z");
    return errs;
}

FieldErrors validate_test_request(const json_t* body, const Catalogue& catalogue, std::string& event_code) {
    FieldErrors errs;
    if (!body) return errs;
    if (!json_is_object(body)) {
        add(errs, "", "the request body must be a JSON object (or left out)");
        return errs;
    }
    check_unknown(body, {"eventCode"}, "", errs);
    const json_t* v = json_object_get(body, "eventCode");
    if (!v) return errs;
    if (!json_is_string(v)) add(errs, "eventCode", "must be a string: an event type code");
    else if (!catalogue.count(str_of(v)))
        add(errs, "eventCode", "unknown event type '" + echo(str_of(v)) + "' (see GET /event-types)");
    else event_code = str_of(v);
    return errs;
}

namespace {

// Levels of objects/arrays: a scalar is 0, {} is 1, {"a":[1]} is 2. Stops counting past the
// limit, so a hostile document costs no more than the parse did.
size_t json_depth(const json_t* v, size_t level = 0) {
    if (!json_is_object(v) && !json_is_array(v)) return level;
    size_t deepest = level + 1;
    if (deepest > kMaxDataDepth) return deepest;
    if (json_is_object(v)) {
        const char* key;
        json_t* child;
        json_object_foreach(const_cast<json_t*>(v), key, child) {
            (void)key;
            deepest = std::max(deepest, json_depth(child, level + 1));
            if (deepest > kMaxDataDepth) break;
        }
    } else {
        size_t i;
        json_t* child;
        json_array_foreach(const_cast<json_t*>(v), i, child) {
            deepest = std::max(deepest, json_depth(child, level + 1));
            if (deepest > kMaxDataDepth) break;
        }
    }
    return deepest;
}

// The shortest text that reads back as the same double: 0.1 stays "0.1" (Jansson's own
// dump writes %.17g, "0.10000000000000001"); always with a '.' or an exponent, so it stays
// a real for the receiver.
std::string real_text(double v) {
    char buf[40];
    if (v == std::floor(v) && std::fabs(v) < 1e16) {  // 100.0, not 1e+02
        std::snprintf(buf, sizeof buf, "%.1f", v);
        return buf;
    }
    for (int prec = 1; prec <= 17; ++prec) {
        std::snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    std::string out = buf;
    if (out.find_first_of(".eE") == std::string::npos) out += ".0";
    return out;
}

void dump_data_into(const json_t* v, std::string& out) {
    if (json_is_object(v)) {
        out += '{';
        const char* key;
        json_t* child;
        bool first = true;
        json_object_foreach(const_cast<json_t*>(v), key, child) {  // insertion order
            if (!first) out += ',';
            first = false;
            JsonPtr k(json_string(key));
            out += wh::json_dump(k.get());
            out += ':';
            dump_data_into(child, out);
        }
        out += '}';
    } else if (json_is_array(v)) {
        out += '[';
        size_t i;
        json_t* child;
        json_array_foreach(const_cast<json_t*>(v), i, child) {
            if (i) out += ',';
            dump_data_into(child, out);
        }
        out += ']';
    } else if (json_is_real(v)) {
        out += real_text(json_real_value(v));
    } else {
        out += wh::json_dump(v);  // strings (escaped as Jansson does), integers, literals
    }
}

// data as stored and sent: compact, key order kept, reals in their shortest exact form.
std::string dump_data(const json_t* data) {
    std::string out;
    dump_data_into(data, out);
    return out;
}

const std::set<std::string> kEventFields = {"eventCode", "resellerId", "portfolioId",   "merchantId",
                                            "eventDate", "data",       "idempotencyKey", "orderingKey"};

bool check_idempotency_key(const std::string& key, const std::string& field, FieldErrors& errs) {
    // valid_utf8: the header is raw bytes (a body key is always valid, the parser saw to it)
    if (key.empty() || !valid_utf8(key) || utf8_length(key) > kMaxIdempotencyKey || has_control_chars(key)) {
        add(errs, field, "must be 1-" + std::to_string(kMaxIdempotencyKey) +
                             " characters of UTF-8 without control characters");
        return false;
    }
    return true;
}

void validate_event(const json_t* item, const std::string& prefix, const Catalogue& catalogue,
                    FieldErrors& errs, EventInput& ev) {
    if (!json_is_object(item)) {
        add(errs, prefix.empty() ? "" : prefix.substr(0, prefix.size() - 1),
            "an event must be a JSON object");
        return;
    }
    check_unknown(item, kEventFields, prefix, errs);

    const json_t* code = json_object_get(item, "eventCode");
    if (!code) add(errs, prefix + "eventCode", "is required");
    else if (!json_is_string(code)) add(errs, prefix + "eventCode", "must be a string");
    else if (!catalogue.count(str_of(code)))
        add(errs, prefix + "eventCode", "unknown event type '" + echo(str_of(code)) + "' (see GET /event-types)");
    else ev.event_code = str_of(code);

    for (const char* k : {"resellerId", "portfolioId"}) {
        const json_t* v = json_object_get(item, k);
        bool bad;
        auto id = check_id(v, prefix + k, errs, bad);
        if (!bad && !id) add(errs, prefix + k, "is required");
        if (id) (std::strcmp(k, "resellerId") == 0 ? ev.reseller_id : ev.portfolio_id) = *id;
    }
    bool bad;
    ev.merchant_id = check_id(json_object_get(item, "merchantId"), prefix + "merchantId", errs, bad);

    const json_t* date = json_object_get(item, "eventDate");
    if (date && !json_is_null(date)) {
        if (!json_is_integer(date) || json_integer_value(date) < 0 ||
            json_integer_value(date) > kMaxEventDate)
            add(errs, prefix + "eventDate", "must be an integer number of milliseconds since 1970-01-01T00:00:00Z");
        else ev.event_date = json_integer_value(date);
    }

    const json_t* data = json_object_get(item, "data");
    if (!data) add(errs, prefix + "data", "is required");
    else if (!json_is_object(data)) add(errs, prefix + "data", "must be a JSON object");
    else if (json_depth(data) > kMaxDataDepth)
        add(errs, prefix + "data", "nests objects/arrays deeper than " + std::to_string(kMaxDataDepth) +
                                       " levels (data itself is level 1)");
    else ev.data_json = dump_data(data);

    const json_t* key = json_object_get(item, "idempotencyKey");
    if (key && !json_is_null(key)) {
        if (!json_is_string(key)) add(errs, prefix + "idempotencyKey", "must be a string");
        else if (check_idempotency_key(str_of(key), prefix + "idempotencyKey", errs))
            ev.idempotency_key = str_of(key);
    }

    const json_t* order = json_object_get(item, "orderingKey");
    if (order && !json_is_null(order)) {
        if (!json_is_string(order) || !wh::valid_ordering_key(str_of(order)))
            add(errs, prefix + "orderingKey", "must be 1-128 characters of A-Z a-z 0-9 . _ -");
        else ev.ordering_key = str_of(order);
    }
}

}  // namespace

FieldErrors validate_events(const json_t* body, const std::string& header_key,
                            const Catalogue& catalogue, std::vector<EventInput>& out,
                            bool& is_array) {
    FieldErrors errs;
    out.clear();
    is_array = json_is_array(body);
    if (is_array) {
        size_t n = json_array_size(body);
        if (n == 0) add(errs, "", "the array must contain at least one event");
        if (n > kMaxBatch)
            add(errs, "", "at most " + std::to_string(kMaxBatch) + " events per request, got " + std::to_string(n));
        if (!header_key.empty())
            add(errs, "Idempotency-Key",
                "the header is only for a single event; give each event an idempotencyKey instead");
        if (!errs.empty()) return errs;
        out.resize(n);
        for (size_t i = 0; i < n; ++i)
            validate_event(json_array_get(body, i), "[" + std::to_string(i) + "].", catalogue, errs, out[i]);
    } else if (json_is_object(body)) {
        out.resize(1);
        validate_event(body, "", catalogue, errs, out[0]);
        if (!header_key.empty() && !out[0].idempotency_key &&
            check_idempotency_key(header_key, "Idempotency-Key", errs))
            out[0].idempotency_key = header_key;
        if (!header_key.empty() && out[0].idempotency_key && *out[0].idempotency_key != header_key)
            add(errs, "Idempotency-Key", "differs from the body's idempotencyKey; send one of them");
    } else {
        add(errs, "", "the request body must be an event object or an array of events");
    }
    if (!errs.empty()) out.clear();
    return errs;
}

}  // namespace wh::api

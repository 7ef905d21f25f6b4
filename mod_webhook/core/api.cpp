// The operations of the two handlers, their route table (routes()) and the dispatch: route,
// method, access (user, body syntax, principal), then the operation. All DB access goes
// through store.cpp (wh::Db).
#include <chrono>
#include <cstring>
#include <mutex>
#include <utility>

#include "cross_site.hpp"
#include "crypto.hpp"
#include "http.hpp"
#include "log.hpp"
#include "openapi.hpp"
#include "problem.hpp"
#include "router.hpp"
#include "store.hpp"
#include "throttle.hpp"
#include "util.hpp"
#include "validate.hpp"

namespace wh::api {

std::string HttpRequest::header(const std::string& name) const {
    auto it = headers.find(ascii_lower(name));
    return it == headers.end() ? std::string() : it->second;
}

namespace {

HttpResponse not_found() { return problem(404, "no such resource"); }

HttpResponse ok_json(int status, const json_t* j) { return json_response(status, wh::json_dump(j)); }

// Checks Content-Type and parses the body; returns a response when the request fails.
std::optional<HttpResponse> read_json(const HttpRequest& req, JsonPtr& out) {
    if (!is_json_content_type(req.content_type))
        return problem(415, "send the body as application/json (Content-Type: application/json)");
    std::string err;
    out = parse_json_body(req.body, err);
    if (!out) return problem(400, err);
    return std::nullopt;
}

// Whether the request carries a body (blanks only count as none).
bool has_body(const HttpRequest& req) { return req.body.find_first_not_of(" \t\r\n") != std::string::npos; }

// Routes that take no body (GET, HEAD, DELETE, rotate-secret, redeliver) still answer a
// body they cannot use precisely: 415 when it is not JSON, 400 when malformed, 422 for every
// member of anything but an empty object. No body (or "{}") is what they expect.
std::optional<HttpResponse> check_no_body(const HttpRequest& req) {
    if (!has_body(req)) return std::nullopt;
    JsonPtr body;
    if (auto r = read_json(req, body)) return *r;
    if (!json_is_object(body.get()))
        return problem(422, "this request takes no body; send none (or {})",
                       {{"", "the request body must be empty or {}"}});
    FieldErrors errs;
    const char* key;
    json_t* value;
    json_object_foreach(body.get(), key, value) {
        (void)value;
        errs.push_back({key, "unknown field: this request takes no body"});
    }
    if (!errs.empty()) return problem(422, "this request takes no body; send none (or {})", errs);
    return std::nullopt;
}

// Thrown (before any write) by a route that seals credentials when the server has no key:
// handle() answers 503, the rest of the API and the events path keep working.
struct NoSecretKey {};

const SecretBox& box(const HttpRequest& req) {
    if (!req.config.box) throw NoSecretKey{};
    return *req.config.box;
}

HttpResponse no_secret_key(const HttpRequest& req) {
    wh::log_error(std::string("WH00021: ") + req.method + " " + req.base_path + req.path +
                  " needs the secret key, which was not loaded (" +
                  (req.config.key_file.empty() ? "no WebhookSecretKeyFile" : req.config.key_file) +
                  ", see WH00022 at the last reload); answering 503. Restore the key file, check "
                  "with apache2ctl configtest and reload Apache");
    HttpResponse r = problem(503, "credentials cannot be stored now (the server's secret key is "
                                  "unavailable); retry later");
    r.set_header("Retry-After", "60");  // an operator has to restore the key: not seconds away
    return r;
}

// ---- webhook-api ----

// The caller as the API sees it: its Apache user, whether it is an admin, and every scope it
// has a row for, by kind then id (the sets are ordered, "portfolio" sorts before "reseller").
HttpResponse get_me(const HttpRequest& req, const Principal& who, const std::string&) {
    JsonPtr root(json_object());
    json_object_set_new(root.get(), "user", json_text(req.user));
    json_object_set_new(root.get(), "admin", json_boolean(who.admin));
    json_t* scopes = json_array();
    for (const auto& [kind, ids] : {std::pair<const char*, const std::set<std::string>*>{"portfolio", &who.portfolios},
                                    {"reseller", &who.resellers}})
        for (const auto& id : *ids) {
            json_t* o = json_object();
            json_object_set_new(o, "kind", json_string(kind));
            json_object_set_new(o, "id", json_text(id));
            json_array_append_new(scopes, o);
        }
    json_object_set_new(root.get(), "scopes", scopes);
    return ok_json(200, root.get());
}

HttpResponse get_event_types(const HttpRequest& req, const Principal&, const std::string&) {
    JsonPtr root(json_object());
    json_t* arr = json_array();
    for (const auto& t : load_event_types(req.db)) {
        json_t* o = json_object();
        json_object_set_new(o, "code", json_text(t.code));
        json_object_set_new(o, "module", json_text(t.module));
        json_object_set_new(o, "dataType", json_text(t.data_type));
        json_object_set_new(o, "description", json_text(t.description));
        // Stored as JSON (sql/012: CHECK JSON_VALID); anything but an object shows as {}.
        JsonPtr example = wh::json_parse(t.example);
        json_object_set_new(o, "example", json_is_object(example.get()) ? example.release() : json_object());
        json_array_append_new(arr, o);
    }
    json_object_set_new(root.get(), "eventTypes", arr);
    return ok_json(200, root.get());
}

HttpResponse post_endpoint(const HttpRequest& req, const Principal& who, const std::string&) {
    JsonPtr body;
    if (auto r = read_json(req, body)) return *r;
    EndpointInput in;
    FieldErrors errs = validate_endpoint_create(body.get(), load_catalogue(req.db), req.config, in);
    if (!errs.empty()) return problem(422, "the endpoint is invalid; see errors", errs);
    if (!who.may_manage(in.scope_kind, in.scope_id))
        return problem(403, "you may not manage endpoints of " + in.scope_kind + " '" + in.scope_id + "'",
                       {{in.scope_kind == "reseller" ? "resellerId" : "portfolioId",
                         "not a scope you manage"}});
    std::string secret = wh::generate_signing_secret();
    std::optional<EndpointRow> made =
        create_endpoint(req.db, in, box(req), secret, req.user, req.config.max_endpoints_per_scope);
    if (!made)
        return problem(422, "the " + in.scope_kind + " '" + in.scope_id + "' already has " +
                                std::to_string(req.config.max_endpoints_per_scope) +
                                " endpoints, the most one scope may have; delete one it no longer uses",
                       {{in.scope_kind == "reseller" ? "resellerId" : "portfolioId",
                         "has the most endpoints allowed (" + std::to_string(req.config.max_endpoints_per_scope) +
                             ")"}});
    const EndpointRow& row = *made;
    wh::log_info("endpoint " + row.public_id + " registered by " + req.user + " for " +
                 row.scope_kind + " " + row.scope_id);
    HttpResponse r = ok_json(201, endpoint_json(row, &secret).get());
    std::string base = req.base_path;
    while (!base.empty() && base.back() == '/') base.pop_back();
    r.set_header("Location", base + "/endpoints/" + row.public_id);
    return r;
}

HttpResponse get_endpoints(const HttpRequest& req, const Principal& who, const std::string&) {
    ListQuery q;
    FieldErrors errs = validate_list_query(parse_query(req.query), q);
    if (!errs.empty()) return problem(422, "invalid query parameters; see errors", errs);
    auto res = list_endpoints(req.db, who, q);
    if (!res) return problem(422, "invalid query parameters; see errors",
                             {{"after", "not an endpoint of yours; use the 'next' of the previous page"}});
    json_t* arr = json_array();
    for (const auto& row : res->rows) json_array_append_new(arr, endpoint_json(row).release());
    return ok_json(200, list_page_json("endpoints", arr, res->next).get());
}

HttpResponse get_endpoint(const HttpRequest& req, const Principal& who, const std::string& id) {
    auto ep = find_endpoint(req.db, id);
    if (!ep || !who.may_manage(ep->scope_kind, ep->scope_id)) return not_found();
    return ok_json(200, endpoint_json(*ep).get());
}

HttpResponse patch_endpoint_req(const HttpRequest& req, const Principal& who, const std::string& id) {
    JsonPtr body;
    if (auto r = read_json(req, body)) return *r;
    // 404 before 422, so a caller learns nothing about other scopes' ids.
    auto ep = find_endpoint(req.db, id);
    if (!ep || !who.may_manage(ep->scope_kind, ep->scope_id)) return not_found();
    EndpointPatch p;
    FieldErrors errs = validate_endpoint_patch(body.get(), load_catalogue(req.db), req.config, p);
    if (!errs.empty()) return problem(422, "the change is invalid; see errors", errs);
    auto row = patch_endpoint(req.db, who, id, p, p.password ? &box(req) : nullptr);
    if (!row) return not_found();
    return ok_json(200, endpoint_json(*row).get());
}

HttpResponse delete_endpoint_req(const HttpRequest& req, const Principal& who, const std::string& id) {
    if (!delete_endpoint(req.db, who, id)) return not_found();
    wh::log_info("endpoint " + id + " deleted by " + req.user);
    HttpResponse r;
    r.status = 204;
    return r;
}

HttpResponse rotate_req(const HttpRequest& req, const Principal& who, const std::string& id) {
    std::string secret = wh::generate_signing_secret();
    auto row = rotate_secret(req.db, who, id, box(req), secret);
    if (!row) return not_found();
    wh::log_info("endpoint " + id + " secret rotated by " + req.user);
    return ok_json(200, endpoint_json(*row, &secret).get());
}

// ---- deliveries ----

std::optional<EndpointRow> visible_endpoint(const HttpRequest& req, const Principal& who, const std::string& id) {
    auto ep = find_endpoint(req.db, id);
    if (!ep || !who.may_manage(ep->scope_kind, ep->scope_id)) return std::nullopt;
    return ep;
}

std::optional<DeliveryRow> visible_delivery(const HttpRequest& req, const Principal& who, const std::string& id) {
    auto d = find_delivery(req.db, id);
    if (!d || !who.may_manage(d->scope_kind, d->scope_id)) return std::nullopt;
    return d;
}

HttpResponse get_endpoint_deliveries(const HttpRequest& req, const Principal& who, const std::string& id) {
    DeliveryListQuery q;
    auto params = parse_query(req.query);
    // The catalogue (cached per process) only when a code is to be checked against it.
    auto catalogue = params.count("eventCode") ? event_catalogue(req.db) : std::make_shared<const Catalogue>();
    FieldErrors errs = validate_delivery_query(params, *catalogue, q);
    auto ep = visible_endpoint(req, who, id);
    if (!ep) return not_found();
    if (!errs.empty()) return problem(422, "invalid query parameters; see errors", errs);
    auto page = list_deliveries(req.db, ep->id, q);
    if (!page) return problem(422, "invalid query parameters; see errors",
                              {{"after", "not a delivery of this endpoint; use the 'next' of the previous page"}});
    json_t* arr = json_array();
    for (const auto& d : page->rows) json_array_append_new(arr, delivery_json(d).release());
    return ok_json(200, list_page_json("deliveries", arr, page->next).get());
}

HttpResponse get_endpoint_stats(const HttpRequest& req, const Principal& who, const std::string& id) {
    auto ep = visible_endpoint(req, who, id);
    if (!ep) return not_found();
    return ok_json(200, endpoint_stats_json(load_endpoint_stats(req.db, ep->id)).get());
}

HttpResponse get_delivery(const HttpRequest& req, const Principal& who, const std::string& id) {
    auto d = visible_delivery(req, who, id);
    if (!d) return not_found();
    std::vector<AttemptRow> attempts = load_attempts(req.db, d->id);
    auto source = load_notification(req.db, d->id);
    if (!source) return not_found();  // deleted meanwhile
    std::string body;
    bool built = wh::build_payload(source->fields, body);
    return json_response(200, delivery_with_request_text(delivery_json(*d, &attempts), built ? &body : nullptr,
                                                         d->notification_id, source->basic_auth));
}

HttpResponse redeliver_req(const HttpRequest& req, const Principal& who, const std::string& id) {
    auto d = visible_delivery(req, who, id);
    if (!d) return not_found();
    if (d->test) return problem(409, "a test notification gets one attempt and is not sent again; send a new test");
    std::string status;
    if (!redeliver(req.db, d->id, status))
        return problem(409, status == "inflight" ? "the delivery is being sent right now; try again when it is done"
                                                 : "a " + status + " delivery is not sent again");
    wh::log_info("delivery " + id + " queued again by " + req.user);
    JsonPtr root(json_object());
    json_object_set_new(root.get(), "notificationId", json_text(id));
    json_object_set_new(root.get(), "status", json_string("pending"));
    HttpResponse r = ok_json(202, root.get());
    r.wake_worker = true;  // due now: let the worker claim it at once (WebhookNotifyWorker)
    return r;
}

HttpResponse recover_req(const HttpRequest& req, const Principal& who, const std::string& id) {
    JsonPtr body;
    if (auto r = read_json(req, body)) return *r;
    auto ep = visible_endpoint(req, who, id);
    if (!ep) return not_found();
    std::string since;
    FieldErrors errs = validate_recover(body.get(), since);
    if (!errs.empty()) return problem(422, "the request is invalid; see errors", errs);
    uint64_t n = recover_failed(req.db, ep->id, since);
    wh::log_info("endpoint " + id + ": " + std::to_string(n) + " failed deliveries queued again by " + req.user);
    JsonPtr root(json_object());
    json_object_set_new(root.get(), "requeued", json_integer(json_int_t(n)));
    HttpResponse r = ok_json(202, root.get());
    r.wake_worker = n > 0;  // due now: let the worker claim them at once (WebhookNotifyWorker)
    return r;
}

// POST /endpoints/{id}/test: one notification of a type (default: the endpoint's first, in
// catalogue order) with the type's example data, to this endpoint only, one attempt.
HttpResponse test_req(const HttpRequest& req, const Principal& who, const std::string& id) {
    JsonPtr body;
    if (has_body(req))
        if (auto r = read_json(req, body)) return *r;
    auto ep = visible_endpoint(req, who, id);
    if (!ep) return not_found();
    std::string code;
    FieldErrors errs = validate_test_request(body.get(), load_catalogue(req.db), code);
    if (!errs.empty()) return problem(422, "the request is invalid; see errors", errs);
    if (code.empty()) code = ep->event_types.at(0);  // sorted by code: the catalogue's order
    TestSendResult res = queue_test(req.db, who, id, code);
    if (res.kind == TestSendResult::not_found) return not_found();
    if (res.kind == TestSendResult::disabled)
        return problem(409, "the endpoint is disabled; enable it (PATCH enabled=true) to send it a test");
    if (res.kind == TestSendResult::rate_limited) {
        HttpResponse r = problem(429, "at most " + std::to_string(kTestsPerMinute) +
                                          " test notifications a minute per endpoint; retry after the time given");
        r.set_header("Retry-After", std::to_string(res.retry_after_s));
        return r;
    }
    wh::log_info("endpoint " + id + ": test notification " + res.notification_id + " (" + code + ") queued by " +
                 req.user);
    JsonPtr root(json_object());
    json_object_set_new(root.get(), "notificationId", json_text(res.notification_id));
    HttpResponse r = ok_json(202, root.get());
    r.wake_worker = true;  // due now: let the worker claim it at once (WebhookNotifyWorker)
    return r;
}

// 405 with Allow. The detail echoes at most kMaxEchoedMethod bytes of the method: httpd
// accepts a method of any length up to the request line limit.
constexpr size_t kMaxEchoedMethod = 32;
HttpResponse method_not_allowed(const RouteMatch& m, const std::string& method) {
    std::string shown = method.size() > kMaxEchoedMethod ? method.substr(0, kMaxEchoedMethod) + "..." : method;
    HttpResponse r = problem(405, "method " + shown + " is not allowed here");
    r.set_header("Allow", allow_header(m));
    return r;
}

// ---- webhook-events ----

HttpResponse post_events(const HttpRequest& req, const Principal&, const std::string&) {
    JsonPtr body;
    if (auto r = read_json(req, body)) return *r;
    std::vector<EventInput> events;
    bool is_array = false;
    FieldErrors errs = validate_events(body.get(), req.header("Idempotency-Key"),
                                       *event_catalogue(req.db), events, is_array);
    if (!errs.empty()) return problem(422, "the event is invalid; nothing was stored; see errors", errs);
    std::vector<EventResult> results;
    try {
        results = insert_events(req.db, events);
    } catch (const wh::DbError& e) {
        // 1452: an event code left the catalogue within the cache's lifetime; re-read it next time.
        if (e.code() == 1452) forget_event_catalogue();
        throw;
    }
    bool stored = false;  // something new was committed: the worker has work
    auto one = [](const EventResult& e) {
        json_t* o = json_object();
        json_object_set_new(o, "eventId", json_text(e.event_id));
        if (e.duplicate) json_object_set_new(o, "duplicate", json_true());
        return o;
    };
    for (const auto& e : results) stored = stored || !e.duplicate;
    JsonPtr root;
    if (is_array) {
        root.reset(json_array());
        for (const auto& e : results) json_array_append_new(root.get(), one(e));
    } else {
        root.reset(one(results.at(0)));
    }
    HttpResponse r = ok_json(202, root.get());
    r.wake_worker = stored;
    return r;
}

// ---- the API's own description ----

// The OpenAPI document (docs/openapi.yaml as JSON, embedded at build time). Public and the
// same for everyone until the module is upgraded, so caches may keep it.
HttpResponse get_openapi(const HttpRequest&, const Principal&, const std::string&) {
    HttpResponse r = json_response(200, std::string(openapi_json()));
    r.set_header("Cache-Control", "public, max-age=3600");
    return r;
}

// ---- dispatch ----

// A request the route's access rule refuses gets its answer here; who is filled for
// Access::principal.
std::optional<HttpResponse> admit(const RouteEntry& e, const HttpRequest& req, Principal& who) {
    if (e.access == Access::apache) return std::nullopt;
    if (e.access == Access::principal && req.user.empty()) {
        wh::log_warn("WH00009: a webhook-api request arrived without an authenticated user; "
                     "protect the webhook-api <Location> with AuthType/Require valid-user");
        return problem(401, "authentication is required");
    }
    // Body syntax before the principal lookup: a malformed request gets its 415/400 even when
    // MariaDB is down. (Body routes parse again in their operation; their bodies are small.)
    if (!e.takes_body) {
        if (auto r = check_no_body(req)) return r;
    } else if (!e.body_optional || has_body(req)) {
        JsonPtr syntax_only;
        if (auto r = read_json(req, syntax_only)) return r;
    }
    if (e.access == Access::open) return std::nullopt;
    who = load_principal(req.db, req.user);
    if (!who.known()) {
        wh::log_info("WH00016: user '" + req.user + "' has no row in webhook_principals; "
                     "add one to let it manage endpoints");
        return problem(403, "this user may not manage any webhook endpoints");
    }
    return std::nullopt;
}

HttpResponse dispatch(Handler handler, const HttpRequest& req) {
    RouteMatch m = match_route(handler, req.path);
    if (!m.found()) return not_found();
    const RouteEntry* e = route_entry(m, req.method);
    if (!e) return method_not_allowed(m, req.method);
    if (handler == Handler::api && is_state_change(req.method)) {
        // A browser sends Basic credentials with any request to this site, also one a page of
        // another site makes it send; the events handler is server to server.
        std::string why = cross_site_refusal(req.header("Sec-Fetch-Site"), req.header("Origin"), req.origin);
        if (!why.empty()) {
            wh::log_info("WH00025: " + req.method + " " + req.base_path + req.path + ": " + why.substr(0, why.find(';')) +
                         " (answered 403, nothing changed): a page of another site had a browser send it");
            return problem(403, why);
        }
    }
    // A read may follow a write made through another Galera node (POST, then GET elsewhere):
    // reads wait for this node to catch up; writes are certified anyway and pay nothing.
    req.db.sync_reads(req.method == "GET" || req.method == "HEAD");
    Principal who;
    if (auto refused = admit(*e, req, who)) return *refused;
    return e->operation(req, who, m.id);
}

// The log tag and what to do, for an error that answers 503.
std::pair<const char*, const char*> unavailable_advice(const wh::DbError& e) {
    if (e.retryable())
        return {"WH00011", "If they are frequent, give the module and every worker the same host list "
                           "(one node takes the writes) and look for long transactions"};
    if (e.code() == 1047 || e.code() == 1180)
        return {"WH00062", "The next connection moves to the next healthy host of WebhookDatabase; "
                           "check the cluster (wsrep_cluster_status on each node)"};
    return {"WH00010", "The next connection tries the hosts of WebhookDatabase again from the first; "
                       "check that MariaDB runs and WebhookDatabase is right"};
}

// 503 + Retry-After for a database that cannot serve now (unreachable, a node outside the
// primary component, a conflict past its retries). One log line per cause per 10 s per child,
// with the count of the others: an outage under load must not flood the error log (every
// request answers 503 quickly meanwhile).
HttpResponse database_unavailable(const wh::DbError& e) {
    static std::mutex mu;
    static wh::Throttle<unsigned> per_cause(std::chrono::seconds(10));
    uint64_t skipped = 0;
    bool log;
    {
        std::lock_guard<std::mutex> lock(mu);
        log = per_cause.allow(e.code(), wh::Throttle<unsigned>::Clock::now(), &skipped);
    }
    if (log) {
        auto [tag, advice] = unavailable_advice(e);
        std::string line = std::string(tag) + ": " + e.explain() + "; answering 503" +
                           (skipped ? " (and " + std::to_string(skipped) + " more requests since the last such line)" : "") +
                           ". " + advice;
        // a conflict is the clients' doing, not an outage of the server
        if (e.retryable()) wh::log_warn(line);
        else wh::log_error(line);
    }
    HttpResponse r = problem(503, e.retryable() ? "the database is busy; retry later"
                                                : "the database is unavailable; retry later");
    r.set_header("Retry-After", "2");
    return r;
}

}  // namespace

const std::vector<RouteEntry>& routes() {
    constexpr Handler api = Handler::api;
    constexpr Access principal = Access::principal;
    static const std::vector<RouteEntry> table = {
        {api, "GET", "/me", get_me, false, principal},
        {api, "GET", "/event-types", get_event_types, false, principal},
        {api, "GET", "/endpoints", get_endpoints, false, principal},
        {api, "POST", "/endpoints", post_endpoint, true, principal},
        {api, "GET", "/endpoints/{id}", get_endpoint, false, principal},
        {api, "PATCH", "/endpoints/{id}", patch_endpoint_req, true, principal},
        {api, "DELETE", "/endpoints/{id}", delete_endpoint_req, false, principal},
        {api, "POST", "/endpoints/{id}/rotate-secret", rotate_req, false, principal},
        {api, "GET", "/endpoints/{id}/deliveries", get_endpoint_deliveries, false,
         principal},
        {api, "POST", "/endpoints/{id}/recover", recover_req, true, principal},
        {api, "POST", "/endpoints/{id}/test", test_req, true, principal, true},
        {api, "GET", "/endpoints/{id}/stats", get_endpoint_stats, false, principal},
        {api, "GET", "/deliveries/{id}", get_delivery, false, principal},
        {api, "POST", "/deliveries/{id}/redeliver", redeliver_req, false, principal},
        {api, "GET", "/openapi.json", get_openapi, false, Access::open},
        {Handler::events, "POST", "", post_events, true, Access::apache},
        {Handler::events, "POST", "/events", post_events, true, Access::apache},
    };
    return table;
}

HttpResponse handle(Handler handler, const HttpRequest& req) noexcept {
    try {
        try {
            return dispatch(handler, req);
        } catch (const NoSecretKey&) {
            return no_secret_key(req);
        } catch (const wh::DbError& e) {
            HttpResponse r;
            if (e.unavailable() || e.retryable()) {
                r = database_unavailable(e);
            } else {
                wh::log_error(std::string("WH00012: database error (") + e.what() + ", code " +
                              std::to_string(e.code()) + "); check the schema is migrated");
                r = problem(500, "internal error; see the server's error log");
            }
            r.drop_db = true;
            return r;
        } catch (const std::exception& e) {
            wh::log_error(std::string("WH00013: unexpected error: ") + e.what() +
                          "; report this with the request that caused it");
            return problem(500, "internal error; see the server's error log");
        }
    } catch (...) {
        HttpResponse r;
        r.status = 500;
        return r;
    }
}

}  // namespace wh::api

// Routing, 404/405 with Allow, 401, 415, 400, 503 and the problem+json shape, through the
// core's handle() without a database (none of these paths may touch it, except 503).
#include <cppunit/extensions/HelperMacros.h>

#include "http.hpp"
#include "notification.hpp"
#include "json.hpp"
#include "openapi.hpp"
#include "principal.hpp"
#include "problem.hpp"
#include "render.hpp"
#include "router.hpp"
#include "util.hpp"

using namespace wh::api;

static std::string pattern_of(const RouteMatch& m) { return m.found() ? m.pattern : "(no route)"; }

namespace {

// A Db that is never connected by these tests (port 1 on loopback refuses at once if it is).
wh::DbConfig unreachable_db() {
    wh::DbConfig c;
    c.port = 1;
    c.user = "nobody";
    c.database = "none";
    c.connect_timeout = 1;
    return c;
}

struct Fixture {
    wh::Db db{unreachable_db()};
    ApiConfig cfg;
    HttpRequest req{db, cfg};
    Fixture(const std::string& method, const std::string& path) {
        req.method = method;
        req.path = path;
        req.user = "someone";
        req.base_path = "/webhooks/v1";
    }
};

wh::JsonPtr body_json(const HttpResponse& r) {
    std::string err;
    wh::JsonPtr j = wh::json_parse(r.body, &err);
    if (!j) throw std::runtime_error("response body is not JSON: " + r.body);
    return j;
}

}  // namespace

class ApiHttpTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ApiHttpTest);
    CPPUNIT_TEST(routes_api);
    CPPUNIT_TEST(routes_events);
    CPPUNIT_TEST(allow_header);
    CPPUNIT_TEST(route_below_location);
    CPPUNIT_TEST(problem_shape);
    CPPUNIT_TEST(problem_caps_the_error_list);
    CPPUNIT_TEST(handle_404);
    CPPUNIT_TEST(handle_405_allow);
    CPPUNIT_TEST(handle_401_without_user);
    CPPUNIT_TEST(cross_site_changes_are_refused);
    CPPUNIT_TEST(bodyless_routes_check_a_body_sent_anyway);
    CPPUNIT_TEST(handle_events_415);
    CPPUNIT_TEST(handle_events_400);
    CPPUNIT_TEST(handle_503_when_db_unreachable);
    CPPUNIT_TEST(principal_scopes);
    CPPUNIT_TEST(endpoint_rendering);
    CPPUNIT_TEST(delivery_rendering);
    CPPUNIT_TEST(stats_rendering);
    CPPUNIT_TEST(delivery_request_rendering);
    CPPUNIT_TEST(util_helpers);
    CPPUNIT_TEST(openapi_is_public_json_and_cacheable);
    CPPUNIT_TEST(openapi_other_methods_get_405);
    CPPUNIT_TEST_SUITE_END();

public:
    void routes_api() {
        CPPUNIT_ASSERT(pattern_of(match_route(Handler::api, "/event-types")) == "/event-types");
        CPPUNIT_ASSERT(pattern_of(match_route(Handler::api, "/endpoints")) == "/endpoints");
        CPPUNIT_ASSERT(pattern_of(match_route(Handler::api, "/endpoints/")) == "/endpoints");
        RouteMatch m = match_route(Handler::api, "/endpoints/ep_123");
        CPPUNIT_ASSERT(pattern_of(m) == "/endpoints/{id}");
        CPPUNIT_ASSERT_EQUAL(std::string("ep_123"), m.id);
        m = match_route(Handler::api, "/endpoints/ep_9/rotate-secret");
        CPPUNIT_ASSERT(pattern_of(m) == "/endpoints/{id}/rotate-secret");
        CPPUNIT_ASSERT_EQUAL(std::string("ep_9"), m.id);
        m = match_route(Handler::api, "/endpoints/ep_9/deliveries");
        CPPUNIT_ASSERT(pattern_of(m) == "/endpoints/{id}/deliveries" && m.id == "ep_9");
        m = match_route(Handler::api, "/endpoints/ep_9/recover");
        CPPUNIT_ASSERT(pattern_of(m) == "/endpoints/{id}/recover" && m.id == "ep_9");
        m = match_route(Handler::api, "/deliveries/ntf_1");
        CPPUNIT_ASSERT(pattern_of(m) == "/deliveries/{id}" && m.id == "ntf_1");
        m = match_route(Handler::api, "/deliveries/ntf_1/redeliver");
        CPPUNIT_ASSERT(pattern_of(m) == "/deliveries/{id}/redeliver" && m.id == "ntf_1");
        CPPUNIT_ASSERT_EQUAL(std::string("POST"), wh::api::allow_header(m));
        for (const char* bad : {"", "/", "/events", "/endpoints/a/b", "/deliveries", "/deliveries/x/y", "/endpoints//x", "/endpoints/../event-types",
                                "/event-types/x", "/EVENT-TYPES"})
            CPPUNIT_ASSERT_MESSAGE(bad, !match_route(Handler::api, bad).found());
    }

    void routes_events() {
        for (const char* ok : {"", "/", "/events", "/events/"})
            CPPUNIT_ASSERT_MESSAGE(ok, match_route(Handler::events, ok).found());
        for (const char* bad : {"/event-types", "/endpoints", "/events/x", "/x"})
            CPPUNIT_ASSERT_MESSAGE(bad, !match_route(Handler::events, bad).found());
    }

    void allow_header() {
        RouteMatch m = match_route(Handler::api, "/endpoints");
        CPPUNIT_ASSERT_EQUAL(std::string("GET, HEAD, POST"), wh::api::allow_header(m));
        CPPUNIT_ASSERT(method_allowed(m, "HEAD"));
        CPPUNIT_ASSERT(!method_allowed(m, "DELETE"));
        m = match_route(Handler::api, "/endpoints/ep_1");
        CPPUNIT_ASSERT_EQUAL(std::string("GET, HEAD, PATCH, DELETE"), wh::api::allow_header(m));
        CPPUNIT_ASSERT(!method_allowed(m, "POST"));
        CPPUNIT_ASSERT_EQUAL(std::string("POST"), wh::api::allow_header(match_route(Handler::events, "")));
    }

    void route_below_location() {
        std::string route, base;
        resolve_route(Handler::api, "/webhooks/v1/endpoints/ep_1", {"/webhooks/v1"}, route, base);
        CPPUNIT_ASSERT_EQUAL(std::string("/endpoints/ep_1"), route);
        CPPUNIT_ASSERT_EQUAL(std::string("/webhooks/v1"), base);
        resolve_route(Handler::api, "/webhooks/v1/event-types", {"/webhooks/v1/"}, route, base);
        CPPUNIT_ASSERT_EQUAL(std::string("/event-types"), route);
        CPPUNIT_ASSERT_EQUAL(std::string("/webhooks/v1"), base);
        // a nested section without SetHandler: the candidate that yields a real route wins
        resolve_route(Handler::api, "/w/endpoints", {"/w/endpoints", "/w"}, route, base);
        CPPUNIT_ASSERT_EQUAL(std::string("/endpoints"), route);
        CPPUNIT_ASSERT_EQUAL(std::string("/w"), base);
        // events at its own location, or at /events below a shared one
        resolve_route(Handler::events, "/hooks/events", {"/hooks/events"}, route, base);
        CPPUNIT_ASSERT(match_route(Handler::events, route).found());
        resolve_route(Handler::events, "/hooks/events", {"/hooks"}, route, base);
        CPPUNIT_ASSERT_EQUAL(std::string("/events"), route);
        // not a path-segment prefix, regex sections and no candidates: whole URI
        resolve_route(Handler::api, "/webhooks/v10/endpoints", {"/webhooks/v1", "^/webhooks"}, route, base);
        CPPUNIT_ASSERT_EQUAL(std::string("/webhooks/v10/endpoints"), route);
        CPPUNIT_ASSERT_EQUAL(std::string(""), base);
        resolve_route(Handler::api, "/endpoints", {}, route, base);
        CPPUNIT_ASSERT_EQUAL(std::string("/endpoints"), route);
    }

    void problem_shape() {
        HttpResponse r = problem(422, "bad", {{"url", "is required"}, {"[3].eventCode", "unknown"}});
        CPPUNIT_ASSERT_EQUAL(422, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("application/problem+json"), r.content_type);
        wh::JsonPtr j = body_json(r);
        CPPUNIT_ASSERT_EQUAL(std::string("about:blank"), wh::json_str(j.get(), "type"));
        CPPUNIT_ASSERT_EQUAL(std::string("Unprocessable Content"), wh::json_str(j.get(), "title"));
        CPPUNIT_ASSERT_EQUAL(json_int_t(422), json_integer_value(json_object_get(j.get(), "status")));
        CPPUNIT_ASSERT_EQUAL(std::string("bad"), wh::json_str(j.get(), "detail"));
        json_t* errs = json_object_get(j.get(), "errors");
        CPPUNIT_ASSERT_EQUAL(size_t(2), json_array_size(errs));
        CPPUNIT_ASSERT_EQUAL(std::string("[3].eventCode"), wh::json_str(json_array_get(errs, 1), "field"));
        CPPUNIT_ASSERT_EQUAL(std::string("unknown"), wh::json_str(json_array_get(errs, 1), "message"));
        // errors is present (empty) even without field errors
        wh::JsonPtr k = body_json(problem(404, "x"));
        CPPUNIT_ASSERT(json_is_array(json_object_get(k.get(), "errors")));
        CPPUNIT_ASSERT_EQUAL(std::string("Not Found"), wh::json_str(k.get(), "title"));
        // client text that is not UTF-8 still gives valid JSON
        HttpResponse bad = problem(400, std::string("bad \xff byte"));
        CPPUNIT_ASSERT(wh::json_parse(bad.body));
    }

    // However many field errors, the answer lists 50 and ends with "…and N more".
    void problem_caps_the_error_list() {
        FieldErrors errs;
        for (int i = 0; i < 200000; ++i) errs.push_back({"eventTypes[" + std::to_string(i) + "]", "unknown event type 'a'"});
        HttpResponse r = problem(422, "bad", errs);
        CPPUNIT_ASSERT(r.body.size() < 8192);
        wh::JsonPtr j = body_json(r);
        json_t* list = json_object_get(j.get(), "errors");
        CPPUNIT_ASSERT_EQUAL(FieldErrors::kMaxFieldErrors + 1, json_array_size(list));
        CPPUNIT_ASSERT_EQUAL(std::string("eventTypes[49]"), wh::json_str(json_array_get(list, 49), "field"));
        json_t* last = json_array_get(list, FieldErrors::kMaxFieldErrors);
        CPPUNIT_ASSERT_EQUAL(std::string(""), wh::json_str(last, "field"));
        CPPUNIT_ASSERT_EQUAL(std::string("\u2026and 199950 more"), wh::json_str(last, "message"));
        // exactly 50: no such item
        FieldErrors fifty;
        for (int i = 0; i < 50; ++i) fifty.push_back({"f", "m"});
        wh::JsonPtr k = body_json(problem(422, "bad", fifty));
        CPPUNIT_ASSERT_EQUAL(size_t(50), json_array_size(json_object_get(k.get(), "errors")));
    }

    void handle_404() {
        Fixture f("GET", "/nothing");
        HttpResponse r = handle(Handler::api, f.req);
        CPPUNIT_ASSERT_EQUAL(404, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("application/problem+json"), r.content_type);
        CPPUNIT_ASSERT(!f.db.connected());
        Fixture g("POST", "/other");
        CPPUNIT_ASSERT_EQUAL(404, handle(Handler::events, g.req).status);
    }

    void handle_405_allow() {
        Fixture f("PUT", "/endpoints/ep_1");
        HttpResponse r = handle(Handler::api, f.req);
        CPPUNIT_ASSERT_EQUAL(405, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("GET, HEAD, PATCH, DELETE"), r.header("Allow"));
        Fixture g("GET", "/events");
        r = handle(Handler::events, g.req);
        CPPUNIT_ASSERT_EQUAL(405, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("POST"), r.header("Allow"));
        Fixture h("DELETE", "/event-types");
        CPPUNIT_ASSERT_EQUAL(std::string("GET, HEAD"), handle(Handler::api, h.req).header("Allow"));
    }

    // GET, DELETE, rotate-secret, redeliver take no body; one sent anyway is judged before
    // any database access: 415 not JSON, 400 malformed, 422 every member; "{}" is none.
    void bodyless_routes_check_a_body_sent_anyway() {
        const std::pair<const char*, const char*> routes[] = {
            {"GET", "/event-types"}, {"GET", "/endpoints"}, {"DELETE", "/endpoints/ep_1"},
            {"POST", "/endpoints/ep_1/rotate-secret"}, {"GET", "/deliveries/ntf_1"},
            {"POST", "/deliveries/ntf_1/redeliver"}, {"GET", "/endpoints/ep_1/deliveries"}};
        for (const auto& [method, path] : routes) {
            Fixture f(method, path);
            f.req.content_type = "text/plain";
            f.req.body = "x";
            CPPUNIT_ASSERT_EQUAL(415, handle(Handler::api, f.req).status);
            f.req.content_type = "application/json";
            f.req.body = "{";
            HttpResponse r = handle(Handler::api, f.req);
            CPPUNIT_ASSERT_EQUAL(400, r.status);
            CPPUNIT_ASSERT_EQUAL(std::string("application/problem+json"), r.content_type);
            f.req.body = "{\"a\": 1, \"b\": 2}";
            r = handle(Handler::api, f.req);
            CPPUNIT_ASSERT_EQUAL(422, r.status);
            wh::JsonPtr j = body_json(r);
            CPPUNIT_ASSERT_EQUAL(size_t(2), json_array_size(json_object_get(j.get(), "errors")));
            f.req.body = "[]";
            CPPUNIT_ASSERT_EQUAL(422, handle(Handler::api, f.req).status);
        }
        // body routes: type and syntax are judged before any database access too
        for (const auto& [method, path] : {std::pair<const char*, const char*>{"POST", "/endpoints"},
                                           {"PATCH", "/endpoints/ep_1"}, {"POST", "/endpoints/ep_1/recover"}}) {
            Fixture g(method, path);
            g.req.content_type = "text/plain";
            g.req.body = "{}";
            CPPUNIT_ASSERT_EQUAL(415, handle(Handler::api, g.req).status);
            g.req.content_type = "application/json";
            g.req.body = "{\"url\": ";
            CPPUNIT_ASSERT_EQUAL(400, handle(Handler::api, g.req).status);
            g.req.body = "{}";  // well-formed: on to the (unreachable) database
            CPPUNIT_ASSERT_EQUAL(503, handle(Handler::api, g.req).status);
        }
    }

    void handle_401_without_user() {
        Fixture f("GET", "/endpoints");
        f.req.user = "";
        HttpResponse r = handle(Handler::api, f.req);
        CPPUNIT_ASSERT_EQUAL(401, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("application/problem+json"), r.content_type);
    }

    // Before the user, the body and MariaDB (unreachable here): only webhook-api state changes.
    void cross_site_changes_are_refused() {
        for (const char* method : {"POST", "PATCH", "DELETE"}) {
            Fixture f(method, std::string("POST") == method ? "/endpoints" : "/endpoints/ep_1");
            f.req.origin = "http://gw.example:8480";
            f.req.headers["sec-fetch-site"] = "cross-site";
            f.req.user = "";
            HttpResponse r = handle(Handler::api, f.req);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(method, 403, r.status);
            CPPUNIT_ASSERT_EQUAL(std::string("application/problem+json"), r.content_type);
            CPPUNIT_ASSERT_MESSAGE(r.body, r.body.find("Sec-Fetch-Site: cross-site") != std::string::npos);
        }
        Fixture foreign("POST", "/endpoints");
        foreign.req.origin = "http://gw.example:8480";
        foreign.req.headers["origin"] = "http://evil.example";
        CPPUNIT_ASSERT_EQUAL(403, handle(Handler::api, foreign.req).status);
        // the same origin passes on to the next check (415: no JSON body)
        Fixture same("POST", "/endpoints");
        same.req.origin = "http://gw.example:8480";
        same.req.headers["origin"] = "http://gw.example:8480";
        same.req.headers["sec-fetch-site"] = "same-origin";
        CPPUNIT_ASSERT_EQUAL(415, handle(Handler::api, same.req).status);
        // reads pass; so does the events handler (server to server)
        Fixture read("GET", "/openapi.json");
        read.req.headers["sec-fetch-site"] = "cross-site";
        CPPUNIT_ASSERT_EQUAL(200, handle(Handler::api, read.req).status);
        Fixture events("POST", "/events");
        events.req.headers["sec-fetch-site"] = "cross-site";
        CPPUNIT_ASSERT_EQUAL(415, handle(Handler::events, events.req).status);
        // an unknown route or method keeps its 404/405
        Fixture unknown("POST", "/nowhere");
        unknown.req.headers["sec-fetch-site"] = "cross-site";
        CPPUNIT_ASSERT_EQUAL(404, handle(Handler::api, unknown.req).status);
    }

    void handle_events_415() {
        for (const char* ct : {"", "text/plain", "application/x-www-form-urlencoded"}) {
            Fixture f("POST", "/events");
            f.req.content_type = ct;
            f.req.body = "{}";
            CPPUNIT_ASSERT_EQUAL_MESSAGE(ct, 415, handle(Handler::events, f.req).status);
        }
    }

    void handle_events_400() {
        for (const std::string& body : {std::string("{"), std::string(""), std::string("{\"a\":\"\xff\"}"),
                                        std::string("nul\x00l", 5)}) {
            Fixture f("POST", "");
            f.req.content_type = "application/json; charset=utf-8";
            f.req.body = body;
            HttpResponse r = handle(Handler::events, f.req);
            CPPUNIT_ASSERT_EQUAL(400, r.status);
            CPPUNIT_ASSERT_EQUAL(std::string("application/problem+json"), r.content_type);
        }
    }

    void handle_503_when_db_unreachable() {
        Fixture f("POST", "/events");
        f.req.content_type = "application/json";
        f.req.body = R"({"eventCode":"billing.subscription-created","resellerId":"R","portfolioId":"P","data":{}})";
        HttpResponse r = handle(Handler::events, f.req);
        CPPUNIT_ASSERT_EQUAL(503, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("2"), r.header("Retry-After"));
        CPPUNIT_ASSERT(r.drop_db);
        Fixture g("GET", "/event-types");
        r = handle(Handler::api, g.req);
        CPPUNIT_ASSERT_EQUAL(503, r.status);
        CPPUNIT_ASSERT(r.drop_db);
    }

    void principal_scopes() {
        Principal none = principal_from_rows({});
        CPPUNIT_ASSERT(!none.known());
        Principal r = principal_from_rows({{"reseller", "R1"}, {"portfolio", "P1"}});
        CPPUNIT_ASSERT(r.known());
        CPPUNIT_ASSERT(r.may_manage("reseller", "R1"));
        CPPUNIT_ASSERT(r.may_manage("portfolio", "P1"));
        CPPUNIT_ASSERT(!r.may_manage("reseller", "P1"));
        CPPUNIT_ASSERT(!r.may_manage("portfolio", "R1"));
        CPPUNIT_ASSERT(!r.may_manage("reseller", "R2"));
        Principal a = principal_from_rows({{"admin", ""}});
        CPPUNIT_ASSERT(a.may_manage("reseller", "anything") && a.may_manage("portfolio", "x"));
    }

    void endpoint_rendering() {
        EndpointRow row;
        row.public_id = "ep_1";
        row.url = "https://a.example/";
        row.scope_kind = "portfolio";
        row.scope_id = "P1";
        row.has_password = true;
        row.username = "u";
        row.ack_mode = "status";
        row.created_at = "2026-11-26 03:38:06.123";
        row.updated_at = "2026-11-26 03:38:07.000";
        row.event_types = {"a.b", "c.d"};
        wh::JsonPtr j = endpoint_json(row);
        CPPUNIT_ASSERT_EQUAL(std::string("ep_1"), wh::json_str(j.get(), "id"));
        CPPUNIT_ASSERT_EQUAL(std::string("P1"), wh::json_str(j.get(), "portfolioId"));
        CPPUNIT_ASSERT(!json_object_get(j.get(), "resellerId"));
        CPPUNIT_ASSERT(json_is_true(json_object_get(j.get(), "hasPassword")));
        CPPUNIT_ASSERT(!json_object_get(j.get(), "password"));
        CPPUNIT_ASSERT(!json_object_get(j.get(), "secret"));
        CPPUNIT_ASSERT(json_is_null(json_object_get(j.get(), "description")));
        CPPUNIT_ASSERT(json_is_null(json_object_get(j.get(), "disabledReason")));
        CPPUNIT_ASSERT_EQUAL(std::string("2026-11-26T03:38:06.123Z"), wh::json_str(j.get(), "createdAt"));
        CPPUNIT_ASSERT_EQUAL(size_t(2), json_array_size(json_object_get(j.get(), "eventTypes")));
        std::string secret = "whsec_x";
        wh::JsonPtr k = endpoint_json(row, &secret);
        CPPUNIT_ASSERT_EQUAL(secret, wh::json_str(k.get(), "secret"));
    }

    // "request": the worker's body bytes as they are (1.50 stays 1.50), the header names it
    // sends, no credential.
    void delivery_request_rendering() {
        DeliveryRow d;
        d.notification_id = "ntf_1";
        d.status = "delivered";
        d.created_at = d.updated_at = "2026-11-26 02:00:00.000";
        wh::PayloadFields f;
        f.notification_id = "ntf_1";
        f.event_code = "a.b";
        f.event_date = "1764000000000";
        f.data_type = "object";
        f.reseller_id = "r";
        f.portfolio_id = "p";
        f.data = std::make_shared<const std::string>(" {\"amount\": 1.50, \"rate\": 1e-2} ");
        std::string body;
        CPPUNIT_ASSERT(wh::build_payload(f, body));
        std::vector<AttemptRow> none;
        std::string text = delivery_with_request_text(delivery_json(d, &none), &body, "ntf_1", true);
        CPPUNIT_ASSERT_MESSAGE(text, text.find("\"request\":{\"body\":" + body + ",\"headers\":") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(text, text.find("1.50") != std::string::npos);
        wh::JsonPtr j = body_json(json_response(200, text));
        json_t* h = json_object_get(json_object_get(j.get(), "request"), "headers");
        CPPUNIT_ASSERT_EQUAL(std::string("application/json"), wh::json_str(h, "Content-Type"));
        CPPUNIT_ASSERT_EQUAL(std::string(wh::notification_user_agent()), wh::json_str(h, "User-Agent"));
        CPPUNIT_ASSERT_EQUAL(std::string("ntf_1"), wh::json_str(h, "webhook-id"));
        CPPUNIT_ASSERT_EQUAL(std::string("per attempt"), wh::json_str(h, "webhook-timestamp"));
        CPPUNIT_ASSERT_EQUAL(std::string("per attempt"), wh::json_str(h, "webhook-signature"));
        CPPUNIT_ASSERT_EQUAL(std::string("Basic [redacted]"), wh::json_str(h, "Authorization"));
        CPPUNIT_ASSERT_EQUAL(std::string("delivered"), wh::json_str(j.get(), "status"));
        wh::JsonPtr plain = body_json(json_response(200, delivery_with_request_text(delivery_json(d, &none), nullptr,
                                                                                     "ntf_1", false)));
        json_t* r = json_object_get(plain.get(), "request");
        CPPUNIT_ASSERT(json_is_null(json_object_get(r, "body")));
        CPPUNIT_ASSERT(!json_object_get(json_object_get(r, "headers"), "Authorization"));
    }

    void delivery_rendering() {
        DeliveryRow d;
        d.notification_id = "ntf_1";
        d.endpoint_public_id = "ep_1";
        d.event_public_id = "evt_1";
        d.event_code = "a.b";
        d.status = "failed";
        d.attempts = 5;
        d.next_attempt_at = "2026-11-26 03:00:00.000";
        d.last_http_status = "503";
        d.created_at = d.updated_at = "2026-11-26 02:00:00.000";
        std::vector<AttemptRow> attempts(1);
        attempts[0].attempt_no = 1;
        attempts[0].started_at = "2026-11-26 02:00:00.100";
        attempts[0].duration_ms = 12;
        attempts[0].outcome = "failure";
        attempts[0].http_status = "503";
        attempts[0].response_excerpt = std::string("bin\xff");
        wh::JsonPtr j = delivery_json(d, &attempts);
        CPPUNIT_ASSERT_EQUAL(std::string("ntf_1"), wh::json_str(j.get(), "notificationId"));
        CPPUNIT_ASSERT_EQUAL(json_int_t(5), json_integer_value(json_object_get(j.get(), "attemptCount")));
        CPPUNIT_ASSERT_EQUAL(json_int_t(503), json_integer_value(json_object_get(j.get(), "lastHttpStatus")));
        CPPUNIT_ASSERT(json_is_null(json_object_get(j.get(), "nextAttemptAt")));  // only while pending
        json_t* a = json_array_get(json_object_get(j.get(), "attempts"), 0);
        CPPUNIT_ASSERT_EQUAL(std::string("2026-11-26T02:00:00.100Z"), wh::json_str(a, "startedAt"));
        CPPUNIT_ASSERT_EQUAL(json_int_t(503), json_integer_value(json_object_get(a, "httpStatus")));
        CPPUNIT_ASSERT(json_is_string(json_object_get(a, "responseExcerpt")));  // non-UTF-8 bytes still render
        wh::JsonPtr list_item = delivery_json(d);
        CPPUNIT_ASSERT(!json_object_get(list_item.get(), "attempts"));
        d.status = "pending";
        CPPUNIT_ASSERT_EQUAL(std::string("2026-11-26T03:00:00.000Z"),
                             wh::json_str(delivery_json(d).get(), "nextAttemptAt"));
    }

    void stats_rendering() {
        RouteMatch m = match_route(Handler::api, "/endpoints/ep_9/stats");
        CPPUNIT_ASSERT(pattern_of(m) == "/endpoints/{id}/stats" && m.id == "ep_9");
        CPPUNIT_ASSERT_EQUAL(std::string("GET, HEAD"), wh::api::allow_header(m));
        // nearest rank: the smallest value with at least p % of the sample at or below it
        std::vector<std::pair<long long, unsigned long long>> h;
        for (long long i = 1; i <= 100; ++i) h.emplace_back(i, 1);
        CPPUNIT_ASSERT_EQUAL(50LL, nearest_rank(h, 50));
        CPPUNIT_ASSERT_EQUAL(95LL, nearest_rank(h, 95));
        CPPUNIT_ASSERT_EQUAL(99LL, nearest_rank(h, 99));
        CPPUNIT_ASSERT_EQUAL(10LL, nearest_rank({{10, 1}, {30, 1}}, 50));
        CPPUNIT_ASSERT_EQUAL(30LL, nearest_rank({{10, 1}, {30, 1}}, 95));
        CPPUNIT_ASSERT_EQUAL(7LL, nearest_rank({{7, 1}}, 99));
        // counts: 94 attempts of 5 ms and 6 of 900 ms: p95 is the 95th, a 900
        CPPUNIT_ASSERT_EQUAL(5LL, nearest_rank({{5, 94}, {900, 6}}, 50));
        CPPUNIT_ASSERT_EQUAL(900LL, nearest_rank({{5, 94}, {900, 6}}, 95));
        CPPUNIT_ASSERT_EQUAL(5LL, nearest_rank({{5, 95}, {900, 5}}, 95));

        EndpointStats none;
        wh::JsonPtr j = endpoint_stats_json(none);
        CPPUNIT_ASSERT_EQUAL(std::string("24h"), wh::json_str(j.get(), "window"));
        CPPUNIT_ASSERT(json_is_null(json_object_get(j.get(), "successRate")));
        CPPUNIT_ASSERT(json_is_null(json_object_get(json_object_get(j.get(), "latencyMs"), "p95")));
        CPPUNIT_ASSERT(json_is_null(json_object_get(j.get(), "oldestPendingAt")));
        CPPUNIT_ASSERT(json_is_null(json_object_get(j.get(), "lastError")));
        EndpointStats s;
        s.attempts = 4;
        s.succeeded = 3;
        s.failed = 1;
        s.p50 = 12;
        s.pending = 2;
        s.oldest_pending_at = "2026-11-26 02:00:00.000";
        s.last_error = AttemptRow();
        s.last_error->started_at = "2026-11-26 02:00:00.100";
        s.last_error->error_class = "timeout";
        j = endpoint_stats_json(s);
        CPPUNIT_ASSERT_DOUBLES_EQUAL(0.75, json_real_value(json_object_get(j.get(), "successRate")), 1e-9);
        CPPUNIT_ASSERT_EQUAL(json_int_t(12), json_integer_value(json_object_get(json_object_get(j.get(), "latencyMs"), "p50")));
        CPPUNIT_ASSERT_EQUAL(std::string("2026-11-26T02:00:00.000Z"), wh::json_str(j.get(), "oldestPendingAt"));
        json_t* e = json_object_get(j.get(), "lastError");
        CPPUNIT_ASSERT_EQUAL(std::string("2026-11-26T02:00:00.100Z"), wh::json_str(e, "at"));
        CPPUNIT_ASSERT_EQUAL(std::string("timeout"), wh::json_str(e, "errorClass"));
        CPPUNIT_ASSERT(json_is_null(json_object_get(e, "httpStatus")) && json_is_null(json_object_get(e, "message")));
    }

    void util_helpers() {
        auto q = parse_query("a=1&b=x%20y+z&&c&a=2&=v");
        CPPUNIT_ASSERT_EQUAL(std::string("2"), q["a"]);
        CPPUNIT_ASSERT_EQUAL(std::string("x y z"), q["b"]);
        CPPUNIT_ASSERT_EQUAL(std::string(""), q["c"]);
        CPPUNIT_ASSERT(!q.count(""));
        CPPUNIT_ASSERT_EQUAL(std::string("100%"), url_decode("100%"));
        CPPUNIT_ASSERT_EQUAL(std::string("2026-11-26T03:38:06.000Z"), wh::rfc3339_from_db("2026-11-26 03:38:06"));
        CPPUNIT_ASSERT(valid_utf8("h\xc3\xa9"));
        CPPUNIT_ASSERT(!valid_utf8("\xed\xa0\x80"));  // surrogate
        CPPUNIT_ASSERT_EQUAL(size_t(2), utf8_length("h\xc3\xa9"));
    }

    // GET /openapi.json: the embedded document, for anyone (no user, no database), cacheable.
    void openapi_is_public_json_and_cacheable() {
        for (const char* method : {"GET", "HEAD"}) {
            Fixture f(method, "/openapi.json");
            f.req.user.clear();
            HttpResponse r = handle(Handler::api, f.req);
            CPPUNIT_ASSERT_EQUAL(200, r.status);
            CPPUNIT_ASSERT_EQUAL(std::string("application/json"), r.content_type);
            CPPUNIT_ASSERT_EQUAL(std::string(openapi_json()), r.body);
            CPPUNIT_ASSERT(r.header("Cache-Control").find("max-age=") != std::string::npos);
            CPPUNIT_ASSERT(!r.drop_db && !r.wake_worker);
        }
        wh::JsonPtr doc = body_json(handle(Handler::api, Fixture("GET", "/openapi.json").req));
        CPPUNIT_ASSERT(json_is_string(json_object_get(doc.get(), "openapi")));
    }

    void openapi_other_methods_get_405() {
        for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "TRACE"}) {
            Fixture f(method, "/openapi.json");
            HttpResponse r = handle(Handler::api, f.req);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(method, 405, r.status);
            CPPUNIT_ASSERT_EQUAL(std::string("GET, HEAD"), r.header("Allow"));
            CPPUNIT_ASSERT_EQUAL(std::string("application/problem+json"), r.content_type);
        }
        Fixture f("GET", "/openapi.json");
        f.req.content_type = "text/plain";
        f.req.body = "x";  // like every bodyless route: a body it cannot use is refused
        CPPUNIT_ASSERT_EQUAL(415, handle(Handler::api, f.req).status);
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(ApiHttpTest, "api_http");

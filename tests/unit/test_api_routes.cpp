// The route table (core/router.hpp, routes() in core/api.cpp): every entry is reachable by
// its pattern and method, one entry per method and pattern, which routes take a body (and
// which may leave it out), and
// where /openapi.json is routed (its answers: test_api_http.cpp).
#include <cppunit/extensions/HelperMacros.h>

#include <set>
#include <string>

#include "http.hpp"
#include "router.hpp"

using namespace wh::api;

static std::string pattern_of(const RouteMatch& m) { return m.found() ? m.pattern : "(no route)"; }

namespace {

// The pattern with every "{id}" replaced by a sample id.
std::string sample_path(const std::string& pattern) {
    std::string out = pattern;
    for (size_t at; (at = out.find("{id}")) != std::string::npos;) out.replace(at, 4, "ep_1");
    return out;
}

}  // namespace

class ApiRoutesTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ApiRoutesTest);
    CPPUNIT_TEST(every_entry_is_reached_by_its_pattern_and_method);
    CPPUNIT_TEST(one_entry_per_method_and_pattern);
    CPPUNIT_TEST(body_routes);
    CPPUNIT_TEST(openapi_only_below_the_api_handler);
    CPPUNIT_TEST_SUITE_END();

public:
    void every_entry_is_reached_by_its_pattern_and_method() {
        for (const RouteEntry& e : routes()) {
            std::string path = sample_path(e.pattern);
            RouteMatch m = match_route(e.handler, path);
            CPPUNIT_ASSERT_MESSAGE(path, pattern_of(m) == e.pattern);
            CPPUNIT_ASSERT_MESSAGE(path, route_entry(m, e.method) != nullptr);
            CPPUNIT_ASSERT_MESSAGE(path, route_entry(m, e.method)->operation == e.operation);
            if (std::string(e.pattern).find("{id}") != std::string::npos)
                CPPUNIT_ASSERT_EQUAL(std::string("ep_1"), m.id);
        }
    }

    void one_entry_per_method_and_pattern() {
        std::set<std::string> seen;
        for (const RouteEntry& e : routes()) {
            std::string key = std::to_string(int(e.handler)) + " " + e.method + " " + e.pattern;
            CPPUNIT_ASSERT_MESSAGE(key, seen.insert(key).second);
            CPPUNIT_ASSERT_MESSAGE(key, std::string(e.method) != "HEAD");  // HEAD is GET's
        }
    }

    void body_routes() {
        auto takes_body = [](Handler h, const std::string& path, const std::string& method) {
            const RouteEntry* e = route_entry(match_route(h, path), method);
            return e && e->takes_body;
        };
        CPPUNIT_ASSERT(takes_body(Handler::api, "/endpoints", "POST"));
        CPPUNIT_ASSERT(takes_body(Handler::api, "/endpoints/ep_1", "PATCH"));
        CPPUNIT_ASSERT(takes_body(Handler::api, "/endpoints/ep_1/recover", "POST"));
        CPPUNIT_ASSERT(takes_body(Handler::events, "/events", "POST"));
        CPPUNIT_ASSERT(!takes_body(Handler::api, "/endpoints", "GET"));
        CPPUNIT_ASSERT(!takes_body(Handler::api, "/endpoints/ep_1/rotate-secret", "POST"));
        CPPUNIT_ASSERT(!takes_body(Handler::api, "/deliveries/ntf_1/redeliver", "POST"));
        CPPUNIT_ASSERT(!takes_body(Handler::api, "/openapi.json", "GET"));
        // the test route takes a body that may be left out; no other body route allows that
        CPPUNIT_ASSERT(takes_body(Handler::api, "/endpoints/ep_1/test", "POST"));
        for (const RouteEntry& e : routes()) {
            bool test_route = std::string(e.pattern) == "/endpoints/{id}/test";
            CPPUNIT_ASSERT_MESSAGE(e.pattern, e.body_optional == test_route);
        }
    }

    void openapi_only_below_the_api_handler() {
        CPPUNIT_ASSERT(pattern_of(match_route(Handler::api, "/openapi.json")) == "/openapi.json");
        CPPUNIT_ASSERT(pattern_of(match_route(Handler::api, "/openapi.json/")) == "/openapi.json");
        CPPUNIT_ASSERT(!match_route(Handler::api, "/openapi.yaml").found());
        CPPUNIT_ASSERT(!match_route(Handler::events, "/openapi.json").found());
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(ApiRoutesTest, "api_routes");

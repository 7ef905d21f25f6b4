// Cross-site refusal of state changes (core/cross_site.hpp): origins as browsers serialize
// them, Sec-Fetch-Site deciding when present, Origin otherwise. What handle() answers with
// it: test_api_http.cpp (cross_site_changes_are_refused).
#include <cppunit/extensions/HelperMacros.h>

#include <string>

#include "cross_site.hpp"

using namespace wh::api;

class ApiCrossSiteTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ApiCrossSiteTest);
    CPPUNIT_TEST(state_changing_methods);
    CPPUNIT_TEST(origins_are_normalized);
    CPPUNIT_TEST(not_origins);
    CPPUNIT_TEST(sec_fetch_site_decides_when_present);
    CPPUNIT_TEST(origin_decides_otherwise);
    CPPUNIT_TEST_SUITE_END();

    static const std::string own() { return "http://gw.example:8480"; }

public:
    void state_changing_methods() {
        for (const char* m : {"POST", "PUT", "PATCH", "DELETE"}) CPPUNIT_ASSERT_MESSAGE(m, is_state_change(m));
        for (const char* m : {"GET", "HEAD", "OPTIONS", "TRACE", "post", ""}) CPPUNIT_ASSERT_MESSAGE(m, !is_state_change(m));
    }

    void origins_are_normalized() {
        CPPUNIT_ASSERT_EQUAL(std::string("https://gw.example"), normalize_origin("HTTPS://GW.Example:443"));
        CPPUNIT_ASSERT_EQUAL(std::string("http://gw.example"), normalize_origin("http://gw.example:80"));
        CPPUNIT_ASSERT_EQUAL(std::string("http://gw.example:443"), normalize_origin("http://gw.example:443"));
        CPPUNIT_ASSERT_EQUAL(std::string("https://gw.example:80"), normalize_origin("https://gw.example:80"));
        CPPUNIT_ASSERT_EQUAL(std::string("http://127.0.0.1:8480"), normalize_origin("http://127.0.0.1:08480"));
        CPPUNIT_ASSERT_EQUAL(std::string("http://[::1]:8480"), normalize_origin("http://[::1]:8480"));
        CPPUNIT_ASSERT_EQUAL(std::string("http://[::1]"), normalize_origin("http://[::1]"));
    }

    void not_origins() {
        for (const char* bad : {"null", "", "gw.example", "://gw.example", "http://", "http://gw.example/",
                                "http://gw.example/page", "http://user@gw.example", "http://gw.example:",
                                "http://gw.example:65536", "http://gw.example:x", "http://gw.example?q",
                                "http://gw example", "http://[::1", "http://::1]", "ht tp://gw.example"})
            CPPUNIT_ASSERT_MESSAGE(bad, normalize_origin(bad).empty());
    }

    void sec_fetch_site_decides_when_present() {
        std::string why = cross_site_refusal("cross-site", "", own());
        CPPUNIT_ASSERT_MESSAGE(why, why.find("Sec-Fetch-Site: cross-site") != std::string::npos);
        CPPUNIT_ASSERT(!cross_site_refusal("Cross-Site", "http://gw.example:8480", own()).empty());
        for (const char* pass : {"same-origin", "same-site", "none", "SAME-ORIGIN"})
            CPPUNIT_ASSERT_MESSAGE(pass, cross_site_refusal(pass, "", own()).empty());
        // same-site pages (a sibling host) send their own origin: refused only cross-site
        CPPUNIT_ASSERT(cross_site_refusal("same-site", "https://portal.gw.example", own()).empty());
        // a value this code does not know leaves the decision to Origin
        CPPUNIT_ASSERT(!cross_site_refusal("bogus", "https://evil.example", own()).empty());
        CPPUNIT_ASSERT(cross_site_refusal("bogus", "", own()).empty());
    }

    void origin_decides_otherwise() {
        CPPUNIT_ASSERT(cross_site_refusal("", "", own()).empty());  // curl, servers
        CPPUNIT_ASSERT(cross_site_refusal("", "http://gw.example:8480", own()).empty());
        CPPUNIT_ASSERT(cross_site_refusal("", "HTTP://GW.EXAMPLE:8480", own()).empty());
        CPPUNIT_ASSERT(cross_site_refusal("", "https://gw.example", "https://gw.example").empty());
        CPPUNIT_ASSERT(cross_site_refusal("", "https://gw.example:443", "https://gw.example").empty());
        for (const char* foreign : {"http://evil.example:8480", "https://gw.example:8480", "http://gw.example:8481",
                                    "http://gw.example", "http://sub.gw.example:8480", "null",
                                    "http://gw.example:8480/path"}) {
            std::string why = cross_site_refusal("", foreign, own());
            CPPUNIT_ASSERT_MESSAGE(foreign, why.find("another origin") != std::string::npos);
        }
        CPPUNIT_ASSERT(cross_site_refusal("", "null", own()).find("not an origin") != std::string::npos);
        // a long header is not echoed whole
        std::string long_origin = "http://" + std::string(5000, 'a') + ".example";
        CPPUNIT_ASSERT(cross_site_refusal("", long_origin, own()).size() < 400);
        // the own origin itself must be one: nothing matches an empty one
        CPPUNIT_ASSERT(!cross_site_refusal("", "http://gw.example:8480", "").empty());
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(ApiCrossSiteTest, "api_cross_site");

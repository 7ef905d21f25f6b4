// The module's config records: unset sentinels, merge keeps the child's value only when
// set, getters apply defaults (mod_auth_openidc's discipline, see apache-module-craft.md).
#include <cppunit/extensions/HelperMacros.h>

#include <cstring>

#include "module_config.hpp"

using namespace wh::api;

// Adding a field to a record must come with a merge rule and a line in this test.
// 4 strings, db_timeout + max_endpoints_per_scope (two ints), key_loaded (padded) + key
static_assert(sizeof(ServerConf) == 4 * sizeof(const char*) + 8 + 8 + 32,
              "ServerConf changed: update merge_server_conf and ApiConfigTest");
// location + frame_ancestors, max_body, portal (padded)
static_assert(sizeof(DirConf) == 2 * sizeof(const char*) + sizeof(long long) + 8,
              "DirConf changed: update merge_dir_conf and ApiConfigTest");

class ApiConfigTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ApiConfigTest);
    CPPUNIT_TEST(fresh_records_are_unset);
    CPPUNIT_TEST(server_merge_keeps_child_only_when_set);
    CPPUNIT_TEST(server_merge_drops_runtime_state);
    CPPUNIT_TEST(dir_merge_keeps_child_only_when_set);
    CPPUNIT_TEST(getters_apply_defaults);
    CPPUNIT_TEST(db_timeout_merge_default_and_spec_keys);
    CPPUNIT_TEST(max_endpoints_per_scope_merge_and_default);
    CPPUNIT_TEST(portal_merge_default_and_csp);
    CPPUNIT_TEST(portal_frame_ancestors_values);
    CPPUNIT_TEST_SUITE_END();

public:
    void fresh_records_are_unset() {
        ServerConf s;
        std::memset(&s, 0x5a, sizeof s);
        init_server_conf(s);
        CPPUNIT_ASSERT(!s.db_spec && !s.key_file && !s.allow_private && !s.key_loaded);
        CPPUNIT_ASSERT(!s.notify_worker);
        DirConf d;
        init_dir_conf(d, "/loc");
        CPPUNIT_ASSERT_EQUAL(-1LL, d.max_body);
        CPPUNIT_ASSERT_EQUAL(std::string("/loc"), std::string(d.location));
    }

    void server_merge_keeps_child_only_when_set() {
        ServerConf base, add, out;
        init_server_conf(base);
        init_server_conf(add);
        base.db_spec = "main-db";
        base.key_file = "main-key";
        base.allow_private = "On";
        base.notify_worker = "127.0.0.1:8499";
        merge_server_conf(base, add, out);  // vhost sets nothing: inherits everything
        CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1:8499"), std::string(out.notify_worker));
        CPPUNIT_ASSERT_EQUAL(std::string("main-db"), std::string(out.db_spec));
        CPPUNIT_ASSERT_EQUAL(std::string("main-key"), std::string(out.key_file));
        CPPUNIT_ASSERT_EQUAL(std::string("On"), std::string(out.allow_private));
        add.db_spec = "vhost-db";
        add.allow_private = "Off";
        add.notify_worker = "Off";
        merge_server_conf(base, add, out);  // vhost overrides two, inherits one
        CPPUNIT_ASSERT_EQUAL(std::string("Off"), std::string(out.notify_worker));
        CPPUNIT_ASSERT_EQUAL(std::string("vhost-db"), std::string(out.db_spec));
        CPPUNIT_ASSERT_EQUAL(std::string("main-key"), std::string(out.key_file));
        CPPUNIT_ASSERT_EQUAL(std::string("Off"), std::string(out.allow_private));
        init_server_conf(base);
        add.key_file = "vhost-key";
        merge_server_conf(base, add, out);  // only the child set them
        CPPUNIT_ASSERT_EQUAL(std::string("vhost-key"), std::string(out.key_file));
        CPPUNIT_ASSERT_EQUAL(std::string("vhost-db"), std::string(out.db_spec));
    }

    void server_merge_drops_runtime_state() {
        ServerConf base, add, out;
        init_server_conf(base);
        init_server_conf(add);
        base.key_loaded = add.key_loaded = 1;
        merge_server_conf(base, add, out);
        CPPUNIT_ASSERT(!out.key_loaded);
    }

    void dir_merge_keeps_child_only_when_set() {
        DirConf base, add, out;
        init_dir_conf(base, nullptr);
        init_dir_conf(add, "/webhooks/v1");
        base.max_body = 500;
        merge_dir_conf(base, add, out);
        CPPUNIT_ASSERT_EQUAL(500LL, out.max_body);
        CPPUNIT_ASSERT_EQUAL(std::string("/webhooks/v1"), std::string(out.location));
        add.max_body = 100;
        merge_dir_conf(base, add, out);
        CPPUNIT_ASSERT_EQUAL(100LL, out.max_body);
        DirConf nested;
        init_dir_conf(nested, nullptr);
        merge_dir_conf(out, nested, out);  // a section without a location keeps the parent's
        CPPUNIT_ASSERT_EQUAL(std::string("/webhooks/v1"), std::string(out.location));
        CPPUNIT_ASSERT_EQUAL(100LL, out.max_body);
    }

    void getters_apply_defaults() {
        DirConf d;
        init_dir_conf(d, nullptr);
        CPPUNIT_ASSERT_EQUAL(1048576LL, max_body_size(&d));
        CPPUNIT_ASSERT_EQUAL(1048576LL, max_body_size(nullptr));
        d.max_body = 10;
        CPPUNIT_ASSERT_EQUAL(10LL, max_body_size(&d));
        ServerConf s;
        init_server_conf(s);
        CPPUNIT_ASSERT_EQUAL(std::string("Off"), std::string(allow_private_targets(&s)));
        s.allow_private = "127.0.0.0/8";
        CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.0/8"), std::string(allow_private_targets(&s)));
    }

    // WebhookMaxEndpointsPerScope: unset 0, merged like the others, default 50.
    void max_endpoints_per_scope_merge_and_default() {
        ServerConf base, add, out;
        init_server_conf(base);
        init_server_conf(add);
        CPPUNIT_ASSERT_EQUAL(0, base.max_endpoints_per_scope);
        CPPUNIT_ASSERT_EQUAL(50, max_endpoints_per_scope(&base));
        CPPUNIT_ASSERT_EQUAL(50, max_endpoints_per_scope(nullptr));
        base.max_endpoints_per_scope = 3;
        merge_server_conf(base, add, out);
        CPPUNIT_ASSERT_EQUAL(3, max_endpoints_per_scope(&out));
        add.max_endpoints_per_scope = 7;
        merge_server_conf(base, add, out);
        CPPUNIT_ASSERT_EQUAL(7, max_endpoints_per_scope(&out));
    }

    // WebhookPortal / WebhookPortalFrameAncestors: unset -1 / NULL, merged like the others;
    // the headers apply where On, or where only the frame ancestors are named; 'self' default.
    void portal_merge_default_and_csp() {
        DirConf base, add, out;
        init_dir_conf(base, "/");
        init_dir_conf(add, "/webhooks/portal");
        CPPUNIT_ASSERT_EQUAL(-1, base.portal);
        CPPUNIT_ASSERT(!base.frame_ancestors);
        CPPUNIT_ASSERT(!portal_enabled(&base));
        CPPUNIT_ASSERT(!portal_enabled(nullptr));
        CPPUNIT_ASSERT_EQUAL(std::string("'self'"), std::string(frame_ancestors(&base)));
        add.portal = 1;
        merge_dir_conf(base, add, out);
        CPPUNIT_ASSERT(portal_enabled(&out));
        CPPUNIT_ASSERT_EQUAL(std::string("default-src 'self'; base-uri 'none'; form-action 'self'; "
                                         "object-src 'none'; frame-ancestors 'self'"), portal_csp(&out));
        DirConf inner, merged;
        init_dir_conf(inner, "/webhooks/portal/x");
        inner.frame_ancestors = "https://gw.example.com";
        merge_dir_conf(out, inner, merged);
        CPPUNIT_ASSERT(portal_enabled(&merged));
        CPPUNIT_ASSERT_EQUAL(std::string("https://gw.example.com"), std::string(frame_ancestors(&merged)));
        DirConf off, merged_off;
        init_dir_conf(off, "/webhooks/portal/y");
        off.portal = 0;
        merge_dir_conf(merged, off, merged_off);
        CPPUNIT_ASSERT(!portal_enabled(&merged_off));  // Off wins over inherited sources
        DirConf only;
        init_dir_conf(only, "/p");
        only.frame_ancestors = "'none'";
        CPPUNIT_ASSERT(portal_enabled(&only));
    }

    void portal_frame_ancestors_values() {
        std::string out;
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_frame_ancestors("'self'", out));
        CPPUNIT_ASSERT_EQUAL(std::string("'self'"), out);
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_frame_ancestors("  'SELF'\thttps://gw.example.com:8443  https://*.example.org https: ", out));
        CPPUNIT_ASSERT_EQUAL(std::string("'self' https://gw.example.com:8443 https://*.example.org https:"), out);
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_frame_ancestors("'none'", out));
        const char* bad[] = {"", "   ", "'self'; script-src *", "https://a.example,https://b.example",
                             "\"'self'\"", "'unsafe-inline'", "https://gw.example.com\nX-Evil: 1",
                             "'none' 'self'", "https://gw.example.com/\x01"};
        for (const char* b : bad) {
            std::string msg = parse_frame_ancestors(b, out);
            CPPUNIT_ASSERT_MESSAGE(std::string("accepted: ") + b, !msg.empty());
        }
    }

    // WebhookDatabaseTimeout: unset 0, merged like the others, default 2 s; it bounds
    // connect/read/write unless the WebhookDatabase string sets that key itself.
    void db_timeout_merge_default_and_spec_keys() {
        ServerConf base, add, out;
        init_server_conf(base);
        init_server_conf(add);
        CPPUNIT_ASSERT_EQUAL(0, base.db_timeout);
        CPPUNIT_ASSERT_EQUAL(2, db_timeout(&base));
        CPPUNIT_ASSERT_EQUAL(2, db_timeout(nullptr));
        base.db_timeout = 5;
        merge_server_conf(base, add, out);
        CPPUNIT_ASSERT_EQUAL(5, db_timeout(&out));
        add.db_timeout = 1;
        merge_server_conf(base, add, out);
        CPPUNIT_ASSERT_EQUAL(1, db_timeout(&out));

        wh::DbConfig cfg;  // the common layer's defaults: 2 / 10 / 10
        apply_db_timeout("host=h user=u database=d", 3, cfg);
        CPPUNIT_ASSERT_EQUAL(3u, cfg.connect_timeout);
        CPPUNIT_ASSERT_EQUAL(3u, cfg.read_timeout);
        CPPUNIT_ASSERT_EQUAL(3u, cfg.write_timeout);
        wh::DbConfig given;
        const char* spec = "host=h user=u database=d connect_timeout=7 read_timeout=9";
        CPPUNIT_ASSERT_EQUAL(std::string(), wh::parse_db_config(spec, given));
        apply_db_timeout(spec, 2, given);
        CPPUNIT_ASSERT_EQUAL(7u, given.connect_timeout);
        CPPUNIT_ASSERT_EQUAL(9u, given.read_timeout);
        CPPUNIT_ASSERT_EQUAL(2u, given.write_timeout);
        wh::DbConfig tricky;  // "xread_timeout=" is not the key
        apply_db_timeout("user=u database=d password=xread_timeout=1", 4, tricky);
        CPPUNIT_ASSERT_EQUAL(4u, tricky.read_timeout);
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(ApiConfigTest, "api_config");

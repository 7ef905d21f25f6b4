#include <cppunit/extensions/HelperMacros.h>

#include "db.hpp"
#include "module_config.hpp"

using wh::DbConfig;
using wh::parse_db_config;

// WebhookDatabase and the worker's `database`: quoting, and errors that never echo a value.
class DbConfigTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(DbConfigTest);
    CPPUNIT_TEST(quoted_values_hold_spaces);
    CPPUNIT_TEST(errors_never_echo_a_value);
    CPPUNIT_TEST(timeouts_written_in_a_quoted_password_are_not_keys);
    CPPUNIT_TEST(host_lists);
    CPPUNIT_TEST(bad_host_lists_are_refused_without_echo);
    CPPUNIT_TEST_SUITE_END();

    static void assert_no_echo(const std::string& err, const std::string& secret) {
        CPPUNIT_ASSERT_MESSAGE("no error", !err.empty());
        CPPUNIT_ASSERT_MESSAGE(err, err.find(secret) == std::string::npos);
    }

public:
    void quoted_values_hold_spaces() {
        DbConfig c;
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_db_config("user=u database=d password=\"top secret\" port=3307", c));
        CPPUNIT_ASSERT_EQUAL(std::string("top secret"), c.password);
        CPPUNIT_ASSERT_EQUAL(3307u, c.port);
        DbConfig s;
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_db_config("password='a b  c' user='web hook' database=d", s));
        CPPUNIT_ASSERT_EQUAL(std::string("a b  c"), s.password);
        CPPUNIT_ASSERT_EQUAL(std::string("web hook"), s.user);
        DbConfig e;  // a backslash inside quotes takes the next character as it is
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_db_config(R"(user=u database=d password="say \"hi\" \\o/")", e));
        CPPUNIT_ASSERT_EQUAL(std::string(R"(say "hi" \o/)"), e.password);
        DbConfig plain;  // unquoted values are taken as they are, quotes inside them too
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_db_config("user=u database=d password=a\\b'c'd", plain));
        CPPUNIT_ASSERT_EQUAL(std::string("a\\bcd"), plain.password);
    }

    void errors_never_echo_a_value() {
        DbConfig c;
        // an unquoted password with a space: its tail is an item of its own
        assert_no_echo(parse_db_config("user=u database=d password=top secretTail", c), "secretTail");
        assert_no_echo(parse_db_config("user=u database=d password=top secret=Tail", c), "secret");
        assert_no_echo(parse_db_config("user=u database=d password=\"top secretTail", c), "secretTail");
        assert_no_echo(parse_db_config("user=u database=d password='unclosed", c), "unclosed");
        assert_no_echo(parse_db_config("user=u database=d port=9x9secret", c), "9x9secret");
        assert_no_echo(parse_db_config("=hidden user=u database=d", c), "hidden");
        DbConfig fresh;
        CPPUNIT_ASSERT(!parse_db_config("user=u", fresh).empty());
        CPPUNIT_ASSERT(!parse_db_config("user=u database=d colour=blue", fresh).empty());
    }

    void timeouts_written_in_a_quoted_password_are_not_keys() {
        const char* spec = "user=u database=d password=\"x read_timeout=1\" connect_timeout=7";
        DbConfig c;
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_db_config(spec, c));
        wh::api::apply_db_timeout(spec, 4, c);
        CPPUNIT_ASSERT_EQUAL(7u, c.connect_timeout);
        CPPUNIT_ASSERT_EQUAL(4u, c.read_timeout);
        CPPUNIT_ASSERT_EQUAL(4u, c.write_timeout);
        CPPUNIT_ASSERT_EQUAL(std::string("x read_timeout=1"), c.password);
    }

    void host_lists() {
        DbConfig c;
        CPPUNIT_ASSERT_EQUAL(std::string(),
                             parse_db_config("host=db1.example:3307,db-2,[::1]:3309,10.0.0.4 port=3310 user=u database=d", c));
        CPPUNIT_ASSERT_EQUAL(size_t(4), c.hosts.size());
        CPPUNIT_ASSERT_EQUAL(std::string("db1.example"), c.hosts[0].name);
        CPPUNIT_ASSERT_EQUAL(3307u, c.hosts[0].port);
        CPPUNIT_ASSERT_EQUAL(std::string("db-2"), c.hosts[1].name);
        CPPUNIT_ASSERT_EQUAL(0u, c.hosts[1].port);  // takes port=, written before or after
        CPPUNIT_ASSERT_EQUAL(std::string("::1"), c.hosts[2].name);
        CPPUNIT_ASSERT_EQUAL(3309u, c.hosts[2].port);
        CPPUNIT_ASSERT_EQUAL(std::string("db1.example:3307,db-2:3310,[::1]:3309,10.0.0.4:3310"), wh::db_where(c));
        DbConfig one;  // one host without a port: as before the lists
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_db_config("user=u database=d host=127.0.0.2", one));
        CPPUNIT_ASSERT_EQUAL(size_t(1), one.hosts.size());
        CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.2:3306"), wh::db_where(one));
        DbConfig v6;
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_db_config("user=u database=d host=[fe80::1] port=3311", v6));
        CPPUNIT_ASSERT_EQUAL(std::string("[fe80::1]:3311"), wh::db_where(v6));
        DbConfig dflt;  // no host=: loopback
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_db_config("user=u database=d", dflt));
        CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1:3306"), wh::db_where(dflt));
        DbConfig sock;
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_db_config("user=u database=d socket=/run/m.sock host=a,b", sock));
        CPPUNIT_ASSERT_EQUAL(std::string("/run/m.sock"), wh::db_where(sock));
    }

    void bad_host_lists_are_refused_without_echo() {
        const char* bad[] = {
            "secretA,",            // empty entry
            ",secretA",            // empty entry
            "secretA,,secretB",    // empty entry
            "secretA:",            // empty port
            "secretA:0",           // port 0
            "secretA:65536",       // port too large
            "secretA:33x",         // port not a number
            "::1",                 // IPv6 without brackets
            "fe80::secretA:1",     // IPv6 without brackets
            "[::1",                // no closing bracket
            "[secretA]:3306",      // not an address inside brackets
            "[::1]3306",           // text after ]
            "[::1]:",              // empty port
            ":3306",               // no name
            "secret/A",            // not a host name
            "secret@A:3306",       // not a host name
            "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,secretA",  // more than 16
        };
        for (const char* spec : bad) {
            DbConfig c;
            std::string err = parse_db_config("user=u database=d host=" + std::string(spec), c);
            CPPUNIT_ASSERT_MESSAGE(spec, !err.empty());
            CPPUNIT_ASSERT_MESSAGE(err, err.find("secret") == std::string::npos);
            CPPUNIT_ASSERT_MESSAGE(err, err.find("3306") == std::string::npos && err.find("33x") == std::string::npos);
            CPPUNIT_ASSERT_MESSAGE(err, err.find("'host'") != std::string::npos);
        }
        DbConfig c;  // the entry is named by its position
        CPPUNIT_ASSERT_EQUAL(std::string("'host' entry 2 has a port that is not a number from 1 to 65535"),
                             parse_db_config("user=u database=d host=a:1,b:99999", c));
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(DbConfigTest, "db_config");

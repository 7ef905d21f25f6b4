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
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(DbConfigTest, "db_config");

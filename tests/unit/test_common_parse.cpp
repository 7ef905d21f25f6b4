// common/parse.hpp: strict decimals with bounds, On/Off, HOST:PORT.
#include <cppunit/extensions/HelperMacros.h>

#include "parse.hpp"

class CommonParseTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(CommonParseTest);
    CPPUNIT_TEST(decimal_is_digits_only);
    CPPUNIT_TEST(decimal_refuses_overflow);
    CPPUNIT_TEST(int_min_max_names_the_bounds);
    CPPUNIT_TEST(on_off_in_any_case);
    CPPUNIT_TEST(host_port_forms);
    CPPUNIT_TEST(host_port_errors);
    CPPUNIT_TEST(db_time_to_rfc3339);
    CPPUNIT_TEST(hex_digits);
    CPPUNIT_TEST_SUITE_END();

public:
    void decimal_is_digits_only() {
        unsigned long long v = 7;
        CPPUNIT_ASSERT(wh::parse_decimal("0", 10, v));
        CPPUNIT_ASSERT_EQUAL(0ULL, v);
        CPPUNIT_ASSERT(wh::parse_decimal("0010", 10, v));
        CPPUNIT_ASSERT_EQUAL(10ULL, v);
        for (const char* bad : {"", " 1", "1 ", "+1", "-1", "0x1", "1e3", "1.0", "١"}) {
            v = 42;
            CPPUNIT_ASSERT_MESSAGE(bad, !wh::parse_decimal(bad, 1000, v));
            CPPUNIT_ASSERT_EQUAL(42ULL, v);  // untouched on failure
        }
        CPPUNIT_ASSERT(!wh::parse_decimal("11", 10, v));
    }

    void decimal_refuses_overflow() {
        unsigned long long v = 0;
        CPPUNIT_ASSERT(wh::parse_decimal("18446744073709551615", ~0ULL, v));
        CPPUNIT_ASSERT_EQUAL(~0ULL, v);
        CPPUNIT_ASSERT(!wh::parse_decimal("18446744073709551616", ~0ULL, v));
        CPPUNIT_ASSERT(!wh::parse_decimal("99999999999999999999999", ~0ULL, v));
    }

    void int_min_max_names_the_bounds() {
        long long v = -1;
        CPPUNIT_ASSERT_EQUAL(std::string(), wh::parse_int_min_max("1", 1, 10000, v));
        CPPUNIT_ASSERT_EQUAL(1LL, v);
        CPPUNIT_ASSERT_EQUAL(std::string(), wh::parse_int_min_max("10000", 1, 10000, v));
        CPPUNIT_ASSERT_EQUAL(10000LL, v);
        CPPUNIT_ASSERT_EQUAL(std::string("'0' is not a whole number from 1 to 10000"),
                             wh::parse_int_min_max("0", 1, 10000, v));
        CPPUNIT_ASSERT_EQUAL(std::string("'10001' is not a whole number from 1 to 10000"),
                             wh::parse_int_min_max("10001", 1, 10000, v));
        CPPUNIT_ASSERT_EQUAL(std::string("'-5' is not a whole number from 0 to 3600"),
                             wh::parse_int_min_max("-5", 0, 3600, v));
        CPPUNIT_ASSERT(!wh::parse_int_min_max("12x", 0, 100, v).empty());
        CPPUNIT_ASSERT(!wh::parse_int_min_max("", 0, 100, v).empty());
        CPPUNIT_ASSERT_EQUAL(10000LL, v);  // untouched by the failures
    }

    void on_off_in_any_case() {
        bool b = false;
        for (const char* on : {"On", "on", "ON", "oN"}) {
            b = false;
            CPPUNIT_ASSERT_EQUAL(std::string(), wh::parse_on_off(on, b));
            CPPUNIT_ASSERT(b);
        }
        for (const char* off : {"Off", "off", "OFF"}) {
            b = true;
            CPPUNIT_ASSERT_EQUAL(std::string(), wh::parse_on_off(off, b));
            CPPUNIT_ASSERT(!b);
            CPPUNIT_ASSERT(wh::is_off(off));
        }
        for (const char* bad : {"", "yes", "1", "true", "Offf", " on", "of"}) {
            b = true;
            CPPUNIT_ASSERT_EQUAL(std::string("must be On or Off"), wh::parse_on_off(bad, b));
            CPPUNIT_ASSERT(b);
            CPPUNIT_ASSERT(!wh::is_off(bad));
        }
    }

    void host_port_forms() {
        std::string host, port;
        CPPUNIT_ASSERT_EQUAL(std::string(), wh::split_host_port("127.0.0.1:8499", host, port));
        CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1"), host);
        CPPUNIT_ASSERT_EQUAL(std::string("8499"), port);
        CPPUNIT_ASSERT_EQUAL(std::string(), wh::split_host_port("[::1]:0", host, port));
        CPPUNIT_ASSERT_EQUAL(std::string("::1"), host);
        CPPUNIT_ASSERT_EQUAL(std::string("0"), port);
        CPPUNIT_ASSERT_EQUAL(std::string(), wh::split_host_port("worker.example:65535", host, port));
        CPPUNIT_ASSERT_EQUAL(std::string("worker.example"), host);
    }

    void host_port_errors() {
        std::string host, port;
        for (const char* bad : {"", "127.0.0.1", ":80", "::1:80", "[::1]80", "[::1", "h:", "h:65536", "h:-1",
                                "h:123456", "h:8x"})
            CPPUNIT_ASSERT_MESSAGE(bad, !wh::split_host_port(bad, host, port).empty());
        CPPUNIT_ASSERT(wh::split_host_port("::1:80", host, port).find("brackets") != std::string::npos);
    }

    void hex_digits() {
        CPPUNIT_ASSERT_EQUAL(0, wh::hex_value('0'));
        CPPUNIT_ASSERT_EQUAL(9, wh::hex_value('9'));
        CPPUNIT_ASSERT_EQUAL(10, wh::hex_value('a'));
        CPPUNIT_ASSERT_EQUAL(15, wh::hex_value('F'));
        for (char c : std::string("gG/:@`\0 x-"))
            CPPUNIT_ASSERT_EQUAL(-1, wh::hex_value(c));
    }

    void db_time_to_rfc3339() {
        CPPUNIT_ASSERT_EQUAL(std::string("2026-11-26T03:38:06.123Z"), wh::rfc3339_from_db("2026-11-26 03:38:06.123"));
        CPPUNIT_ASSERT_EQUAL(std::string("2026-11-26T03:38:06.000Z"), wh::rfc3339_from_db("2026-11-26 03:38:06"));
        CPPUNIT_ASSERT_EQUAL(std::string("2026-11-26"), wh::rfc3339_from_db("2026-11-26"));
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(CommonParseTest, "common_parse");

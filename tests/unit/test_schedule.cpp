#include <cppunit/extensions/HelperMacros.h>

#include "config_file.hpp"
#include "db.hpp"
#include "schedule.hpp"

using namespace wh;

class ScheduleConfigTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ScheduleConfigTest);
    CPPUNIT_TEST(default_schedule_is_the_gateways);
    CPPUNIT_TEST(durations);
    CPPUNIT_TEST(bad_schedules);
    CPPUNIT_TEST(config_text);
    CPPUNIT_TEST(db_spec);
    CPPUNIT_TEST_SUITE_END();

public:
    void default_schedule_is_the_gateways() {
        std::vector<long long> d;
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_schedule(default_schedule(), d));
        CPPUNIT_ASSERT(d == (std::vector<long long>{300000, 900000, 3600000, 86400000}));
    }

    void durations() {
        std::vector<long long> d;
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_schedule("1s, 2s,500ms,1d", d));
        CPPUNIT_ASSERT(d == (std::vector<long long>{1000, 2000, 500, 86400000}));
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_schedule("", d));
        CPPUNIT_ASSERT(d.empty());
    }

    void bad_schedules() {
        std::vector<long long> d{1};
        for (const char* bad : {"5", "5x", "0s", "-1s", "1s,,2s", "s", "99999999999s", "401d"})
            CPPUNIT_ASSERT_MESSAGE(bad, !parse_schedule(bad, d).empty());
        CPPUNIT_ASSERT(d == std::vector<long long>{1});  // untouched on error
    }

    void config_text() {
        std::map<std::string, std::string> m;
        CPPUNIT_ASSERT_EQUAL(std::string(),
                             parse_config_text("# c\n a = b c \n\nx=1\nx = 2\n", m));
        CPPUNIT_ASSERT_EQUAL(std::string("b c"), m["a"]);
        CPPUNIT_ASSERT_EQUAL(std::string("2"), m["x"]);
        CPPUNIT_ASSERT_EQUAL(std::string("line 2: expected key = value"),
                             parse_config_text("a=1\nnonsense\n", m));
    }

    void db_spec() {
        DbConfig c;
        CPPUNIT_ASSERT_EQUAL(std::string(),
                             parse_db_config("host=127.0.0.2 port=3307 user=u password=p "
                                             "dbname=d connect_timeout=3", c));
        CPPUNIT_ASSERT_EQUAL(size_t(1), c.hosts.size());
        CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.2"), c.hosts[0].name);
        CPPUNIT_ASSERT_EQUAL(3307u, c.port);
        CPPUNIT_ASSERT_EQUAL(std::string("d"), c.database);
        CPPUNIT_ASSERT_EQUAL(3u, c.connect_timeout);
        DbConfig e;
        CPPUNIT_ASSERT(!parse_db_config("user=u", e).empty());
        CPPUNIT_ASSERT(!parse_db_config("user=u database=d port=x", e).empty());
        CPPUNIT_ASSERT(!parse_db_config("user=u database=d colour=blue", e).empty());
        CPPUNIT_ASSERT(!parse_db_config("user=u database=d junk", e).empty());
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(ScheduleConfigTest, "schedule");

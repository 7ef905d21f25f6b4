// The worker's stderr lines: a UTC time in front unless stderr is the journal.
#include <cppunit/extensions/HelperMacros.h>

#include <regex>

#include "log.hpp"

using namespace std::chrono;

class WorkerLogTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WorkerLogTest);
    CPPUNIT_TEST(journal_stream_names_stderr);
    CPPUNIT_TEST(journal_stream_names_another_stream);
    CPPUNIT_TEST(timestamp_format);
    CPPUNIT_TEST(timestamp_before_the_epoch);
    CPPUNIT_TEST_SUITE_END();

public:
    void journal_stream_names_stderr() {
        CPPUNIT_ASSERT(wh::journal_stream_matches("8:123456", 8, 123456));
        CPPUNIT_ASSERT(wh::journal_stream_matches("0:1", 0, 1));
    }

    void journal_stream_names_another_stream() {
        // not set: a terminal, a file, a container's log
        CPPUNIT_ASSERT(!wh::journal_stream_matches(nullptr, 8, 123456));
        CPPUNIT_ASSERT(!wh::journal_stream_matches("", 8, 123456));
        // inherited by a child whose stderr was redirected elsewhere
        CPPUNIT_ASSERT(!wh::journal_stream_matches("8:123456", 8, 654321));
        CPPUNIT_ASSERT(!wh::journal_stream_matches("9:123456", 8, 123456));
        // not "DEV:INODE"
        CPPUNIT_ASSERT(!wh::journal_stream_matches("8", 8, 0));
        CPPUNIT_ASSERT(!wh::journal_stream_matches("8:123456x", 8, 123456));
        CPPUNIT_ASSERT(!wh::journal_stream_matches("journal", 0, 0));
    }

    void timestamp_format() {
        // 2026-12-04T18:43:20.123Z
        system_clock::time_point t{milliseconds(1796409800123LL)};
        CPPUNIT_ASSERT_EQUAL(std::string("2026-12-04T18:43:20.123Z"), wh::log_timestamp(t));
        CPPUNIT_ASSERT_EQUAL(std::string("1970-01-01T00:00:00.000Z"), wh::log_timestamp(system_clock::time_point{}));
        std::string now = wh::log_timestamp(system_clock::now());
        CPPUNIT_ASSERT_MESSAGE(now, std::regex_match(now, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
    }

    void timestamp_before_the_epoch() {
        system_clock::time_point t{milliseconds(-1)};
        CPPUNIT_ASSERT_EQUAL(std::string("1969-12-31T23:59:59.999Z"), wh::log_timestamp(t));
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(WorkerLogTest, "worker_log");

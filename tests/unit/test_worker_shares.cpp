// Work shared out among workers (worker/shares.hpp): who takes which share, and the SQL
// conditions that select it.
#include <cppunit/extensions/HelperMacros.h>

#include <set>

#include "shares.hpp"

using namespace wh::worker;

class WorkerSharesTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WorkerSharesTest);
    CPPUNIT_TEST(alone_takes_everything);
    CPPUNIT_TEST(each_worker_takes_its_place_in_byte_order);
    CPPUNIT_TEST(every_worker_alive_agrees);
    CPPUNIT_TEST(missing_from_the_list_takes_everything);
    CPPUNIT_TEST(sql_of_a_share);
    CPPUNIT_TEST_SUITE_END();

public:
    void alone_takes_everything() {
        Share s = share_of({"w1"}, "w1");
        CPPUNIT_ASSERT_EQUAL(1u, s.count());
        CPPUNIT_ASSERT_EQUAL(0u, s.index());
        CPPUNIT_ASSERT_EQUAL(std::string(), s.scope_sql("ep"));
        CPPUNIT_ASSERT_EQUAL(std::string(), s.reseller_sql("e"));
    }

    void each_worker_takes_its_place_in_byte_order() {
        // byte order, as the table's utf8mb4_nopad_bin sorts: "B" < "a"
        std::vector<std::string> alive = {"b:2", "a:1", "B:9"};
        CPPUNIT_ASSERT_EQUAL(0u, share_of(alive, "B:9").index());
        CPPUNIT_ASSERT_EQUAL(1u, share_of(alive, "a:1").index());
        CPPUNIT_ASSERT_EQUAL(2u, share_of(alive, "b:2").index());
        CPPUNIT_ASSERT(share_of(alive, "a:1") == (Share{"a:1", {"B:9", "b:2"}}));
        // a row read twice (it cannot be, but) does not count twice
        CPPUNIT_ASSERT(share_of({"a", "b", "a"}, "b") == (Share{"b", {"a"}}));
    }

    void every_worker_alive_agrees() {
        std::vector<std::string> alive = {"w3", "w1", "w4", "w2"};
        std::set<unsigned> places;
        for (const auto& me : alive) {
            Share s = share_of(alive, me);
            CPPUNIT_ASSERT_EQUAL(4u, s.count());
            CPPUNIT_ASSERT_EQUAL(size_t(3), s.others.size());
            places.insert(s.index());
        }
        CPPUNIT_ASSERT_EQUAL(size_t(4), places.size());
    }

    void missing_from_the_list_takes_everything() {
        CPPUNIT_ASSERT(share_of({"w1", "w2"}, "w3") == (Share{"w3", {}}));
        CPPUNIT_ASSERT_EQUAL(std::string(), share_of({"w1", "w2"}, "w3").scope_sql("ep"));
        CPPUNIT_ASSERT(share_of({}, "w3") == (Share{"w3", {}}));
    }

    // The SQL compares this worker's hash with each other's, ids as hex literals (quotes in
    // an id need no escaping); a tie goes to the greater id, so exactly one worker wins.
    void sql_of_a_share() {
        Share s{"b'", {"a", "c"}};
        const std::string me = "CRC32(CONCAT(X'62277c', ";
        const std::string key = "CAST(ep.scope_kind AS BINARY), ':', CAST(ep.scope_id AS BINARY)))";
        CPPUNIT_ASSERT_EQUAL(" AND " + me + key + " >= CRC32(CONCAT(X'617c', " + key + " AND " + me + key +
                                 " > CRC32(CONCAT(X'637c', " + key + " ",
                             s.scope_sql("ep"));
        const std::string rkey = "'reseller:', CAST(e.reseller_id AS BINARY)))";
        CPPUNIT_ASSERT_EQUAL(" AND " + me + rkey + " >= CRC32(CONCAT(X'617c', " + rkey + " AND " + me + rkey +
                                 " > CRC32(CONCAT(X'637c', " + rkey + " ",
                             s.reseller_sql("e"));
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(WorkerSharesTest, "worker_shares");

// Recording a batch of attempts in one transaction (worker/store.cpp record_sql): only the
// rows whose lease is still held are written, each column gets the right per-row value
// (the common one without a CASE), and every placeholder has its parameter.
#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>

#include <chrono>

#include "../../worker/store.hpp"  // not mod_webhook/core/store.hpp

using namespace wh::worker;

class WorkerRecordTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WorkerRecordTest);
    CPPUNIT_TEST(only_held_rows_are_written);
    CPPUNIT_TEST(placeholders_match_parameters);
    CPPUNIT_TEST(per_row_status_and_schedule);
    CPPUNIT_TEST(shared_values_need_no_case);
    CPPUNIT_TEST(gone_disables_its_endpoint);
    CPPUNIT_TEST(nothing_held_writes_nothing);
    CPPUNIT_TEST(timeouts_in_a_row_are_counted);
    CPPUNIT_TEST(replies_reset_the_count);
    CPPUNIT_TEST(tests_leave_the_breaker_alone);
    CPPUNIT_TEST(own_caps_are_left_out_of_claims);
    CPPUNIT_TEST_SUITE_END();

    using Clock = std::chrono::steady_clock;

    static Finished fin(uint64_t id, Plan::Status st, long http = 200, long long delay_ms = 0, bool gone = false) {
        Finished f;
        f.o.delivery_id = id;
        f.o.attempt_no = 1;
        f.o.endpoint_id = 100 + id;
        f.o.success = st == Plan::delivered;
        f.o.http_status = http;
        f.o.duration_ms = 12;
        if (!f.o.success) {
            f.o.error_class = "http-status";
            f.o.error_message = "HTTP " + std::to_string(http);
        }
        f.o.excerpt = "{}";
        f.plan.status = st;
        f.plan.delay_ms = delay_ms;
        f.plan.disable_endpoint = gone;
        return f;
    }
    static size_t count(const std::string& s, const std::string& what) {
        size_t n = 0;
        for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
        return n;
    }
    static bool has(const wh::Params& ps, const std::string& text) {
        return std::any_of(ps.begin(), ps.end(), [&](const wh::Param& p) { return !p.is_null() && p.text() == text; });
    }

public:
    void only_held_rows_are_written() {
        std::vector<Finished> b = {fin(1, Plan::delivered), fin(2, Plan::delivered), fin(3, Plan::pending, 500, 5000)};
        RecordSql s = record_sql("w1", b, {true, false, true}, Clock::now());
        CPPUNIT_ASSERT_EQUAL(size_t(2), s.rows);
        CPPUNIT_ASSERT(s.update_sql.find("WHERE id IN (1,3) AND lease_owner = ? AND status = 'inflight'") !=
                       std::string::npos);
        CPPUNIT_ASSERT_EQUAL(size_t(0), count(s.update_sql, "WHEN 2 "));
        CPPUNIT_ASSERT_EQUAL(size_t(2), count(s.insert_sql, "NOW(3) - INTERVAL ? MICROSECOND"));
        CPPUNIT_ASSERT_EQUAL(size_t(22), s.insert_params.size());  // 11 columns a row
        CPPUNIT_ASSERT_EQUAL(std::string("1"), s.insert_params[0].text());
        CPPUNIT_ASSERT_EQUAL(std::string("101"), s.insert_params[1].text());  // the attempt's endpoint
        CPPUNIT_ASSERT_EQUAL(std::string("3"), s.insert_params[11].text());
        CPPUNIT_ASSERT_EQUAL(std::string("103"), s.insert_params[12].text());
    }

    void placeholders_match_parameters() {
        std::vector<Finished> b = {fin(7, Plan::delivered), fin(8, Plan::pending, 503, 60000),
                                   fin(9, Plan::failed, 500), fin(10, Plan::pending, 410, 300000, true)};
        b[0].o.excerpt.clear();  // NULL excerpt: no _binary prefix
        RecordSql s = record_sql("w1", b, {true, true, true, true}, Clock::now());
        CPPUNIT_ASSERT_EQUAL(count(s.update_sql, "?"), s.update_params.size());
        CPPUNIT_ASSERT_EQUAL(count(s.insert_sql, "?"), s.insert_params.size());
        CPPUNIT_ASSERT_EQUAL(size_t(3), count(s.insert_sql, "_binary ?"));
        CPPUNIT_ASSERT_EQUAL(std::string("w1"), s.update_params.back().text());
    }

    void per_row_status_and_schedule() {
        std::vector<Finished> b = {fin(1, Plan::delivered), fin(2, Plan::pending, 500, 5000), fin(3, Plan::failed, 500)};
        RecordSql s = record_sql("w1", b, {true, true, true}, Clock::now());
        // delivered_at only for the delivered row, next_attempt_at only for the re-scheduled one
        CPPUNIT_ASSERT(s.update_sql.find("delivered_at = CASE id WHEN 1 THEN NOW(3) ELSE delivered_at END") !=
                       std::string::npos);
        CPPUNIT_ASSERT(s.update_sql.find("next_attempt_at = CASE id WHEN 2 THEN NOW(3) + INTERVAL ? MICROSECOND "
                                         "ELSE next_attempt_at END") != std::string::npos);
        CPPUNIT_ASSERT(has(s.update_params, "delivered") && has(s.update_params, "pending") &&
                       has(s.update_params, "failed"));
        CPPUNIT_ASSERT(has(s.update_params, "5000000"));  // µs
        CPPUNIT_ASSERT(has(s.update_params, "http-status: HTTP 500"));
        // three different statuses: the first one seen is the ELSE, the others get a WHEN;
        // status params come first: the WHENs in row order, then the ELSE
        CPPUNIT_ASSERT(s.update_sql.find("status = CASE id WHEN 2 THEN ? WHEN 3 THEN ? ELSE ? END") !=
                       std::string::npos);
        CPPUNIT_ASSERT_EQUAL(std::string("pending"), s.update_params[0].text());
        CPPUNIT_ASSERT_EQUAL(std::string("failed"), s.update_params[1].text());
        CPPUNIT_ASSERT_EQUAL(std::string("delivered"), s.update_params[2].text());
        CPPUNIT_ASSERT(s.disable_endpoints.empty());
    }

    // The common batch, all delivered with the same status code: one value per column, no
    // CASE (a CASE over every id cost MariaDB O(rows²)); a single exception gets one WHEN.
    void shared_values_need_no_case() {
        std::vector<Finished> b;
        for (uint64_t id = 1; id <= 50; ++id) b.push_back(fin(id, Plan::delivered));
        RecordSql s = record_sql("w1", b, std::vector<bool>(b.size(), true), Clock::now());
        CPPUNIT_ASSERT_EQUAL(size_t(0), count(s.update_sql, "CASE"));
        CPPUNIT_ASSERT(s.update_sql.find("SET status = ?, last_http_status = ?, last_error = ?, delivered_at = NOW(3), "
                                         "last_attempt_at") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(size_t(0), count(s.update_sql, "next_attempt_at"));
        CPPUNIT_ASSERT_EQUAL(count(s.update_sql, "?"), s.update_params.size());
        CPPUNIT_ASSERT_EQUAL(std::string("delivered"), s.update_params[0].text());
        CPPUNIT_ASSERT_EQUAL(std::string("200"), s.update_params[1].text());
        CPPUNIT_ASSERT(s.update_params[2].is_null());

        b.push_back(fin(51, Plan::pending, 503, 1000));
        s = record_sql("w1", b, std::vector<bool>(b.size(), true), Clock::now());
        CPPUNIT_ASSERT(s.update_sql.find("status = CASE id WHEN 51 THEN ? ELSE ? END") != std::string::npos);
        CPPUNIT_ASSERT(s.update_sql.find("delivered_at = CASE id WHEN 51 THEN delivered_at ELSE NOW(3) END") !=
                       std::string::npos);
        CPPUNIT_ASSERT(s.update_sql.find("next_attempt_at = CASE id WHEN 51 THEN NOW(3) + INTERVAL ? MICROSECOND "
                                         "ELSE next_attempt_at END") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(size_t(5), count(s.update_sql, "WHEN 51 "));  // and no other WHEN
        CPPUNIT_ASSERT_EQUAL(size_t(5), count(s.update_sql, "WHEN "));
        CPPUNIT_ASSERT_EQUAL(count(s.update_sql, "?"), s.update_params.size());
    }

    void gone_disables_its_endpoint() {
        std::vector<Finished> b = {fin(4, Plan::pending, 410, 300000, true), fin(5, Plan::pending, 410, 300000, true)};
        RecordSql s = record_sql("w1", b, {true, false}, Clock::now());
        CPPUNIT_ASSERT_EQUAL(size_t(1), s.disable_endpoints.size());
        CPPUNIT_ASSERT_EQUAL(uint64_t(104), s.disable_endpoints[0]);
    }

    void nothing_held_writes_nothing() {
        std::vector<Finished> b = {fin(1, Plan::delivered, 200, 0), fin(2, Plan::pending, 410, 1000, true)};
        RecordSql s = record_sql("w1", b, {false, false}, Clock::now());
        CPPUNIT_ASSERT_EQUAL(size_t(0), s.rows);
        CPPUNIT_ASSERT(s.update_sql.empty() && s.insert_sql.empty() && s.disable_endpoints.empty());
    }

    static Finished timeout(uint64_t id, uint64_t ep, unsigned claimed_count) {
        Finished f = fin(id, Plan::pending, 0, 5000);
        f.o.endpoint_id = ep;
        f.o.endpoint_timeouts = claimed_count;
        f.o.error_class = "timeout";
        f.o.error_message = "Operation timed out";
        return f;
    }

    void timeouts_in_a_row_are_counted() {
        std::vector<Finished> b = {timeout(1, 50, 0), timeout(2, 50, 0), timeout(3, 60, 4), fin(4, Plan::delivered)};
        RecordSql s = record_sql("w1", b, {true, true, true, true}, Clock::now());
        CPPUNIT_ASSERT(s.breaker_sql.find("WHEN 50 THEN consecutive_timeouts + ?") != std::string::npos);
        CPPUNIT_ASSERT(s.breaker_sql.find("WHEN 60 THEN consecutive_timeouts + ?") != std::string::npos);
        CPPUNIT_ASSERT(s.breaker_sql.find("WHERE id IN (50,60)") != std::string::npos);  // 104 was 0 and replied
        CPPUNIT_ASSERT(s.breaker_sql.find("updated_at = updated_at") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(count(s.breaker_sql, "?"), s.breaker_params.size());
        CPPUNIT_ASSERT_EQUAL(std::string("2"), s.breaker_params[0].text());
        CPPUNIT_ASSERT_EQUAL(std::string("1"), s.breaker_params[1].text());
        // a lost lease counts nothing
        RecordSql lost = record_sql("w1", b, {false, false, false, true}, Clock::now());
        CPPUNIT_ASSERT_EQUAL(std::string(), lost.breaker_sql);
    }

    void tests_leave_the_breaker_alone() {
        // a test's timeout neither counts nor, as a reply, resets the endpoint's count; its
        // row is still recorded (status and attempt)
        Finished t = timeout(1, 50, 0);
        t.o.test = true;
        t.plan.status = Plan::failed;
        Finished reply = fin(2, Plan::failed, 500);
        reply.o.endpoint_id = 60;
        reply.o.endpoint_timeouts = 3;
        reply.o.test = true;
        RecordSql s = record_sql("w1", {t, reply}, {true, true}, Clock::now());
        CPPUNIT_ASSERT_EQUAL(std::string(), s.breaker_sql);
        CPPUNIT_ASSERT_EQUAL(size_t(2), s.rows);
        // the same attempts of ordinary notifications change both endpoints' counts
        t.o.test = reply.o.test = false;
        RecordSql o = record_sql("w1", {t, reply}, {true, true}, Clock::now());
        CPPUNIT_ASSERT(o.breaker_sql.find("WHERE id IN (50,60)") != std::string::npos);
    }

    void replies_reset_the_count() {
        Finished reply = fin(2, Plan::pending, 500, 5000);  // an HTTP 500 is a reply too
        reply.o.endpoint_id = 50;
        reply.o.endpoint_timeouts = 6;
        Finished ok = fin(3, Plan::delivered);
        ok.o.endpoint_id = 70;
        ok.o.endpoint_timeouts = 3;
        Finished headers_then_timeout = timeout(4, 80, 1);
        headers_then_timeout.o.http_status = 200;  // a status line, then nothing: no answer
        std::vector<Finished> b = {timeout(1, 50, 6), reply, ok, headers_then_timeout};
        RecordSql s = record_sql("w1", b, {true, true, true, true}, Clock::now());
        CPPUNIT_ASSERT(s.breaker_sql.find("WHEN 50 THEN ?") != std::string::npos);
        CPPUNIT_ASSERT(s.breaker_sql.find("WHEN 70 THEN ?") != std::string::npos);
        CPPUNIT_ASSERT(s.breaker_sql.find("WHEN 80 THEN consecutive_timeouts + ?") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(std::string("0"), s.breaker_params[0].text());
        CPPUNIT_ASSERT_EQUAL(std::string("0"), s.breaker_params[1].text());
        CPPUNIT_ASSERT_EQUAL(std::string("1"), s.breaker_params[2].text());
    }

    // A claim leaves out only endpoints this worker alone keeps at a cap (their own or their
    // scope's); any other waiting endpoint may have a free slot by now and is read again.
    void own_caps_are_left_out_of_claims() {
        ClaimLimits limits;
        limits.per_endpoint = 2;
        limits.per_scope = 3;
        const ScopeKey noisy{"reseller", "R1"}, quiet{"reseller", "R2"};
        std::vector<Claimed> held(5);
        held[0].endpoint_id = held[1].endpoint_id = 1;  // endpoint 1 at its cap of 2
        held[0].scope = held[1].scope = noisy;
        held[2].endpoint_id = 2;  // and the scope at 3 with endpoint 2
        held[2].scope = noisy;
        held[3].endpoint_id = 7;  // endpoint 7 has one of 2, its scope one of 3
        held[3].scope = quiet;
        held[4].endpoint_id = 8;
        held[4].scope = {"portfolio", "R1"};  // same id, other kind: another scope
        std::vector<const Claimed*> mine;
        for (const auto& c : held) mine.push_back(&c);
        std::map<uint64_t, ScopeKey> waiting{{1, noisy}, {3, noisy}, {7, quiet}, {9, quiet}, {8, {"portfolio", "R1"}}};
        CPPUNIT_ASSERT(at_cap_here(waiting, mine, limits) == (std::set<uint64_t>{1, 3}));
        held.pop_back();
        mine.clear();
        for (const auto& c : held) mine.push_back(&c);
        mine.erase(mine.begin() + 2);  // one of the scope's deliveries recorded: room again
        CPPUNIT_ASSERT(at_cap_here(waiting, mine, limits) == (std::set<uint64_t>{1}));
        CPPUNIT_ASSERT(at_cap_here(waiting, {}, limits).empty());
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(WorkerRecordTest, "worker_record");

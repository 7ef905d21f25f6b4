// What happens to a delivery after an attempt: re-delivery schedule, final failure,
// Retry-After and 410 Gone (docs/contract.md §5); a test notification's single attempt.
#include <cppunit/extensions/HelperMacros.h>

#include "judge.hpp"
#include "schedule.hpp"

using namespace wh::worker;

class WorkerScheduleTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WorkerScheduleTest);
    CPPUNIT_TEST(success_is_delivered_whatever_the_attempt);
    CPPUNIT_TEST(default_schedule_delays_per_failure);
    CPPUNIT_TEST(final_failure_after_the_last_delay);
    CPPUNIT_TEST(short_and_empty_schedules);
    CPPUNIT_TEST(retry_after_pushes_later_on_429_and_503_only);
    CPPUNIT_TEST(retry_after_is_capped_at_24_hours);
    CPPUNIT_TEST(retry_after_never_revives_a_final_failure);
    CPPUNIT_TEST(gone_disables_and_holds);
    CPPUNIT_TEST(a_test_gets_one_attempt);
    CPPUNIT_TEST(a_test_never_disables_its_endpoint);
    CPPUNIT_TEST_SUITE_END();

    static std::vector<long long> def() {
        std::vector<long long> s;
        CPPUNIT_ASSERT_EQUAL(std::string(), wh::parse_schedule(wh::default_schedule(), s));
        return s;
    }

public:
    void success_is_delivered_whatever_the_attempt() {
        for (unsigned a : {1u, 3u, 5u, 9u}) {
            Plan p = plan_after_attempt(true, a, def(), 200, 0);
            CPPUNIT_ASSERT(p.status == Plan::delivered);
            CPPUNIT_ASSERT(!p.disable_endpoint);
        }
    }

    void default_schedule_delays_per_failure() {
        const long long want[] = {5 * 60000LL, 15 * 60000LL, 3600000LL, 24 * 3600000LL};
        for (unsigned a = 1; a <= 4; ++a) {
            Plan p = plan_after_attempt(false, a, def(), 500, 0);
            CPPUNIT_ASSERT(p.status == Plan::pending);
            CPPUNIT_ASSERT_EQUAL(want[a - 1], p.delay_ms);
            CPPUNIT_ASSERT(!p.disable_endpoint);
        }
        // transport errors (no HTTP status) follow the same schedule
        CPPUNIT_ASSERT_EQUAL(5 * 60000LL, plan_after_attempt(false, 1, def(), 0, 0).delay_ms);
    }

    void final_failure_after_the_last_delay() {
        // five attempts in all: the fifth failure is final
        CPPUNIT_ASSERT(plan_after_attempt(false, 5, def(), 500, 0).status == Plan::failed);
        CPPUNIT_ASSERT(plan_after_attempt(false, 6, def(), 0, 0).status == Plan::failed);
        CPPUNIT_ASSERT(plan_after_attempt(false, 4, def(), 500, 0).status == Plan::pending);
    }

    void short_and_empty_schedules() {
        std::vector<long long> s = {1000, 1000};
        CPPUNIT_ASSERT(plan_after_attempt(false, 1, s, 500, 0).status == Plan::pending);
        CPPUNIT_ASSERT_EQUAL(1000LL, plan_after_attempt(false, 2, s, 500, 0).delay_ms);
        CPPUNIT_ASSERT(plan_after_attempt(false, 3, s, 500, 0).status == Plan::failed);
        std::vector<long long> none;
        CPPUNIT_ASSERT(plan_after_attempt(false, 1, none, 500, 0).status == Plan::failed);
    }

    void retry_after_pushes_later_on_429_and_503_only() {
        // longer than the schedule's delay: Retry-After wins
        Plan p = plan_after_attempt(false, 1, def(), 429, 3600);
        CPPUNIT_ASSERT(p.status == Plan::pending);
        CPPUNIT_ASSERT_EQUAL(3600000LL, p.delay_ms);
        CPPUNIT_ASSERT_EQUAL(3600000LL, plan_after_attempt(false, 1, def(), 503, 3600).delay_ms);
        // shorter than the schedule's delay: the schedule wins (max of both)
        CPPUNIT_ASSERT_EQUAL(5 * 60000LL, plan_after_attempt(false, 1, def(), 429, 10).delay_ms);
        // other statuses ignore it
        CPPUNIT_ASSERT_EQUAL(5 * 60000LL, plan_after_attempt(false, 1, def(), 500, 3600).delay_ms);
        CPPUNIT_ASSERT_EQUAL(5 * 60000LL, plan_after_attempt(false, 1, def(), 502, 3600).delay_ms);
    }

    void retry_after_is_capped_at_24_hours() {
        std::vector<long long> s = {1000};
        CPPUNIT_ASSERT_EQUAL(kRetryAfterCapMs, plan_after_attempt(false, 1, s, 429, 10LL * 86400).delay_ms);
        CPPUNIT_ASSERT_EQUAL(kRetryAfterCapMs, plan_after_attempt(false, 1, s, 503, 1LL << 40).delay_ms);
        CPPUNIT_ASSERT_EQUAL(24LL * 3600 * 1000, kRetryAfterCapMs);
        // a schedule delay longer than the cap is kept
        std::vector<long long> longer = {2LL * 86400000};
        CPPUNIT_ASSERT_EQUAL(2LL * 86400000, plan_after_attempt(false, 1, longer, 429, 10LL * 86400).delay_ms);
    }

    void retry_after_never_revives_a_final_failure() {
        CPPUNIT_ASSERT(plan_after_attempt(false, 5, def(), 429, 60).status == Plan::failed);
    }

    void gone_disables_and_holds() {
        Plan p = plan_after_attempt(false, 1, def(), 410, 0);
        CPPUNIT_ASSERT(p.disable_endpoint);
        CPPUNIT_ASSERT(p.status == Plan::pending);
        CPPUNIT_ASSERT_EQUAL(5 * 60000LL, p.delay_ms);
        // even after the last scheduled attempt it is held, not failed
        Plan last = plan_after_attempt(false, 5, def(), 410, 0);
        CPPUNIT_ASSERT(last.disable_endpoint);
        CPPUNIT_ASSERT(last.status == Plan::pending);
        CPPUNIT_ASSERT(!plan_after_attempt(false, 1, def(), 404, 0).disable_endpoint);
    }

    void a_test_gets_one_attempt() {
        // a failure is final at once, whatever the schedule still holds and whatever the
        // receiver asks (Retry-After); a success is delivered as usual
        for (long http : {0L, 404L, 429L, 500L, 503L}) {
            Plan p = plan_after_attempt(false, 1, def(), http, 30, true);
            CPPUNIT_ASSERT(p.status == Plan::failed);
            CPPUNIT_ASSERT_EQUAL(0LL, p.delay_ms);
            CPPUNIT_ASSERT(!p.disable_endpoint);
        }
        CPPUNIT_ASSERT(plan_after_attempt(true, 1, def(), 200, 0, true).status == Plan::delivered);
        // the same failure of an ordinary notification is re-scheduled
        CPPUNIT_ASSERT(plan_after_attempt(false, 1, def(), 500, 0, false).status == Plan::pending);
    }

    void a_test_never_disables_its_endpoint() {
        Plan p = plan_after_attempt(false, 1, def(), 410, 0, true);
        CPPUNIT_ASSERT(!p.disable_endpoint);
        CPPUNIT_ASSERT(p.status == Plan::failed);
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(WorkerScheduleTest, "worker_schedule");

// The module's metrics block: counting answers and events, the exposition text, and sums
// across processes sharing the block (as Apache's children share the post_config segment).
#include <cppunit/extensions/HelperMacros.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "api_metrics.hpp"

using namespace wh::api;

class ApiMetricsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ApiMetricsTest);
    CPPUNIT_TEST(counts_events_in_202_bodies);
    CPPUNIT_TEST(observe_and_render);
    CPPUNIT_TEST(sums_across_processes_and_threads);
    CPPUNIT_TEST(publishes_conflict_retries_once);
    CPPUNIT_TEST_SUITE_END();

    static bool has(const std::string& text, const std::string& line) {
        return text.find("\n" + line + "\n") != std::string::npos;
    }

public:
    void counts_events_in_202_bodies() {
        EventCounts c = count_events(R"({"eventId":"evt_1"})");
        CPPUNIT_ASSERT_EQUAL(uint64_t(1), c.accepted);
        c = count_events(R"({"eventId":"evt_1","duplicate":true})");
        CPPUNIT_ASSERT_EQUAL(uint64_t(0), c.accepted);
        CPPUNIT_ASSERT_EQUAL(uint64_t(1), c.duplicate);
        c = count_events(R"([{"eventId":"a"},{"eventId":"b","duplicate":true},{"eventId":"c"},{"x":1}])");
        CPPUNIT_ASSERT_EQUAL(uint64_t(2), c.accepted);
        CPPUNIT_ASSERT_EQUAL(uint64_t(1), c.duplicate);
        c = count_events("not json");
        CPPUNIT_ASSERT_EQUAL(uint64_t(0), c.accepted + c.duplicate);
    }

    void observe_and_render() {
        MetricsBlock b;
        metrics_init(b);
        metrics_observe(b, MetricsHandler::events, 202, 3000, R"([{"eventId":"a"},{"eventId":"b"}])");
        metrics_observe(b, MetricsHandler::events, 422, 800, R"({"type":"x"})");
        metrics_observe(b, MetricsHandler::events, 422, 20000000, "");
        metrics_observe(b, MetricsHandler::api, 200, 1000, R"({"eventId":"not counted: api"})");
        metrics_observe(b, MetricsHandler::events, 202, 40000, R"({"eventId":"c","duplicate":true})");
        std::string t = metrics_render(b);
        CPPUNIT_ASSERT(has(t, "webhook_events_accepted_total 2"));
        CPPUNIT_ASSERT(has(t, "webhook_events_duplicate_total 1"));
        CPPUNIT_ASSERT(has(t, "webhook_events_rejected_total{status=\"422\"} 2"));
        CPPUNIT_ASSERT(has(t, "webhook_events_rejected_total{status=\"503\"} 0"));
        CPPUNIT_ASSERT(t.find("rejected_total{status=\"202\"}") == std::string::npos);
        CPPUNIT_ASSERT(has(t, "webhook_http_responses_total{handler=\"events\",status=\"202\"} 2"));
        CPPUNIT_ASSERT(has(t, "webhook_http_responses_total{handler=\"api\",status=\"200\"} 1"));
        CPPUNIT_ASSERT(has(t, "webhook_request_duration_seconds_bucket{handler=\"events\",le=\"0.001\"} 1"));
        CPPUNIT_ASSERT(has(t, "webhook_request_duration_seconds_bucket{handler=\"events\",le=\"0.005\"} 2"));
        CPPUNIT_ASSERT(has(t, "webhook_request_duration_seconds_bucket{handler=\"events\",le=\"0.05\"} 3"));
        CPPUNIT_ASSERT(has(t, "webhook_request_duration_seconds_bucket{handler=\"events\",le=\"10\"} 3"));
        CPPUNIT_ASSERT(has(t, "webhook_request_duration_seconds_bucket{handler=\"events\",le=\"+Inf\"} 4"));
        CPPUNIT_ASSERT(has(t, "webhook_request_duration_seconds_count{handler=\"events\"} 4"));
        CPPUNIT_ASSERT(has(t, "webhook_request_duration_seconds_sum{handler=\"events\"} 20.0438"));
        CPPUNIT_ASSERT(has(t, "webhook_request_duration_seconds_count{handler=\"api\"} 1"));
    }

    void sums_across_processes_and_threads() {
        void* mem = mmap(nullptr, sizeof(MetricsBlock), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        CPPUNIT_ASSERT(mem != MAP_FAILED);
        auto* b = static_cast<MetricsBlock*>(mem);
        metrics_init(*b);
        const int kProcs = 4, kThreads = 4, kEach = 500;
        std::vector<pid_t> kids;
        for (int p = 0; p < kProcs; ++p) {
            pid_t pid = fork();
            if (pid == 0) {
                std::vector<std::thread> ts;
                for (int t = 0; t < kThreads; ++t)
                    ts.emplace_back([b] {
                        for (int i = 0; i < kEach; ++i)
                            metrics_observe(*b, MetricsHandler::events, 202, 100, R"({"eventId":"e"})");
                    });
                for (auto& t : ts) t.join();
                _exit(0);
            }
            CPPUNIT_ASSERT(pid > 0);
            kids.push_back(pid);
        }
        for (pid_t k : kids) {
            int st = 0;
            waitpid(k, &st, 0);
            CPPUNIT_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        const uint64_t total = uint64_t(kProcs) * kThreads * kEach;
        CPPUNIT_ASSERT_EQUAL(total, b->events_accepted);
        CPPUNIT_ASSERT_EQUAL(total, b->latency_count[size_t(MetricsHandler::events)]);
        CPPUNIT_ASSERT_EQUAL(total, b->responses[size_t(MetricsHandler::events)][202]);
        munmap(mem, sizeof(MetricsBlock));
    }

    // Each process adds what its own running count gained since it last published, once,
    // whichever thread gets there first.
    void publishes_conflict_retries_once() {
        MetricsBlock b;
        metrics_init(b);
        std::atomic<uint64_t> published{0};
        metrics_publish_count(b.db_conflict_retries, published, 3);
        metrics_publish_count(b.db_conflict_retries, published, 3);
        metrics_publish_count(b.db_conflict_retries, published, 2);  // a late, smaller read
        CPPUNIT_ASSERT_EQUAL(uint64_t(3), b.db_conflict_retries);
        std::vector<std::thread> ts;
        for (uint64_t total = 4; total <= 11; ++total)
            ts.emplace_back([&, total] { metrics_publish_count(b.db_conflict_retries, published, total); });
        for (auto& t : ts) t.join();
        CPPUNIT_ASSERT_EQUAL(uint64_t(11), b.db_conflict_retries);
        CPPUNIT_ASSERT(has(metrics_render(b), "webhook_db_conflict_retries_total 11"));
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(ApiMetricsTest, "api_metrics");

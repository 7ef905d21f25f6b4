// The worker's operations logic that needs no database: retention walk and batching, the
// pass clock, auto-disable throttle and texts, the system event's data, and the settings.
#include <cppunit/extensions/HelperMacros.h>

#include "json.hpp"
#include "lifecycle.hpp"
#include "worker_metrics.hpp"
#include "options.hpp"
#include "retention.hpp"

using namespace wh::worker;
using std::chrono::milliseconds;
using std::chrono::seconds;

class WorkerOpsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WorkerOpsTest);
    CPPUNIT_TEST(walk_purges_old_finished_rows_and_stops_at_the_first_young_one);
    CPPUNIT_TEST(walk_goes_on_after_a_full_page_of_old_rows);
    CPPUNIT_TEST(walk_skips_old_unfinished_rows);
    CPPUNIT_TEST(walk_ends_at_a_short_or_empty_page);
    CPPUNIT_TEST(chunks_split_ids);
    CPPUNIT_TEST(retention_clock);
    CPPUNIT_TEST(throttle_checks_each_endpoint_once_per_gap);
    CPPUNIT_TEST(periods_and_reasons);
    CPPUNIT_TEST(disabled_event_data);
    CPPUNIT_TEST(settings_defaults_and_values);
    CPPUNIT_TEST(settings_errors);
    CPPUNIT_TEST(settings_through_the_worker_options);
    CPPUNIT_TEST(metrics_render_counters_and_histogram);
    CPPUNIT_TEST(metrics_labels_are_sanitised_and_bounded);
    CPPUNIT_TEST(metrics_responder);
    CPPUNIT_TEST_SUITE_END();

public:
    void walk_purges_old_finished_rows_and_stops_at_the_first_young_one() {
        std::vector<WalkRow> page = {{1, true, true}, {2, true, false}, {3, true, true}, {4, false, true},
                                     {5, true, true}};
        WalkStep s = plan_walk_step(page, 0, 5);
        CPPUNIT_ASSERT((s.purge == std::vector<uint64_t>{1, 3}));
        CPPUNIT_ASSERT(s.done);  // row 4 is young: everything after it is too
    }

    void walk_goes_on_after_a_full_page_of_old_rows() {
        std::vector<WalkRow> page = {{10, true, true}, {11, true, true}, {12, true, false}};
        WalkStep s = plan_walk_step(page, 9, 3);
        CPPUNIT_ASSERT(!s.done);
        CPPUNIT_ASSERT_EQUAL(uint64_t(12), s.next_cursor);
        CPPUNIT_ASSERT((s.purge == std::vector<uint64_t>{10, 11}));
    }

    void walk_skips_old_unfinished_rows() {
        std::vector<WalkRow> page = {{1, true, false}, {2, true, false}};
        WalkStep s = plan_walk_step(page, 0, 2);
        CPPUNIT_ASSERT(s.purge.empty());
        CPPUNIT_ASSERT(!s.done);
        CPPUNIT_ASSERT_EQUAL(uint64_t(2), s.next_cursor);
    }

    void walk_ends_at_a_short_or_empty_page() {
        WalkStep s = plan_walk_step({{7, true, true}}, 6, 500);
        CPPUNIT_ASSERT(s.done);
        CPPUNIT_ASSERT((s.purge == std::vector<uint64_t>{7}));
        WalkStep e = plan_walk_step({}, 42, 500);
        CPPUNIT_ASSERT(e.done);
        CPPUNIT_ASSERT(e.purge.empty());
        CPPUNIT_ASSERT_EQUAL(uint64_t(42), e.next_cursor);
    }

    void chunks_split_ids() {
        std::vector<uint64_t> ids = {1, 2, 3, 4, 5};
        auto c = chunks(ids, 2);
        CPPUNIT_ASSERT_EQUAL(size_t(3), c.size());
        CPPUNIT_ASSERT((c[0] == std::vector<uint64_t>{1, 2}));
        CPPUNIT_ASSERT((c[2] == std::vector<uint64_t>{5}));
        CPPUNIT_ASSERT(chunks({}, 100).empty());
        CPPUNIT_ASSERT_EQUAL(size_t(5), chunks(ids, 0).size());  // 0 behaves as 1
    }

    void retention_clock() {
        auto t0 = RetentionClock::Clock::time_point{} + seconds(1000);
        RetentionClock c(30, milliseconds(60000), t0);
        CPPUNIT_ASSERT(!c.due(t0 - seconds(1)));
        CPPUNIT_ASSERT(c.due(t0));
        c.ran(t0);
        CPPUNIT_ASSERT(!c.due(t0 + seconds(59)));
        CPPUNIT_ASSERT(c.due(t0 + seconds(60)));
        RetentionClock off(0, milliseconds(60000), t0);  // 0 days = keep forever
        CPPUNIT_ASSERT(!off.due(t0 + seconds(100000)));
    }

    void throttle_checks_each_endpoint_once_per_gap() {
        auto t0 = CheckThrottle::Clock::time_point{} + seconds(1000);
        CheckThrottle t(5LL * 86400000);  // 5 days: gap capped at 60 s
        CPPUNIT_ASSERT_EQUAL(60000LL, (long long)t.gap().count());
        CPPUNIT_ASSERT(t.allow(1, t0));
        CPPUNIT_ASSERT(!t.allow(1, t0 + seconds(59)));
        CPPUNIT_ASSERT(t.allow(2, t0 + seconds(1)));  // per endpoint
        CPPUNIT_ASSERT(t.allow(1, t0 + seconds(60)));
        CheckThrottle quick(3000);  // tests: a quarter of the period
        CPPUNIT_ASSERT_EQUAL(750LL, (long long)quick.gap().count());
        CheckThrottle tiny(100);
        CPPUNIT_ASSERT_EQUAL(100LL, (long long)tiny.gap().count());
    }

    void periods_and_reasons() {
        CPPUNIT_ASSERT_EQUAL(std::string("5d"), format_period(5LL * 86400000));
        CPPUNIT_ASSERT_EQUAL(std::string("36h"), format_period(36LL * 3600000));
        CPPUNIT_ASSERT_EQUAL(std::string("90m"), format_period(90LL * 60000));
        CPPUNIT_ASSERT_EQUAL(std::string("3s"), format_period(3000));
        CPPUNIT_ASSERT_EQUAL(std::string("1500ms"), format_period(1500));
        CPPUNIT_ASSERT_EQUAL(std::string("auto-disabled: every delivery attempt failed for 5d"),
                             auto_disable_reason(5LL * 86400000));
    }

    void disabled_event_data() {
        std::string d = endpoint_disabled_data("ep_1", "https://x.example/h?a=\"b\"", "410 Gone from receiver",
                                               "2026-11-26T04:00:00.123Z");
        wh::JsonPtr j = wh::json_parse(d);
        CPPUNIT_ASSERT(j && json_is_object(j.get()));
        CPPUNIT_ASSERT_EQUAL(size_t(4), json_object_size(j.get()));
        CPPUNIT_ASSERT_EQUAL(std::string("ep_1"), wh::json_str(j.get(), "endpointId"));
        CPPUNIT_ASSERT_EQUAL(std::string("https://x.example/h?a=\"b\""), wh::json_str(j.get(), "url"));
        CPPUNIT_ASSERT_EQUAL(std::string("410 Gone from receiver"), wh::json_str(j.get(), "reason"));
        CPPUNIT_ASSERT_EQUAL(std::string("2026-11-26T04:00:00.123Z"), wh::json_str(j.get(), "disabledAt"));
    }

    // The operations settings, resolved as the worker resolves them (file + flags).
    static std::string ops(const std::map<std::string, std::string>& settings, OpsOptions& out) {
        std::map<std::string, std::string> file = {{"database", "host=127.0.0.1 user=u password=p database=d"},
                                                   {"secret_key_file", "/k"}};
        for (const auto& kv : settings) file[kv.first] = kv.second;
        Options o;
        std::string e = resolve_options(CommandLine(), file, o);
        out = o.ops;
        return e;
    }

    void settings_defaults_and_values() {
        OpsOptions o;
        CPPUNIT_ASSERT_EQUAL(std::string(), ops({}, o));
        CPPUNIT_ASSERT_EQUAL(30u, o.retention_days);
        CPPUNIT_ASSERT_EQUAL(60000LL, o.maintenance_interval_ms);
        CPPUNIT_ASSERT_EQUAL(5LL * 86400000, o.auto_disable_after_ms);
        CPPUNIT_ASSERT(o.metrics_listen.empty());
        CPPUNIT_ASSERT_EQUAL(std::string(),
                             ops({{"retention_days", "0"}, {"maintenance_interval", "1s"},
                                  {"auto_disable_after", "off"}, {"metrics_listen", "127.0.0.1:9100"}},
                                 o));
        CPPUNIT_ASSERT_EQUAL(0u, o.retention_days);
        CPPUNIT_ASSERT_EQUAL(1000LL, o.maintenance_interval_ms);
        CPPUNIT_ASSERT_EQUAL(0LL, o.auto_disable_after_ms);
        CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1:9100"), o.metrics_listen);
        CPPUNIT_ASSERT_EQUAL(std::string(), ops({{"auto_disable_after", "12h"}}, o));
        CPPUNIT_ASSERT_EQUAL(12LL * 3600000, o.auto_disable_after_ms);
        CPPUNIT_ASSERT_EQUAL(std::string(), ops({{"metrics_listen", "OFF"}}, o));
        CPPUNIT_ASSERT(o.metrics_listen.empty());
        std::string host;
        unsigned port = 0;
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_loopback_listen("[::1]:9200", host, port));
        CPPUNIT_ASSERT_EQUAL(std::string("::1"), host);
        CPPUNIT_ASSERT_EQUAL(9200u, port);
    }

    void settings_errors() {
        OpsOptions o;
        auto err = [&](const std::string& k, const std::string& v) { return ops({{k, v}}, o); };
        CPPUNIT_ASSERT(err("retention_days", "-1").find("--retention-days") == 0);
        CPPUNIT_ASSERT(!err("retention_days", "30d").empty());
        CPPUNIT_ASSERT(!err("retention_days", "99999").empty());
        CPPUNIT_ASSERT(!err("maintenance_interval", "500ms").empty());  // under 1 s
        CPPUNIT_ASSERT(!err("maintenance_interval", "2d").empty());
        CPPUNIT_ASSERT(err("maintenance_interval", "2d").find("from 1s to 1d") != std::string::npos);
        CPPUNIT_ASSERT(!err("auto_disable_after", "5 days").empty());
        CPPUNIT_ASSERT(err("metrics_listen", "0.0.0.0:9100").find("loopback") != std::string::npos);
        CPPUNIT_ASSERT(!err("metrics_listen", "10.1.2.3:9100").empty());
        CPPUNIT_ASSERT(!err("metrics_listen", "localhost:9100").empty());
        CPPUNIT_ASSERT(!err("metrics_listen", "127.0.0.1:0").empty());
        CPPUNIT_ASSERT(!err("metrics_listen", "127.0.0.1:70000").empty());
        CPPUNIT_ASSERT(!err("metrics_listen", "127.0.0.1").empty());
        CPPUNIT_ASSERT(!err("metrics_listen", "[::2]:9100").empty());
    }

    void settings_through_the_worker_options() {
        CommandLine cl;
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_command_line({"--retention-days", "7", "--auto-disable-after=3s"}, cl));
        Options o;
        std::map<std::string, std::string> file = {{"database", "host=127.0.0.1 user=u password=p database=d"},
                                                   {"secret_key_file", "/k"},
                                                   {"maintenance_interval", "5m"},
                                                   {"retention_days", "90"}};
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve_options(cl, file, o));
        CPPUNIT_ASSERT_EQUAL(7u, o.ops.retention_days);  // the flag wins over the file
        CPPUNIT_ASSERT_EQUAL(3000LL, o.ops.auto_disable_after_ms);
        CPPUNIT_ASSERT_EQUAL(300000LL, o.ops.maintenance_interval_ms);
        file["retention_days"] = "x";
        CommandLine none;
        CPPUNIT_ASSERT(resolve_options(none, file, o).find("retention_days") != std::string::npos);
        CPPUNIT_ASSERT(usage_text().find("--auto-disable-after") != std::string::npos);
    }
    static bool has(const std::string& text, const std::string& line) {
        return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
    }

    void metrics_render_counters_and_histogram() {
        WorkerMetrics m;
        m.attempt(0.004, true, false, "");
        m.attempt(0.2, false, false, "http-status");
        m.attempt(0.3, false, false, "http-status");
        m.attempt(45, false, true, "timeout");
        m.attempt(120, false, true, "timeout");
        m.set_inflight(3);
        m.endpoint_auto_disabled();
        m.purged(5, 9, 2);
        std::string t = m.render();
        CPPUNIT_ASSERT(has(t, "webhook_worker_delivered_total 1"));
        CPPUNIT_ASSERT(has(t, "webhook_worker_retried_total{reason=\"http-status\"} 2"));
        CPPUNIT_ASSERT(has(t, "webhook_worker_failed_total{reason=\"timeout\"} 2"));
        CPPUNIT_ASSERT(has(t, "webhook_worker_attempt_duration_seconds_bucket{le=\"0.01\"} 1"));
        CPPUNIT_ASSERT(has(t, "webhook_worker_attempt_duration_seconds_bucket{le=\"0.25\"} 2"));
        CPPUNIT_ASSERT(has(t, "webhook_worker_attempt_duration_seconds_bucket{le=\"0.5\"} 3"));
        CPPUNIT_ASSERT(has(t, "webhook_worker_attempt_duration_seconds_bucket{le=\"60\"} 4"));
        CPPUNIT_ASSERT(has(t, "webhook_worker_attempt_duration_seconds_bucket{le=\"+Inf\"} 5"));
        CPPUNIT_ASSERT(has(t, "webhook_worker_attempt_duration_seconds_count 5"));
        CPPUNIT_ASSERT(has(t, "webhook_worker_attempt_duration_seconds_sum 165.504"));
        CPPUNIT_ASSERT(has(t, "webhook_worker_inflight 3"));
        CPPUNIT_ASSERT(has(t, "webhook_worker_endpoints_auto_disabled_total 1"));
        CPPUNIT_ASSERT(has(t, "webhook_worker_retention_purged_total{table=\"attempts\"} 9"));
        CPPUNIT_ASSERT(t.find("webhook_worker_backlog") == std::string::npos);  // unknown until refreshed
        m.set_backlog(7, 1.5);
        t = m.render();
        CPPUNIT_ASSERT(has(t, "webhook_worker_backlog 7"));
        CPPUNIT_ASSERT(has(t, "webhook_worker_oldest_due_age_seconds 1.5"));
        CPPUNIT_ASSERT(has(t, "# TYPE webhook_worker_attempt_duration_seconds histogram"));
    }

    void metrics_labels_are_sanitised_and_bounded() {
        CPPUNIT_ASSERT_EQUAL(std::string("bad_lab_l_x"), WorkerMetrics::label("Bad\"lab\\l x"));
        CPPUNIT_ASSERT_EQUAL(std::string("none"), WorkerMetrics::label(""));
        CPPUNIT_ASSERT_EQUAL(size_t(32), WorkerMetrics::label(std::string(100, 'a')).size());
        WorkerMetrics m;
        for (int i = 0; i < 200; ++i) m.attempt(0.1, false, false, "r" + std::to_string(i));
        std::string t = m.render();
        size_t series = 0;
        for (size_t p = 0; (p = t.find("webhook_worker_retried_total{", p)) != std::string::npos; ++p) ++series;
        CPPUNIT_ASSERT(series <= 65);
        CPPUNIT_ASSERT(has(t, "webhook_worker_retried_total{reason=\"other\"} 136"));
    }

    void metrics_responder() {
        WorkerMetrics m;
        std::string ok = MetricsServer::respond("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", m);
        CPPUNIT_ASSERT(ok.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
        CPPUNIT_ASSERT(ok.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
        CPPUNIT_ASSERT(ok.find("webhook_worker_delivered_total 0") != std::string::npos);
        std::string body = ok.substr(ok.find("\r\n\r\n") + 4);
        CPPUNIT_ASSERT(ok.find("Content-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos);
        CPPUNIT_ASSERT(MetricsServer::respond("GET /other HTTP/1.1\r\n\r\n", m).rfind("HTTP/1.1 404", 0) == 0);
        CPPUNIT_ASSERT(MetricsServer::respond("POST /metrics HTTP/1.1\r\n\r\n", m).rfind("HTTP/1.1 405", 0) == 0);
        CPPUNIT_ASSERT(MetricsServer::respond("garbage", m).rfind("HTTP/1.1 400", 0) == 0);
        std::string h = MetricsServer::respond("HEAD /metrics?x=1 HTTP/1.0\r\n\r\n", m);
        CPPUNIT_ASSERT(h.rfind("HTTP/1.1 200", 0) == 0 && h.size() >= 4 && h.substr(h.size() - 4) == "\r\n\r\n");
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(WorkerOpsTest, "worker_ops");

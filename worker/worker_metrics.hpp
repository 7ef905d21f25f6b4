// Prometheus metrics of webhook-worker: counters and gauges updated by
// the loop thread, rendered in the text exposition format (0.0.4) by a small loopback HTTP
// responder on its own thread (`metrics_listen`). The registry is mutex-protected; the
// responder never touches the database or the loop.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace wh::worker {

class WorkerMetrics {
public:
    // Attempt duration buckets (seconds), upper bounds; +Inf is implied.
    static const std::vector<double>& buckets();

    // One recorded attempt. final_failure: the notification is `failed` now; otherwise a
    // failure is a retry (or held, after 410). reason = the attempt's error class.
    void attempt(double seconds, bool success, bool final_failure, const std::string& reason);
    void endpoint_auto_disabled();
    void purged(uint64_t deliveries, uint64_t attempts, uint64_t events);
    void set_inflight(size_t n);
    // pending = every pending notification; oldest_due_age_s = how late the most overdue one
    // of an enabled endpoint is (0 when none is due).
    void set_backlog(uint64_t pending, double oldest_due_age_s);

    std::string render() const;

    // A label value as Prometheus takes it: [a-z0-9_-], at most 32 characters, "" -> "none".
    static std::string label(const std::string& s);

private:
    std::string reason_key(const std::string& reason);  // caps distinct reasons at 32

    mutable std::mutex mu_;
    uint64_t delivered_ = 0;
    std::map<std::string, uint64_t> failed_, retried_;
    std::vector<uint64_t> hist_ = std::vector<uint64_t>(buckets().size() + 1, 0);
    double hist_sum_ = 0;
    uint64_t hist_count_ = 0;
    uint64_t auto_disabled_ = 0;
    uint64_t purged_deliveries_ = 0, purged_attempts_ = 0, purged_events_ = 0;
    size_t inflight_ = 0;
    uint64_t backlog_ = 0;
    double oldest_due_ = 0;
    bool backlog_known_ = false;
};

// The loopback HTTP responder: GET /metrics (or /) -> 200 text/plain; anything else 404/405.
// One connection at a time, 2 s read/write timeouts, request head capped at 8 KiB.
class MetricsServer {
public:
    explicit MetricsServer(const WorkerMetrics& m) : metrics_(m) {}
    ~MetricsServer() { stop(); }
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    // Binds HOST:PORT (loopback, checked by parse_loopback_listen) and starts the thread. "" or why not.
    std::string start(const std::string& listen);
    void stop();
    bool running() const { return thread_.joinable(); }

    // The reply to one request head (pure; unit-tested).
    static std::string respond(const std::string& request_head, const WorkerMetrics& m);

private:
    void serve();
    const WorkerMetrics& metrics_;
    int fd_ = -1;
    int stop_pipe_[2] = {-1, -1};
    std::thread thread_;
};

}  // namespace wh::worker

// The module's metrics, httpd-free: one fixed block of 64-bit counters
// that the glue places in shared memory created in post_config (before the children fork),
// so every child process and thread adds to the same counters with atomic operations and
// the `webhook-metrics` handler reports the sum for the whole server.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace wh::api {

enum class MetricsHandler { api = 0, events = 1 };

struct MetricsBlock {
    static constexpr uint64_t kMagic = 0x776862686f6f6b32ULL;  // "whbhook2": the layout's version
    static constexpr size_t kHandlers = 2;
    static constexpr size_t kStatuses = 600;  // index = HTTP status (100-599)
    static constexpr size_t kBuckets = 13;    // + the +Inf slot
    uint64_t magic;
    uint64_t events_accepted;   // new events committed by webhook-events
    uint64_t events_duplicate;  // events answered with the first one's id (idempotency key)
    uint64_t responses[kHandlers][kStatuses];
    uint64_t latency_bucket[kHandlers][kBuckets + 1];  // per bucket, not cumulative
    uint64_t latency_sum_us[kHandlers];
    uint64_t latency_count[kHandlers];
    uint64_t db_conflict_retries;  // transactions run again after a conflict (wh::db_conflict_retries)
};

// Request latency buckets (seconds), upper bounds.
const double* metrics_buckets();

// Zeroes a fresh block (shared memory is not guaranteed to be).
void metrics_init(MetricsBlock& b);

// New and duplicate events in a 202 body of webhook-events: {"eventId":…[,"duplicate":true]}
// or an array of such results.
struct EventCounts {
    uint64_t accepted = 0, duplicate = 0;
};
EventCounts count_events(const std::string& body);

// Adds to the block what `total` (a running count of this process, such as
// wh::db_conflict_retries()) gained since `published` (this process's share already in the
// block, advanced here). Any thread; a smaller or equal total adds nothing.
void metrics_publish_count(uint64_t& block_counter, std::atomic<uint64_t>& published, uint64_t total);

// One answered request (any thread, any process: atomic adds); publishes this process's
// conflict retries too.
void metrics_observe(MetricsBlock& b, MetricsHandler h, int status, long long micros, const std::string& body);

// Prometheus text exposition (0.0.4) of the block (atomic loads).
std::string metrics_render(const MetricsBlock& b);

}  // namespace wh::api

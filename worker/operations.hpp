// The operations side of the delivery loop: retention passes,
// automatic disable after sustained failure, the system event on a disable, and the worker's
// Prometheus metrics (worker_metrics.hpp). The loop calls on_recorded() after each recorded attempt
// and tick() once per database cycle; everything here is short, bounded DB work.
#pragma once

#include <chrono>
#include <cstdint>
#include <set>

#include "db.hpp"
#include "judge.hpp"
#include "lifecycle.hpp"
#include "worker_metrics.hpp"
#include "options.hpp"
#include "retention.hpp"
#include "store.hpp"

namespace wh::worker {

class Operations {
public:
    using Clock = std::chrono::steady_clock;
    // Starts the metrics listener when metrics_listen is set (a failure is logged, WH00182).
    explicit Operations(const OpsOptions& opt, Clock::time_point now = Clock::now());

    // After an attempt was recorded: counts it; a failure queues an auto-disable check
    // (throttled per endpoint); a 410 disable queues the system event.
    void on_recorded(const Outcome& o, const Plan& plan, Clock::time_point now);

    // Runs the queued checks, a retention pass when due, and refreshes the backlog gauges
    // (at most every 5 s, only with metrics on). Throws DbError (the loop's db_step reports
    // it; a check that failed is retried at the next failure).
    void tick(Db& db, Clock::time_point now, size_t inflight);

    const WorkerMetrics& metrics() const { return metrics_; }

private:
    const OpsOptions& opt_;
    RetentionClock retention_;
    CheckThrottle throttle_;
    std::set<uint64_t> to_check_;
    WorkerMetrics metrics_;
    MetricsServer server_{metrics_};
    Clock::time_point next_backlog_{};
};

}  // namespace wh::worker

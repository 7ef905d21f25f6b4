#include "operations.hpp"

#include "worker_log.hpp"

namespace wh::worker {

Operations::Operations(const OpsOptions& opt, Clock::time_point now)
    : opt_(opt),
      // the first pass runs a few seconds after start, then every maintenance_interval
      retention_(opt.retention_days, std::chrono::milliseconds(opt.maintenance_interval_ms),
                 now + std::chrono::seconds(2)),
      throttle_(opt.auto_disable_after_ms) {
    if (!opt.metrics_listen.empty()) {
        if (std::string e = server_.start(opt.metrics_listen); !e.empty())
            log_warn("WH00182: metrics_listen " + opt.metrics_listen + ": " + e +
                         "; running without the metrics listener. Free the port or change "
                         "metrics_listen (and the Prometheus scrape target)");
        else
            log_info("metrics on http://" + opt.metrics_listen + "/metrics");
    }
}

void Operations::on_recorded(const Outcome& o, const Plan& plan, Clock::time_point now) {
    metrics_.attempt(double(o.duration_ms) / 1000.0, o.success, !o.success && plan.status == Plan::failed,
                     o.error_class);
    // A test's failure is no sign of sustained failure (and the check leaves tests out).
    if (!plan.disable_endpoint && !o.success && !o.test && opt_.auto_disable_after_ms > 0 && to_check_.size() < 10000 &&
             throttle_.allow(o.endpoint_id, now))
        to_check_.insert(o.endpoint_id);
}

void Operations::tick(Db& db, Clock::time_point now, size_t inflight) {
    metrics_.set_inflight(inflight);
    // A bounded number per cycle (the loop is single-threaded); an id is dropped before its
    // check runs, so a check that throws is not retried in a loop (the next failure queues it).
    for (int n = 0; n < 20 && !to_check_.empty(); ++n) {
        uint64_t id = *to_check_.begin();
        to_check_.erase(to_check_.begin());
        DisableResult r = auto_disable_if_failing(db, id, opt_.auto_disable_after_ms);
        if (r.disabled) metrics_.endpoint_auto_disabled();
        if (r.disabled)
            log_warn("WH00180: endpoint " + r.endpoint_public_id + " was disabled: " + r.reason +
                         " (auto_disable_after). Its deliveries are held; " +
                         std::to_string(r.notified) + " other endpoint(s) of its scope got " +
                         kEndpointDisabledCode + ". Fix the receiver, then PATCH enabled=true");
    }
    if (retention_.due(now)) {
        retention_.ran(now);
        RetentionResult r = run_retention_pass(db, opt_.retention_days);
        metrics_.purged(r.deliveries, r.attempts, r.events);
        if (r.deliveries || r.events)
            log_info("retention (" + std::to_string(opt_.retention_days) + " days): purged " +
                         std::to_string(r.deliveries) + " notifications, " +
                         std::to_string(r.attempts) + " attempts, " + std::to_string(r.events) +
                         " events" + (r.finished ? "" : "; more next pass"));
    }
    if (server_.running() && now >= next_backlog_) {
        next_backlog_ = now + std::chrono::seconds(5);
        // COUNT over the (status, next_attempt_at) index; the oldest due one of an enabled
        // endpoint walks that index in order (held rows of disabled endpoints are skipped).
        Rows r = db.query(
            "SELECT (SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending') AS pending, "
            "COALESCE((SELECT TIMESTAMPDIFF(MICROSECOND, d.next_attempt_at, NOW(3)) FROM webhook_deliveries d "
            " WHERE d.status = 'pending' AND d.next_attempt_at <= NOW(3) AND (SELECT ep.enabled FROM "
            " webhook_endpoints ep WHERE ep.id = d.endpoint_id AND ep.deleted_at IS NULL) = 1 "
            " ORDER BY d.next_attempt_at LIMIT 1), 0) AS oldest_due_us");
        if (!r.empty())
            metrics_.set_backlog(std::stoull(r[0][r.col("pending")].value_or("0")),
                                 std::stod(r[0][r.col("oldest_due_us")].value_or("0")) / 1e6);
    }
}

}  // namespace wh::worker

#include "store.hpp"

#include <algorithm>

namespace wh::worker {

namespace {

uint64_t to_u64(const std::optional<std::string>& s) {
    return s ? std::stoull(*s) : 0;
}

}  // namespace

std::string id_list(const std::vector<uint64_t>& ids) {
    std::string out;
    for (auto id : ids) {
        if (!out.empty()) out += ',';
        out += std::to_string(id);
    }
    return out;
}

size_t fan_out(Db& db, unsigned limit) {
    return with_transaction(db, [&](Db& d) -> size_t {
        Rows r = d.query(
            "SELECT id FROM webhook_events WHERE fanned_out_at IS NULL "
            "ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED",
            {limit});
        if (r.empty()) return 0;
        std::vector<uint64_t> ids;
        for (const auto& row : r.rows) ids.push_back(to_u64(row[0]));
        std::string in = id_list(ids);
        d.exec(
            "INSERT IGNORE INTO webhook_deliveries (event_id, endpoint_id) "
            "SELECT e.id, ep.id FROM webhook_events e "
            "JOIN webhook_endpoint_subscriptions s ON s.event_code = e.event_code "
            "JOIN webhook_endpoints ep ON ep.id = s.endpoint_id AND ep.deleted_at IS NULL "
            " AND ((ep.scope_kind = 'reseller' AND ep.scope_id = e.reseller_id) "
            "   OR (ep.scope_kind = 'portfolio' AND ep.scope_id = e.portfolio_id)) "
            "WHERE e.id IN (" + in + ") ORDER BY e.id, ep.id");
        d.exec("UPDATE webhook_events SET fanned_out_at = NOW(3) WHERE id IN (" + in + ")");
        return ids.size();
    });
}

uint64_t reap_expired_leases(Db& db, unsigned limit) {
    return db.exec(
        "UPDATE webhook_deliveries SET status = 'pending', lease_owner = NULL, "
        "lease_expires_at = NULL, attempts = IF(attempts > 0, attempts - 1, 0) "
        "WHERE status = 'inflight' AND lease_expires_at < NOW(3) LIMIT ?",
        {limit});
}

ClaimResult claim(Db& db, const std::string& owner, unsigned n, unsigned lease_seconds,
                  const std::map<uint64_t, unsigned>& inflight_per_endpoint, unsigned per_endpoint_cap) {
    ClaimResult result;
    if (n == 0) return result;
    // Endpoints this worker already has at the cap are left for later (or other workers).
    std::vector<uint64_t> capped;
    for (const auto& kv : inflight_per_endpoint)
        if (kv.second >= per_endpoint_cap) capped.push_back(kv.first);
    std::string not_capped = capped.empty() ? "" : " AND d.endpoint_id NOT IN (" + id_list(capped) + ")";

    std::vector<uint64_t> ids = with_transaction(db, [&](Db& d) {
        // The endpoint filter is a scalar (dependent) subquery, a non-locking read: joining
        // webhook_endpoints in the locking SELECT would lock endpoint rows and make workers skip
        // each other's endpoints. An IN/EXISTS form may be flattened into a join, and on small
        // tables MariaDB then sorts the joined rows in a temporary table, which locks every due
        // row instead of the first n (checked on 10.11); the scalar form always walks the
        // (status, next_attempt_at) index in order and stops after n.
        Rows r = d.query(
            "SELECT d.id, d.endpoint_id FROM webhook_deliveries d "
            "WHERE d.status = 'pending' AND d.next_attempt_at <= NOW(3)" + not_capped +
            " AND (SELECT ep.enabled FROM webhook_endpoints ep "
            "      WHERE ep.id = d.endpoint_id AND ep.deleted_at IS NULL) = 1 "
            "ORDER BY d.next_attempt_at, d.id LIMIT ? FOR UPDATE SKIP LOCKED",
            {n});
        result.full = r.size() >= n;
        std::map<uint64_t, unsigned> taken = inflight_per_endpoint;
        std::vector<uint64_t> mine;
        for (const auto& row : r.rows) {
            uint64_t ep = to_u64(row[1]);
            unsigned& c = taken[ep];
            if (c >= per_endpoint_cap) continue;  // stays pending (unlocked at COMMIT)
            ++c;
            mine.push_back(to_u64(row[0]));
        }
        if (!mine.empty())
            d.exec(
                "UPDATE webhook_deliveries SET status = 'inflight', lease_owner = ?, "
                "lease_expires_at = NOW(3) + INTERVAL ? SECOND, attempts = attempts + 1 "
                "WHERE id IN (" + id_list(mine) + ")",
                {owner, lease_seconds});
        return mine;
    });
    if (ids.empty()) return result;

    Rows r = db.query(
        "SELECT d.id, d.notification_id, d.attempts, d.endpoint_id, ep.public_id, ep.url, "
        " ep.username, ep.password_enc, ep.secret_enc, "
        " IF(ep.prev_secret_expires_at > NOW(3), ep.prev_secret_enc, NULL) AS prev_secret_enc, "
        " ep.ack_mode, e.event_code, e.event_date, t.data_type, e.reseller_id, e.portfolio_id, "
        " e.merchant_id, e.data "
        "FROM webhook_deliveries d "
        "JOIN webhook_events e ON e.id = d.event_id "
        "JOIN webhook_event_types t ON t.code = e.event_code "
        "JOIN webhook_endpoints ep ON ep.id = d.endpoint_id "
        "WHERE d.id IN (" + id_list(ids) + ") AND d.status = 'inflight' AND d.lease_owner = ? "
        "ORDER BY d.next_attempt_at, d.id",
        {owner});
    std::set<uint64_t> loaded;
    for (const auto& row : r.rows) {
        Claimed c;
        c.id = to_u64(row[0]);
        c.event.notification_id = row[1].value_or("");
        c.attempt_no = unsigned(to_u64(row[2]));
        c.endpoint_id = to_u64(row[3]);
        c.endpoint_public_id = row[4].value_or("");
        c.url = row[5].value_or("");
        c.username = row[6];
        c.password_enc = row[7];
        c.secret_enc = row[8].value_or("");
        c.prev_secret_enc = row[9];
        c.ack_mode = row[10].value_or("notification-id");
        c.event.event_code = row[11].value_or("");
        c.event.event_date = row[12].value_or("");
        c.event.data_type = row[13].value_or("");
        c.event.reseller_id = row[14].value_or("");
        c.event.portfolio_id = row[15].value_or("");
        c.event.merchant_id = row[16];
        c.event.data = row[17].value_or("");
        loaded.insert(c.id);
        result.claimed.push_back(std::move(c));
    }
    for (auto id : ids)
        if (!loaded.count(id)) result.lost.push_back(id);
    return result;
}

CompleteResult complete(Db& db, const std::string& owner, const Outcome& o, const Plan& plan) {
    std::optional<long> http;
    if (o.http_status > 0) http = o.http_status;
    std::optional<std::string> cls, msg, excerpt;
    if (!o.error_class.empty()) cls = sanitize_text(o.error_class, 32);
    if (!o.error_message.empty()) msg = sanitize_text(o.error_message, 512);
    if (!o.excerpt.empty()) excerpt = o.excerpt.substr(0, 4096);
    long long duration = std::max(0LL, std::min(o.duration_ms, 4000000000LL));

    for (int attempt = 1;; ++attempt) {
        try {
            Transaction tx(db);
            db.exec(
                "INSERT INTO webhook_attempts (delivery_id, attempt_no, started_at, duration_ms, "
                "outcome, http_status, error_class, error_message, response_excerpt, worker_id) "
                "VALUES (?, ?, NOW(3) - INTERVAL ? MICROSECOND, ?, ?, ?, ?, ?, " +
                    std::string(excerpt ? "_binary ?" : "?") + ", ?)",
                {o.delivery_id, o.attempt_no, duration * 1000, duration,
                 o.success ? "success" : "failure", http, cls, msg, excerpt, owner});
            uint64_t n;
            if (plan.status == Plan::delivered) {
                n = db.exec(
                    "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = NOW(3), "
                    "last_attempt_at = NOW(3), last_http_status = ?, last_error = NULL, "
                    "lease_owner = NULL, lease_expires_at = NULL "
                    "WHERE id = ? AND lease_owner = ? AND status = 'inflight'",
                    {http, o.delivery_id, owner});
            } else {
                std::string last_error = sanitize_text(o.error_class + ": " + o.error_message, 512);
                n = db.exec(
                    "UPDATE webhook_deliveries SET status = ?, "
                    "next_attempt_at = IF(? = 'pending', NOW(3) + INTERVAL ? MICROSECOND, next_attempt_at), "
                    "last_attempt_at = NOW(3), last_http_status = ?, last_error = ?, "
                    "lease_owner = NULL, lease_expires_at = NULL "
                    "WHERE id = ? AND lease_owner = ? AND status = 'inflight'",
                    {plan.status == Plan::failed ? "failed" : "pending",
                     plan.status == Plan::failed ? "failed" : "pending", plan.delay_ms * 1000, http,
                     last_error, o.delivery_id, owner});
            }
            if (n == 0) return CompleteResult::lease_lost;  // tx rolls the attempt row back
            if (plan.disable_endpoint)
                db.exec(
                    "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = '410 Gone from receiver' "
                    "WHERE id = ? AND enabled = 1",
                    {o.endpoint_id});
            tx.commit();
            return CompleteResult::recorded;
        } catch (const DbError& e) {
            if (!e.retryable() || attempt >= 3) throw;
        }
    }
}

uint64_t release(Db& db, const std::string& owner, const std::vector<uint64_t>& ids) {
    if (ids.empty()) return 0;
    return db.exec(
        "UPDATE webhook_deliveries SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, "
        "attempts = IF(attempts > 0, attempts - 1, 0) "
        "WHERE id IN (" + id_list(ids) + ") AND lease_owner = ? AND status = 'inflight'",
        {owner});
}

}  // namespace wh::worker

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
                  unsigned per_endpoint_cap) {
    ClaimResult result;
    if (n == 0) return result;

    std::vector<uint64_t> ids = with_transaction(db, [&](Db& d) {
        result = ClaimResult();  // a retried transaction starts afresh
        // 1. Heads: each enabled endpoint's oldest pending delivery and how many of its
        //    deliveries are in flight (all workers), as two dependent subqueries that are one
        //    index dive each on k_delivery_claim (status, endpoint_id, next_attempt_at) however
        //    long the endpoint's backlog is. Non-locking read. Oldest head first, so every
        //    endpoint with due work gets its turn; endpoints at the cap are passed over.
        //    (A GROUP BY over webhook_deliveries would be cheaper with many idle endpoints, but
        //    MariaDB 10.11 only uses the loose index scan for it with fresh statistics and
        //    otherwise walks every pending row: measured, 40-90 ms per claim at 100,000.)
        Rows heads = d.query(
            "SELECT ep.id, "
            " (SELECT p.next_attempt_at FROM webhook_deliveries p WHERE p.status = 'pending' "
            "   AND p.endpoint_id = ep.id ORDER BY p.next_attempt_at LIMIT 1) AS head, "
            " (SELECT COUNT(*) FROM webhook_deliveries f WHERE f.status = 'inflight' "
            "   AND f.endpoint_id = ep.id) AS inflight "
            "FROM webhook_endpoints ep WHERE ep.enabled = 1 AND ep.deleted_at IS NULL "
            "HAVING head <= NOW(3) ORDER BY head, ep.id");
        std::vector<uint64_t> open;
        for (const auto& row : heads.rows) {
            uint64_t ep = to_u64(row[0]);
            if (to_u64(row[2]) >= per_endpoint_cap) {
                result.waiting.insert(ep);  // due work, but at the cap (here or elsewhere)
            } else if (open.size() >= n) {
                result.full = true;  // more endpoints with due work than free slots
            } else {
                open.push_back(ep);
            }
        }
        if (open.empty()) return std::vector<uint64_t>();
        auto inflight_of = [&](const std::vector<uint64_t>& eps) {
            std::map<uint64_t, unsigned> m;
            Rows r = d.query(
                "SELECT endpoint_id, COUNT(*) FROM webhook_deliveries "
                "WHERE status = 'inflight' AND endpoint_id IN (" + id_list(eps) + ") GROUP BY endpoint_id");
            for (const auto& row : r.rows) m[to_u64(row[0])] = unsigned(to_u64(row[1]));
            return m;
        };

        // 2. Lock the endpoints we take work from (enabled, not deleted), skipping those
        //    another worker is claiming for right now: only the lock holder may add to an
        //    endpoint's in-flight count, so the count below is exact and the cap holds across
        //    workers. Primary-key lookups; READ COMMITTED unlocks the rows that do not match.
        Rows locked = d.query(
            "SELECT id FROM webhook_endpoints WHERE id IN (" + id_list(open) + ") "
            "AND enabled = 1 AND deleted_at IS NULL FOR UPDATE SKIP LOCKED");
        std::set<uint64_t> mine_eps;
        for (const auto& row : locked.rows) mine_eps.insert(to_u64(row[0]));
        if (mine_eps.empty()) return std::vector<uint64_t>();
        std::map<uint64_t, unsigned> inflight =
            inflight_of(std::vector<uint64_t>(mine_eps.begin(), mine_eps.end()));

        // 3. Each endpoint's head, oldest first, up to its cap's remainder: a range on
        //    k_delivery_claim, SKIP LOCKED against a concurrent claim of the same rows.
        std::vector<uint64_t> mine;
        for (auto ep : open) {
            if (!mine_eps.count(ep) || mine.size() >= n) continue;
            unsigned have = inflight[ep];
            if (have >= per_endpoint_cap) continue;
            unsigned k = std::min<unsigned>(per_endpoint_cap - have, unsigned(n - mine.size()));
            Rows r = d.query(
                "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND endpoint_id = ? "
                "AND next_attempt_at <= NOW(3) ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED",
                {ep, k});
            for (const auto& row : r.rows) mine.push_back(to_u64(row[0]));
            // More of this endpoint may be due: claim again as soon as one of its slots frees.
            if (r.size() >= k) {
                if (have + k >= per_endpoint_cap) result.waiting.insert(ep);
                else result.full = true;
            }
        }
        if (mine.size() >= n) result.full = true;
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
    // started_at from the database clock: now minus the time since the attempt started (not
    // just its duration: a result kept in memory through a MariaDB outage is recorded late).
    long long ago_ms = duration;
    if (o.started != std::chrono::steady_clock::time_point{})
        ago_ms = std::max(0LL, (long long)std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - o.started).count());

    return with_transaction(db, [&](Db& d) {
        // The fenced update first: a lost lease writes nothing at all (no attempt row).
        uint64_t n;
        if (plan.status == Plan::delivered) {
            n = d.exec(
                "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = NOW(3), "
                "last_attempt_at = NOW(3), last_http_status = ?, last_error = NULL, "
                "lease_owner = NULL, lease_expires_at = NULL "
                "WHERE id = ? AND lease_owner = ? AND status = 'inflight'",
                {http, o.delivery_id, owner});
        } else {
            std::string last_error = sanitize_text(o.error_class + ": " + o.error_message, 512);
            n = d.exec(
                "UPDATE webhook_deliveries SET status = ?, "
                "next_attempt_at = IF(? = 'pending', NOW(3) + INTERVAL ? MICROSECOND, next_attempt_at), "
                "last_attempt_at = NOW(3), last_http_status = ?, last_error = ?, "
                "lease_owner = NULL, lease_expires_at = NULL "
                "WHERE id = ? AND lease_owner = ? AND status = 'inflight'",
                {plan.status == Plan::failed ? "failed" : "pending",
                 plan.status == Plan::failed ? "failed" : "pending", plan.delay_ms * 1000, http,
                 last_error, o.delivery_id, owner});
        }
        if (n == 0) return CompleteResult::lease_lost;
        d.exec(
            "INSERT INTO webhook_attempts (delivery_id, attempt_no, started_at, duration_ms, "
            "outcome, http_status, error_class, error_message, response_excerpt, worker_id) "
            "VALUES (?, ?, NOW(3) - INTERVAL ? MICROSECOND, ?, ?, ?, ?, ?, " +
                std::string(excerpt ? "_binary ?" : "?") + ", ?)",
            {o.delivery_id, o.attempt_no, ago_ms * 1000, duration, o.success ? "success" : "failure",
             http, cls, msg, excerpt, owner});
        if (plan.disable_endpoint)
            d.exec(
                "UPDATE webhook_endpoints SET enabled = 0, "
                "disabled_reason = CONCAT('410 Gone from the receiver at ', "
                "DATE_FORMAT(NOW(), '%Y-%m-%dT%H:%i:%sZ'), '; PATCH enabled=true to resume') "
                "WHERE id = ? AND enabled = 1",
                {o.endpoint_id});
        return CompleteResult::recorded;
    });
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

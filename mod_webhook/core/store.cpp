#include "store.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "log.hpp"

namespace wh::api {

namespace {

const char* kEndpointCols =
    "e.id, e.public_id, e.url, e.scope_kind, e.scope_id, e.username, "
    "(e.password_enc IS NOT NULL) AS has_password, e.ack_mode, e.enabled, e.disabled_reason, "
    "e.description, e.created_at, e.updated_at";

// One row's cells by column name (the name or alias in the SELECT list).
class Cells {
public:
    Cells(const Rows& rows, const Rows::Row& row) : rows_(rows), row_(row) {}
    Cells(const Rows& rows, size_t i) : Cells(rows, rows[i]) {}
    const std::optional<std::string>& opt(const char* name) const { return row_[rows_.col(name)]; }
    std::string text(const char* name) const {
        const auto& c = opt(name);
        return c ? *c : std::string();
    }
    unsigned long long number(const char* name) const { return std::stoull(text(name)); }

private:
    const Rows& rows_;
    const Rows::Row& row_;
};

EndpointRow row_to_endpoint(const Rows& rows, size_t i) {
    Cells c(rows, i);
    EndpointRow e;
    e.id = c.number("id");
    e.public_id = c.text("public_id");
    e.url = c.text("url");
    e.scope_kind = c.text("scope_kind");
    e.scope_id = c.text("scope_id");
    e.username = c.opt("username");
    e.has_password = c.text("has_password") == "1";
    e.ack_mode = c.text("ack_mode");
    e.enabled = c.text("enabled") == "1";
    e.disabled_reason = c.opt("disabled_reason");
    e.description = c.opt("description");
    e.created_at = c.text("created_at");
    e.updated_at = c.text("updated_at");
    return e;
}

void load_subscriptions(wh::Db& db, std::vector<EndpointRow>& eps) {
    if (eps.empty()) return;
    std::string sql =
        "SELECT endpoint_id, event_code FROM webhook_endpoint_subscriptions WHERE endpoint_id IN (";
    Params params;
    std::map<uint64_t, size_t> index;
    for (size_t i = 0; i < eps.size(); ++i) {
        sql += i ? ",?" : "?";
        params.emplace_back(static_cast<unsigned long long>(eps[i].id));
        index[eps[i].id] = i;
    }
    sql += ") ORDER BY endpoint_id, event_code";
    Rows rows = db.query(sql, params);
    for (const auto& r : rows.rows) {
        Cells c(rows, r);
        auto it = index.find(c.number("endpoint_id"));
        if (it != index.end()) eps[it->second].event_types.push_back(c.text("event_code"));
    }
}

std::optional<EndpointRow> find_by(wh::Db& db, const std::string& where, const Params& params,
                                   bool for_update) {
    Rows rows = db.query(std::string("SELECT ") + kEndpointCols + " FROM webhook_endpoints e WHERE " +
                             where + (for_update ? " FOR UPDATE" : ""),
                         params);
    if (rows.empty()) return std::nullopt;
    std::vector<EndpointRow> v{row_to_endpoint(rows, 0)};
    load_subscriptions(db, v);
    return v[0];
}

void insert_subscriptions(wh::Db& db, uint64_t id, const std::vector<std::string>& codes) {
    if (codes.empty()) return;
    std::string sql = "INSERT INTO webhook_endpoint_subscriptions (endpoint_id, event_code) VALUES ";
    Params params;
    for (size_t i = 0; i < codes.size(); ++i) {
        sql += i ? ",(?,?)" : "(?,?)";
        params.emplace_back(static_cast<unsigned long long>(id));
        params.emplace_back(codes[i]);
    }
    db.exec(sql, params);
}

// Locks a visible endpoint inside the current transaction.
std::optional<EndpointRow> lock_visible(wh::Db& db, const Principal& who, const std::string& public_id) {
    auto ep = find_by(db, "e.public_id = ? AND e.deleted_at IS NULL", {public_id}, true);
    if (!ep || !who.may_manage(ep->scope_kind, ep->scope_id)) return std::nullopt;
    return ep;
}

}  // namespace

std::vector<EventTypeRow> load_event_types(wh::Db& db) {
    Rows rows = db.query(
        "SELECT code, module, data_type, description, example FROM webhook_event_types ORDER BY module, code");
    std::vector<EventTypeRow> out;
    for (const auto& r : rows.rows) {
        Cells c(rows, r);
        out.push_back({c.text("code"), c.text("module"), c.text("data_type"), c.text("description"),
                       c.text("example")});
    }
    return out;
}

Catalogue load_catalogue(wh::Db& db) {
    Catalogue c;
    Rows rows = db.query("SELECT code FROM webhook_event_types");
    for (const auto& r : rows.rows) c.insert(Cells(rows, r).text("code"));
    return c;
}

Principal load_principal(wh::Db& db, const std::string& username) {
    Rows rows = db.query("SELECT kind, scope_id FROM webhook_principals WHERE username = ?", {username});
    std::vector<std::pair<std::string, std::string>> v;
    for (const auto& r : rows.rows) {
        Cells c(rows, r);
        v.emplace_back(c.text("kind"), c.text("scope_id"));
    }
    return principal_from_rows(v);
}

std::optional<EndpointRow> find_endpoint(wh::Db& db, const std::string& public_id, bool for_update) {
    return find_by(db, "e.public_id = ? AND e.deleted_at IS NULL", {public_id}, for_update);
}

std::optional<EndpointRow> create_endpoint(wh::Db& db, const EndpointInput& in, const wh::SecretBox& box,
                                           const std::string& secret, const std::string& created_by,
                                           unsigned max_per_scope) {
    return wh::with_transaction(db, [&](wh::Db& db) -> std::optional<EndpointRow> {
        // Locks the scope's row (created on first use; the update of an existing one takes the
        // same exclusive lock in one statement, where INSERT IGNORE + FOR UPDATE could deadlock
        // two registrations on their shared locks). It writes the row, not a no-op: Galera
        // certifies written rows only, so two registrations on two nodes conflict here and
        // the limit holds across nodes (sql/015).
        db.exec("INSERT INTO webhook_scopes (scope_kind, scope_id) VALUES (?, ?) "
                "ON DUPLICATE KEY UPDATE write_seq = write_seq + 1",
                {in.scope_kind, in.scope_id});
        Rows count = db.query("SELECT COUNT(*) AS live FROM webhook_endpoints "
                              "WHERE scope_kind = ? AND scope_id = ? AND deleted_at IS NULL",
                              {in.scope_kind, in.scope_id});
        if (!count.empty() && Cells(count, 0).number("live") >= max_per_scope) return std::nullopt;
        // The credentials are sealed for the row's id, known once inserted: the row carries
        // none until the UPDATE below, and nobody sees it before the COMMIT.
        Rows ins = db.query(
            "INSERT INTO webhook_endpoints (url, scope_kind, scope_id, username, password_enc, "
            "secret_enc, ack_mode, enabled, description, created_by) "
            "VALUES (?,?,?,?,NULL,'',?,?,?,?) RETURNING id",
            {in.url, in.scope_kind, in.scope_id, in.username, in.ack_mode, in.enabled,
             in.description, created_by.empty() ? Param() : Param(created_by)});
        if (ins.empty()) throw std::runtime_error("INSERT ... RETURNING gave no row");
        uint64_t id = Cells(ins, 0).number("id");
        db.exec("UPDATE webhook_endpoints SET secret_enc = ?, password_enc = ? WHERE id = ?",
                {box.seal(secret, wh::credential_aad("secret_enc", id)),
                 in.password ? Param(box.seal(*in.password, wh::credential_aad("password_enc", id))) : Param(),
                 static_cast<unsigned long long>(id)});
        insert_subscriptions(db, id, in.event_types);
        auto row = find_by(db, "e.id = ?", {static_cast<unsigned long long>(id)}, false);
        if (!row) throw std::runtime_error("the new endpoint vanished");
        return *row;
    });
}

std::optional<ListResult> list_endpoints(wh::Db& db, const Principal& who, const ListQuery& q) {
    std::string where = "e.deleted_at IS NULL";
    Params params;
    if (!who.admin) {
        std::string vis;
        auto add_scope = [&](const char* kind, const std::set<std::string>& ids) {
            if (ids.empty()) return;
            if (!vis.empty()) vis += " OR ";
            vis += std::string("(e.scope_kind = '") + kind + "' AND e.scope_id IN (";
            bool first = true;
            for (const auto& id : ids) {
                vis += first ? "?" : ",?";
                first = false;
                params.emplace_back(id);
            }
            vis += "))";
        };
        add_scope("reseller", who.resellers);
        add_scope("portfolio", who.portfolios);
        if (vis.empty()) vis = "0";
        where += " AND (" + vis + ")";
    }
    if (q.reseller_id) {
        where += " AND e.scope_kind = 'reseller' AND e.scope_id = ?";
        params.emplace_back(*q.reseller_id);
    }
    if (q.portfolio_id) {
        where += " AND e.scope_kind = 'portfolio' AND e.scope_id = ?";
        params.emplace_back(*q.portfolio_id);
    }
    if (q.after) {
        // The cursor may name an endpoint deleted since; it must be the caller's, though.
        Rows c = db.query("SELECT id, scope_kind, scope_id FROM webhook_endpoints WHERE public_id = ?",
                          {*q.after});
        if (c.empty() || !who.may_manage(Cells(c, 0).text("scope_kind"), Cells(c, 0).text("scope_id")))
            return std::nullopt;
        where += " AND e.id > ?";
        params.emplace_back(Cells(c, 0).number("id"));
    }
    params.emplace_back(q.limit + 1);
    Rows rows = db.query(std::string("SELECT ") + kEndpointCols + " FROM webhook_endpoints e WHERE " +
                             where + " ORDER BY e.id LIMIT ?",
                         params);
    ListResult out;
    for (size_t i = 0; i < rows.size() && i < q.limit; ++i) out.rows.push_back(row_to_endpoint(rows, i));
    if (rows.size() > q.limit && !out.rows.empty()) out.next = out.rows.back().public_id;
    load_subscriptions(db, out.rows);
    return out;
}

std::optional<EndpointRow> patch_endpoint(wh::Db& db, const Principal& who,
                                          const std::string& public_id, const EndpointPatch& p,
                                          const wh::SecretBox* box) {
    return wh::with_transaction(db, [&](wh::Db& db) -> std::optional<EndpointRow> {
        auto ep = lock_visible(db, who, public_id);
        if (!ep) return std::nullopt;
        std::string set = "updated_at = NOW(3)";
        Params params;
        if (p.url) {
            set += ", url = ?";
            params.emplace_back(*p.url);
        }
        if (p.set_credentials) {
            set += ", username = ?, password_enc = ?";
            params.emplace_back(p.username);
            params.emplace_back(p.username && p.password && box
                                    ? Param(box->seal(*p.password, wh::credential_aad("password_enc", ep->id)))
                                    : Param());
        }
        if (p.set_description) {
            set += ", description = ?";
            params.emplace_back(p.description);
        }
        if (p.ack_mode) {
            set += ", ack_mode = ?";
            params.emplace_back(*p.ack_mode);
        }
        if (p.enabled) {
            set += ", enabled = ?";
            params.emplace_back(*p.enabled);
            // Re-enabling clears why it was disabled (e.g. a 410 from the receiver).
            if (*p.enabled) set += ", disabled_reason = NULL";
        }
        params.emplace_back(static_cast<unsigned long long>(ep->id));
        db.exec("UPDATE webhook_endpoints SET " + set + " WHERE id = ?", params);
        if (p.event_types) {
            db.exec("DELETE FROM webhook_endpoint_subscriptions WHERE endpoint_id = ?",
                    {static_cast<unsigned long long>(ep->id)});
            insert_subscriptions(db, ep->id, *p.event_types);
        }
        return find_by(db, "e.id = ?", {static_cast<unsigned long long>(ep->id)}, false);
    });
}

bool delete_endpoint(wh::Db& db, const Principal& who, const std::string& public_id) {
    return wh::with_transaction(db, [&](wh::Db& db) {
        auto ep = lock_visible(db, who, public_id);
        if (!ep) return false;
        unsigned long long id = ep->id;
        db.exec("UPDATE webhook_endpoints SET deleted_at = NOW(3), updated_at = NOW(3) WHERE id = ?", {id});
        db.exec("UPDATE webhook_deliveries SET status = 'cancelled' WHERE endpoint_id = ? AND status = 'pending'",
                {id});
        return true;
    });
}

std::optional<EndpointRow> rotate_secret(wh::Db& db, const Principal& who,
                                         const std::string& public_id, const wh::SecretBox& box,
                                         const std::string& secret) {
    return wh::with_transaction(db, [&](wh::Db& db) -> std::optional<EndpointRow> {
        auto ep = lock_visible(db, who, public_id);
        if (!ep) return std::nullopt;
        unsigned long long id = ep->id;
        db.exec("UPDATE webhook_endpoints SET prev_secret_enc = secret_enc, "
                "prev_secret_expires_at = NOW(3) + INTERVAL 24 HOUR, secret_enc = ?, "
                "updated_at = NOW(3) WHERE id = ?",
                {box.seal(secret, wh::credential_aad("secret_enc", id)), id});
        return find_by(db, "e.id = ?", {id}, false);
    });
}

namespace {

const char* kDeliveryCols =
    "SELECT d.id, d.notification_id, ep.public_id AS endpoint_public_id, ep.scope_kind, ep.scope_id, "
    "ev.public_id AS event_public_id, "
    "ev.event_code, d.status, d.attempts, d.next_attempt_at, d.last_attempt_at, d.last_http_status, "
    "d.last_error, d.delivered_at, d.created_at, d.updated_at, (ev.test_endpoint_id IS NOT NULL) AS test "
    "FROM webhook_deliveries d JOIN webhook_endpoints ep ON ep.id = d.endpoint_id "
    "JOIN webhook_events ev ON ev.id = d.event_id WHERE ep.deleted_at IS NULL AND ";

DeliveryRow row_to_delivery(const Rows& rows, size_t i) {
    Cells c(rows, i);
    DeliveryRow d;
    d.id = c.number("id");
    d.notification_id = c.text("notification_id");
    d.endpoint_public_id = c.text("endpoint_public_id");
    d.scope_kind = c.text("scope_kind");
    d.scope_id = c.text("scope_id");
    d.event_public_id = c.text("event_public_id");
    d.event_code = c.text("event_code");
    d.status = c.text("status");
    d.attempts = unsigned(std::stoul(c.text("attempts")));
    d.next_attempt_at = c.opt("next_attempt_at");
    d.last_attempt_at = c.opt("last_attempt_at");
    d.last_http_status = c.opt("last_http_status");
    d.last_error = c.opt("last_error");
    d.delivered_at = c.opt("delivered_at");
    d.created_at = c.text("created_at");
    d.updated_at = c.text("updated_at");
    d.test = c.text("test") == "1";
    return d;
}

}  // namespace

std::optional<DeliveryRow> find_delivery(wh::Db& db, const std::string& notification_id) {
    Rows rows = db.query(std::string(kDeliveryCols) + "d.notification_id = ?", {notification_id});
    if (rows.empty()) return std::nullopt;
    return row_to_delivery(rows, 0);
}

std::optional<NotificationSource> load_notification(wh::Db& db, uint64_t delivery_id) {
    // The columns the worker's claim reads for the body (worker/store.cpp, load_claimed).
    Rows rows = db.query(
        "SELECT d.notification_id, e.event_code, e.event_date, t.data_type, e.reseller_id, e.portfolio_id, "
        "e.merchant_id, e.data, (ep.username IS NOT NULL AND ep.password_enc IS NOT NULL) AS basic_auth "
        "FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id "
        "JOIN webhook_event_types t ON t.code = e.event_code JOIN webhook_endpoints ep ON ep.id = d.endpoint_id "
        "WHERE d.id = ?",
        {static_cast<unsigned long long>(delivery_id)});
    if (rows.empty()) return std::nullopt;
    Cells c(rows, 0);
    NotificationSource n;
    n.fields.notification_id = c.text("notification_id");
    n.fields.event_code = c.text("event_code");
    n.fields.event_date = c.text("event_date");
    n.fields.data_type = c.text("data_type");
    n.fields.reseller_id = c.text("reseller_id");
    n.fields.portfolio_id = c.text("portfolio_id");
    n.fields.merchant_id = c.opt("merchant_id");
    n.fields.data = std::make_shared<const std::string>(c.text("data"));
    n.basic_auth = c.text("basic_auth") == "1";
    return n;
}

std::vector<AttemptRow> load_attempts(wh::Db& db, uint64_t delivery_id) {
    Rows rows = db.query(
        "SELECT attempt_no, started_at, duration_ms, outcome, http_status, error_class, error_message, "
        "response_excerpt FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt_no, id",
        {static_cast<unsigned long long>(delivery_id)});
    std::vector<AttemptRow> out;
    for (const auto& r : rows.rows) {
        Cells c(rows, r);
        AttemptRow a;
        a.attempt_no = unsigned(std::stoul(c.text("attempt_no")));
        a.started_at = c.text("started_at");
        a.duration_ms = std::stoll(c.text("duration_ms"));
        a.outcome = c.text("outcome");
        a.http_status = c.opt("http_status");
        a.error_class = c.opt("error_class");
        a.error_message = c.opt("error_message");
        a.response_excerpt = c.opt("response_excerpt");
        out.push_back(std::move(a));
    }
    return out;
}

std::optional<DeliveryPage> list_deliveries(wh::Db& db, uint64_t endpoint_id, const DeliveryListQuery& q) {
    std::string where = "d.endpoint_id = ?";
    Params params{static_cast<unsigned long long>(endpoint_id)};
    // Each filter has an index leading with endpoint_id (k_delivery_endpoint for status,
    // sql/011's k_delivery_endpoint_code and k_delivery_endpoint_created for the others).
    if (q.status) {
        where += " AND d.status = ?";
        params.emplace_back(*q.status);
    }
    if (q.event_code) {
        where += " AND d.event_code = ?";
        params.emplace_back(*q.event_code);
    }
    if (q.since) {
        where += " AND d.created_at >= ?";
        params.emplace_back(*q.since);
    }
    if (q.until) {
        where += " AND d.created_at <= ?";
        params.emplace_back(*q.until);
    }
    if (q.after) {
        Rows c = db.query("SELECT id FROM webhook_deliveries WHERE notification_id = ? AND endpoint_id = ?",
                          {*q.after, static_cast<unsigned long long>(endpoint_id)});
        if (c.empty()) return std::nullopt;
        where += " AND d.id < ?";
        params.emplace_back(Cells(c, 0).number("id"));
    }
    params.emplace_back(q.limit + 1);
    Rows rows = db.query(std::string(kDeliveryCols) + where + " ORDER BY d.id DESC LIMIT ?", params);
    DeliveryPage page;
    for (size_t i = 0; i < rows.size() && i < q.limit; ++i) page.rows.push_back(row_to_delivery(rows, i));
    if (rows.size() > q.limit && !page.rows.empty()) page.next = page.rows.back().notification_id;
    return page;
}

EndpointStats load_endpoint_stats(wh::Db& db, uint64_t endpoint_id) {
    const Params ep{static_cast<unsigned long long>(endpoint_id)};
    EndpointStats s;
    // outcome IN (both values) lets the range go on to started_at: two ranges of the index,
    // every column read from it. The window comes back as a histogram of durations (as
    // many rows as distinct milliseconds), not as every attempt: a busy endpoint has over
    // 100,000 a day (docs/benchmark.md, "Portal reads").
    Rows win = db.query(
        "SELECT duration_ms, COUNT(*) AS n, SUM(outcome = 'success') AS ok FROM webhook_attempts "
        "WHERE endpoint_id = ? AND outcome IN ('success', 'failure') AND started_at >= NOW(3) - INTERVAL 1 DAY "
        "GROUP BY duration_ms ORDER BY duration_ms", ep);
    std::vector<std::pair<long long, unsigned long long>> histogram;
    histogram.reserve(win.size());
    for (const auto& r : win.rows) {
        Cells c(win, r);
        histogram.emplace_back(std::stoll(c.text("duration_ms")), c.number("n"));
        s.attempts += c.number("n");
        s.succeeded += c.number("ok");
    }
    s.failed = s.attempts - s.succeeded;
    if (s.attempts) {
        s.p50 = nearest_rank(histogram, 50);
        s.p95 = nearest_rank(histogram, 95);
        s.p99 = nearest_rank(histogram, 99);
    }
    // The oldest by id is the first created (ids and created_at both follow insertion), so
    // the count and the oldest come from k_delivery_endpoint alone, plus one row's lookup.
    Rows pend = db.query(
        "SELECT p.n, d.created_at FROM (SELECT COUNT(*) AS n, MIN(id) AS first FROM webhook_deliveries "
        "WHERE endpoint_id = ? AND status IN ('pending', 'inflight')) p "
        "LEFT JOIN webhook_deliveries d ON d.id = p.first", ep);
    s.pending = Cells(pend, 0).number("n");
    s.oldest_pending_at = Cells(pend, 0).opt("created_at");
    Rows err = db.query(
        "SELECT started_at, http_status, error_class, error_message FROM webhook_attempts "
        "WHERE endpoint_id = ? AND outcome = 'failure' ORDER BY started_at DESC LIMIT 1", ep);
    if (!err.empty()) {
        Cells c(err, 0);
        AttemptRow a;
        a.started_at = c.text("started_at");
        a.http_status = c.opt("http_status");
        a.error_class = c.opt("error_class");
        a.error_message = c.opt("error_message");
        s.last_error = std::move(a);
    }
    return s;
}

bool redeliver(wh::Db& db, uint64_t delivery_id, std::string& status) {
    unsigned long long id = delivery_id;
    // One statement: atomic against the worker's claim (CLIENT_FOUND_ROWS: matched rows count).
    uint64_t n = db.exec("UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = NOW(3) "
                         "WHERE id = ? AND status IN ('pending', 'failed', 'delivered')",
                         {id});
    Rows r = db.query("SELECT status FROM webhook_deliveries WHERE id = ?", {id});
    status = r.empty() ? std::string() : Cells(r, 0).text("status");
    return n > 0;
}

uint64_t recover_failed(wh::Db& db, uint64_t endpoint_id, const std::string& since_db) {
    // Test notifications get one attempt only: never queued again.
    return db.exec("UPDATE webhook_deliveries d SET d.status = 'pending', d.next_attempt_at = NOW(3) "
                   "WHERE d.endpoint_id = ? AND d.status = 'failed' AND d.created_at >= ? AND NOT EXISTS "
                   "(SELECT 1 FROM webhook_events e WHERE e.id = d.event_id AND e.test_endpoint_id IS NOT NULL)",
                   {static_cast<unsigned long long>(endpoint_id), since_db});
}

TestSendResult queue_test(wh::Db& db, const Principal& who, const std::string& public_id,
                          const std::string& event_code) {
    return wh::with_transaction(db, [&](wh::Db& db) {
        TestSendResult res;
        auto ep = lock_visible(db, who, public_id);
        if (!ep) return res;
        if (!ep->enabled) {
            res.kind = TestSendResult::disabled;
            return res;
        }
        // Read under the endpoint's lock (READ COMMITTED: the tests committed by whoever held
        // it before are counted). A slot frees when the oldest of the minute turns a minute old.
        const unsigned long long id = ep->id;
        Rows window = db.query(
            "SELECT COUNT(*) AS n, TIMESTAMPDIFF(MICROSECOND, NOW(3), MIN(created_at) + INTERVAL 1 MINUTE) AS wait_us "
            "FROM webhook_events WHERE test_endpoint_id = ? AND created_at > NOW(3) - INTERVAL 1 MINUTE",
            {id});
        Cells w(window, 0);
        if (w.number("n") >= kTestsPerMinute) {
            res.kind = TestSendResult::rate_limited;
            long long wait_us = std::stoll(w.text("wait_us"));
            res.retry_after_s = std::max(1LL, (wait_us + 999999) / 1000000);
            return res;
        }
        const bool reseller = ep->scope_kind == "reseller";
        // A system-style event: the scope's id in its column, "" in the other (as the worker's
        // system.endpoint-disabled); fanned out already, its one delivery made here.
        Rows ev = db.query(
            "INSERT INTO webhook_events (event_code, reseller_id, portfolio_id, data, test_endpoint_id, fanned_out_at) "
            "SELECT code, ?, ?, example, ?, NOW(3) FROM webhook_event_types WHERE code = ? RETURNING id",
            {reseller ? ep->scope_id : std::string(), reseller ? std::string() : ep->scope_id, id, event_code});
        if (ev.empty()) throw std::runtime_error("the event type " + event_code + " left the catalogue");
        Rows d = db.query(
            "INSERT INTO webhook_deliveries (event_id, endpoint_id, event_code) VALUES (?, ?, ?) RETURNING notification_id",
            {Cells(ev, 0).number("id"), id, event_code});
        if (d.empty()) throw std::runtime_error("INSERT ... RETURNING gave no row");
        res.kind = TestSendResult::queued;
        res.notification_id = Cells(d, 0).text("notification_id");
        return res;
    });
}

namespace {

// The ingestion hot path runs on server-side prepared statements (Db::*_prepared): each
// SQL text below is prepared once per pooled connection and then only executed.

// locking = a locking read, which sees the latest committed row whatever the isolation level
// (needed after a duplicate-key error: a plain read may use an older snapshot). A real key is
// its own idempotency_identity (sql/014), so the lookup goes through uq_event_identity.
std::optional<std::string> find_idempotent(wh::Db& db, const std::string& reseller, const std::string& key,
                                           bool locking = false) {
    static const std::string plain =
        "SELECT public_id FROM webhook_events WHERE reseller_id = ? AND idempotency_identity = ?";
    static const std::string locked = plain + " LOCK IN SHARE MODE";
    Rows r = db.query_prepared(locking ? locked : plain, {reseller, key});
    if (r.empty()) return std::nullopt;
    return Cells(r, 0).text("public_id");
}

// One row of VALUES; event_date NULL means the column's default (now, in epoch ms), the
// same expression as in sql/001_schema.sql, so one SQL text serves both cases.
const char* kEventRow = "(?,?,?,?,?,COALESCE(?, FLOOR(UNIX_TIMESTAMP(NOW(3)) * 1000)),?,?,?)";
constexpr size_t kEventParams = 9;

void add_event_params(Params& params, const EventInput& e, const std::string& public_id) {
    params.emplace_back(public_id);
    params.emplace_back(e.event_code);
    params.emplace_back(e.reseller_id);
    params.emplace_back(e.portfolio_id);
    params.emplace_back(e.merchant_id);
    params.emplace_back(e.event_date);
    params.emplace_back(e.data_json);
    params.emplace_back(e.idempotency_key);
    params.emplace_back(e.ordering_key);
}

// "INSERT … VALUES (row),(row),…" for n rows, built once per n.
const std::string& event_insert_sql(size_t n) {
    static std::mutex mu;
    static std::map<size_t, std::string> cache;
    std::lock_guard<std::mutex> lock(mu);
    std::string& sql = cache[n];
    if (sql.empty()) {
        sql = "INSERT INTO webhook_events (public_id, event_code, reseller_id, portfolio_id, merchant_id, "
              "event_date, data, idempotency_key, ordering_key) VALUES ";
        for (size_t i = 0; i < n; ++i) (sql += i ? "," : "") += kEventRow;
    }
    return sql;
}

// Inserts events[idx[0..n)] with their public ids in one statement.
void insert_event_rows(wh::Db& db, const std::vector<EventInput>& events, const std::vector<std::string>& ids,
                       const size_t* idx, size_t n) {
    Params params;
    params.reserve(n * kEventParams);  // one allocation, not a growth per row
    for (size_t k = 0; k < n; ++k) add_event_params(params, events[idx[k]], ids[idx[k]]);
    if (db.exec_prepared(event_insert_sql(n), params) != n)
        throw std::runtime_error("INSERT INTO webhook_events stored fewer rows than it was given");
}

// After a commit whose answer was lost: whether the event public_id is stored, read on a
// fresh connection (the Db reconnects, on the next healthy host of its list). The read is
// a locking one, so it waits for the lost statement if that is still running on the same
// server, and it waits for the cluster to apply what was committed before it (sync_reads:
// wsrep_sync_wait on a Galera node; the next request's dispatch sets it as that request
// needs). A lost answer comes mostly from a stalled cluster (a node killed: several seconds
// until the others agree it is gone), and a lookup made during the stall fails the same
// way: the lookup is tried again on a new connection until kLookupBudgetTimeouts database
// timeouts have passed, because a 503 for a stored event is published twice by a gateway
// without idempotency keys. When no host has a server at all (refused: killed, stopped),
// waiting tells nothing sooner than the gateway's own retry would, and holds a request
// slot: it is answered 503 at once.
constexpr unsigned kLookupBudgetTimeouts = 4;

struct LookupOutcome {
    std::optional<bool> stored;  // nullopt: not known
    std::string unknown_why;     // when not known, why, for the log line
};

LookupOutcome stored_after_lost_commit(wh::Db& db, const std::string& public_id) {
    using Clock = std::chrono::steady_clock;
    const unsigned budget_s = kLookupBudgetTimeouts * std::max(db.config().read_timeout, 1u);
    const auto deadline = Clock::now() + std::chrono::seconds(budget_s);
    auto pause = std::chrono::milliseconds(250);
    for (int attempt = 1;; ++attempt) {
        try {
            db.sync_reads(true);
            return {!db.query("SELECT 1 FROM webhook_events WHERE public_id = ? LOCK IN SHARE MODE",
                              {public_id}).empty(), ""};
        } catch (const DbError& e) {
            wh::log_debug("event lookup " + std::to_string(attempt) + " after a lost commit failed: " + e.what());
            db.close();  // a node that answered with an error (non-primary) is left too
            if (e.no_server()) return {std::nullopt, "a lookup found no server running (" + e.explain() + ")"};
        }
        if (Clock::now() + pause >= deadline)
            return {std::nullopt, "lookups on fresh connections failed for " + std::to_string(budget_s) + " s too"};
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, decltype(pause)(1000));
    }
}

// Keyless events go in multi-row INSERTs of 100, 10 and 1 rows: at most three statement
// texts to prepare per connection, and a 1000-event batch takes 10 round trips.
constexpr size_t kChunks[] = {100, 10, 1};

// The catalogue changes rarely (a migration or an admin's INSERT): each child keeps it for
// kCatalogueTtl instead of reading it on every event.
constexpr auto kCatalogueTtl = std::chrono::seconds(10);
std::mutex catalogue_mu;
std::shared_ptr<const Catalogue> catalogue_cache;
std::chrono::steady_clock::time_point catalogue_loaded{};
bool catalogue_valid = false;

}  // namespace

std::shared_ptr<const Catalogue> event_catalogue(wh::Db& db) {
    auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard<std::mutex> lock(catalogue_mu);
        if (catalogue_valid && now - catalogue_loaded < kCatalogueTtl) return catalogue_cache;
    }
    auto c = std::make_shared<Catalogue>();
    Rows rows = db.query_prepared("SELECT code FROM webhook_event_types");
    for (const auto& r : rows.rows) c->insert(Cells(rows, r).text("code"));
    std::lock_guard<std::mutex> lock(catalogue_mu);
    catalogue_cache = c;
    catalogue_loaded = now;
    catalogue_valid = true;
    return c;
}

void forget_event_catalogue() {
    std::lock_guard<std::mutex> lock(catalogue_mu);
    catalogue_valid = false;
}

// Batches sharing idempotency keys in different orders can deadlock on the unique key;
// InnoDB picks a victim at once and the retry finds the winner's rows, so a few retries
// always settle it.
constexpr int kInsertAttempts = 10;

std::string new_event_id() { return "evt_" + wh::random_hex(12); }

bool commit_outcome_unknown(const DbError& e) {
    // 2013 lost connection during the query (a read timeout ends this way too), 2006 server
    // gone away, 2055 lost connection with a system error: the statement may have been
    // executed and committed, only its answer is missing. Every other error is an answer.
    return e.code() == 2013 || e.code() == 2006 || e.code() == 2055;
}

// The commit of `n` new events (one statement or one transaction, so all or none), the first
// of them `public_id`, lost its answer (`lost`). Returns if they are stored; rethrows `lost`
// (503) if they are not, or if that cannot be known.
static void settle_lost_commit(wh::Db& db, const DbError& lost, const std::string& public_id, size_t n) {
    LookupOutcome found = stored_after_lost_commit(db, public_id);
    std::string what = "event " + public_id + (n > 1 ? " and the " + std::to_string(n - 1) + " others of its batch" : "");
    wh::log_warn(std::string("WH00070: the connection to MariaDB broke before the answer to committing ") + what +
                 " (" + lost.what() + "); " +
                 (!found.stored ? found.unknown_why + ": answering 503"
                  : *found.stored ? "a lookup on a fresh connection found it stored: answering 202"
                                  : "a lookup on a fresh connection found it not stored: answering 503") +
                 ". The gateway must repeat a 503 with the same idempotency key; many of these lines mean "
                 "commits outlast WebhookDatabaseTimeout (an overloaded server or a stalled cluster)");
    if (!found.stored || !*found.stored) throw lost;
}

// One event: one statement in autocommit, no explicit transaction (START TRANSACTION and
// COMMIT would be two more round trips per event). A keyed event is INSERTed first; the
// unique key (reseller_id, idempotency_identity) turns a repeat into a duplicate-key error,
// and then the first event is read (a locking read: it sees the latest committed row).
static EventResult insert_one(wh::Db& db, const std::vector<EventInput>& events, const std::vector<std::string>& ids) {
    const EventInput& e = events[0];
    const std::string& public_id = ids[0];
    const size_t first[] = {0};
    for (int attempt = 1;; ++attempt) {
        if (attempt > 1) wh::deadlock_backoff(attempt);
        try {
            insert_event_rows(db, events, ids, first, 1);
            return {public_id, false};
        } catch (const DbError& err) {
            if (e.idempotency_key && err.duplicate_key()) {
                if (auto found = find_idempotent(db, e.reseller_id, *e.idempotency_key, true)) return {*found, true};
            }
            if (commit_outcome_unknown(err)) {
                settle_lost_commit(db, err, public_id, 1);
                return {public_id, false};
            }
            if (!err.retryable() || attempt >= kInsertAttempts) throw;
        }
    }
}

// The batch's statements, inside the caller's transaction: keyless events in multi-row
// INSERTs, keyed ones one by one after a duplicate check, everything in the batch's order.
static std::vector<EventResult> insert_batch(wh::Db& db, const std::vector<EventInput>& events,
                                             const std::vector<std::string>& ids) {
    std::vector<EventResult> out(events.size());
    std::map<std::pair<std::string, std::string>, std::string> batch_keys;
    std::vector<size_t> pending;  // keyless events not inserted yet, in batch order
    auto flush = [&]() {
        size_t done = 0;
        for (size_t chunk : kChunks)
            for (; pending.size() - done >= chunk; done += chunk) insert_event_rows(db, events, ids, &pending[done], chunk);
        pending.clear();
    };
    for (size_t i = 0; i < events.size(); ++i) {
        const EventInput& e = events[i];
        if (!e.idempotency_key) {
            out[i] = {ids[i], false};
            pending.push_back(i);
            if (pending.size() >= 100) flush();
            continue;
        }
        flush();  // keep the batch's order in the table
        // The same key twice in one batch: the later item is a duplicate of the earlier
        // one, exactly as if it came in a later request.
        auto bk = std::make_pair(e.reseller_id, *e.idempotency_key);
        auto seen = batch_keys.find(bk);
        if (seen != batch_keys.end()) {
            out[i] = {seen->second, true};
            continue;
        }
        if (auto first = find_idempotent(db, e.reseller_id, *e.idempotency_key)) {
            out[i] = {*first, true};
            batch_keys[bk] = *first;
            continue;
        }
        try {
            const size_t one[] = {i};
            insert_event_rows(db, events, ids, one, 1);
            out[i] = {ids[i], false};
        } catch (const DbError& err) {
            // Another request inserted the same key since our SELECT and committed (the
            // unique key (reseller_id, idempotency_identity) made us wait for its COMMIT).
            if (!err.duplicate_key()) throw;
            auto first = find_idempotent(db, e.reseller_id, *e.idempotency_key, true);
            if (!first) throw;
            wh::log_debug("duplicate idempotency key raced with a concurrent request; "
                          "answering with the first event " + *first);
            out[i] = {*first, true};
        }
        batch_keys[bk] = out[i].event_id;
    }
    flush();
    return out;
}

std::vector<EventResult> insert_events(wh::Db& db, const std::vector<EventInput>& events) {
    // Public ids are made here, not by the column's default, so that an event whose commit
    // lost its answer can be looked up.
    std::vector<std::string> ids;
    ids.reserve(events.size());
    for (size_t i = 0; i < events.size(); ++i) ids.push_back(new_event_id());
    if (events.size() == 1) return {insert_one(db, events, ids)};
    std::vector<EventResult> out;
    bool committing = false;  // every statement ran: a failure now is the COMMIT's
    try {
        return wh::with_transaction(db, [&](wh::Db& db) {
            committing = false;
            out = insert_batch(db, events, ids);
            committing = true;
            return out;
        }, kInsertAttempts);
    } catch (const DbError& err) {
        // A failure before COMMIT rolled everything back: known not stored, answered as is.
        if (!committing || !commit_outcome_unknown(err)) throw;
        auto is_new = [](const EventResult& r) { return !r.duplicate; };
        size_t n = size_t(std::count_if(out.begin(), out.end(), is_new));
        if (n == 0) return out;  // all duplicates: the transaction wrote nothing
        settle_lost_commit(db, err, std::find_if(out.begin(), out.end(), is_new)->event_id, n);
        return out;
    }
}

}  // namespace wh::api

#include "store.hpp"

#include "lifecycle.hpp"

#include <algorithm>
#include <memory>

namespace wh::worker {

namespace {

uint64_t to_u64(const std::optional<std::string>& s) {
    return s ? std::stoull(*s) : 0;
}

}  // namespace

// A statement that locks or writes rows given by id names the primary key (FORCE INDEX
// (PRIMARY)): with few rows of a status MariaDB prefers the status index, and that scan
// locks every row of the status, other workers' too; on a Galera node their replicated
// writes then abort this transaction.
std::string id_list(const std::vector<uint64_t>& ids) {
    std::string out;
    for (auto id : ids) {
        if (!out.empty()) out += ',';
        out += std::to_string(id);
    }
    return out;
}

size_t fan_out(Db& db, const Share& share, unsigned limit) {
    return with_transaction(db, [&](Db& d) -> size_t {
        // A plain read picks this share's events, then they are locked by primary key (see
        // id_list): a locking read of k_event_fanout would lock every waiting event it
        // passes, other shares' too.
        Rows r = d.query("SELECT id FROM webhook_events e WHERE fanned_out_at IS NULL" + share.reseller_sql("e") +
                             " ORDER BY id LIMIT ?",
                         {limit});
        if (r.empty()) return 0;
        std::vector<uint64_t> ids;
        for (const auto& row : r.rows) ids.push_back(to_u64(row[0]));
        r = d.query("SELECT id FROM webhook_events FORCE INDEX (PRIMARY) WHERE id IN (" + id_list(ids) +
                    ") AND fanned_out_at IS NULL FOR UPDATE SKIP LOCKED");
        if (r.empty()) return 0;
        ids.clear();
        for (const auto& row : r.rows) ids.push_back(to_u64(row[0]));
        std::string in = id_list(ids);
        // Per scope kind, from the event to the endpoints of its reseller (or portfolio) by
        // k_endpoint_scope, then their subscription by primary key: rows read grow with the
        // endpoints of that scope. Joined from the subscriptions of the event's code instead
        // (the plan MariaDB chose for one OR-ed join), every endpoint subscribed to the code
        // in any scope was read for every event.
        auto scoped = [&](const char* kind, const char* column) {
            return std::string("SELECT STRAIGHT_JOIN e.id, ep.id, e.event_code FROM webhook_events e "
                               "JOIN webhook_endpoints ep ON ep.scope_kind = '") + kind +
                   "' AND ep.scope_id = e." + column + " AND ep.deleted_at IS NULL "
                   "AND (e.test_endpoint_id IS NULL OR e.test_endpoint_id = ep.id) "
                   "JOIN webhook_endpoint_subscriptions s ON s.endpoint_id = ep.id AND s.event_code = e.event_code "
                   "WHERE e.id IN (" + in + ")";
        };
        // event_code is copied for the delivery log's filter (sql/011_delivery_log_filters.sql).
        d.exec("INSERT IGNORE INTO webhook_deliveries (event_id, endpoint_id, event_code) " +
               scoped("reseller", "reseller_id") +
               " UNION ALL " + scoped("portfolio", "portfolio_id") + " ORDER BY 1, 2");
        d.exec("UPDATE webhook_events SET fanned_out_at = NOW(3) WHERE id IN (" + in + ")");
        return ids.size();
    });
}

uint64_t reap_expired_leases(Db& db, unsigned limit) {
    // A plain read first: almost always nothing expired, and then nothing is locked. An
    // UPDATE scanning the inflight rows locked them one by one and could deadlock with a
    // recorder committing a batch of them (it locks by primary key). The UPDATE re-checks
    // the lease, so a row recorded in between is left alone.
    // Through k_delivery_claim's `status` prefix: the inflight rows are as many as all
    // workers' slots (sql/006: no index on the lease any more, one fewer to update per row).
    Rows r = db.query_prepared(
        "SELECT id FROM webhook_deliveries FORCE INDEX (k_delivery_claim) "
        "WHERE status = 'inflight' AND lease_expires_at < NOW(3) ORDER BY id LIMIT ?",
        {limit});
    if (r.empty()) return 0;
    std::vector<uint64_t> ids;
    for (const auto& row : r.rows) ids.push_back(to_u64(row[0]));
    return with_transaction(db, [&](Db& d) {
        return d.exec(
            "UPDATE webhook_deliveries FORCE INDEX (PRIMARY) SET status = 'pending', lease_owner = NULL, "
            "lease_expires_at = NULL, attempts = IF(attempts > 0, attempts - 1, 0) "
            "WHERE id IN (" + id_list(ids) + ") AND status = 'inflight' AND lease_expires_at < NOW(3)");
    });
}

namespace {

// What the claim knows of one endpoint with due work.
struct EpInfo {
    ScopeKey scope;
    unsigned timeouts = 0;  // consecutive_timeouts (breaker)
    unsigned inflight = 0;  // all workers
};

// "(scope_kind = ? AND scope_id = ?) OR …" over `scopes`, its params appended.
std::string scope_match(const std::string& prefix, const std::set<ScopeKey>& scopes, Params& params) {
    std::string out;
    for (const auto& [kind, id] : scopes) {
        out += std::string(out.empty() ? "" : " OR ") + "(" + prefix + "scope_kind = ? AND " + prefix + "scope_id = ?)";
        params.emplace_back(kind);
        params.emplace_back(id);
    }
    return out;
}

// Deliveries in flight (all workers), per endpoint and per scope.
struct Inflight {
    std::map<uint64_t, unsigned> ep;
    std::map<ScopeKey, unsigned> scope;
    unsigned of(uint64_t endpoint) const {
        auto it = ep.find(endpoint);
        return it == ep.end() ? 0 : it->second;
    }
};

// Adds to `fl` what is in flight for every endpoint of `scopes` (scopes `fl` does not know
// yet), per endpoint and per scope, in one statement. A few scopes: their endpoints by
// k_endpoint_scope, one k_delivery_claim dive each (the endpoints of a scope are bounded by
// WebhookMaxEndpointsPerScope). Many: one range over every inflight row of k_delivery_claim
// (as many as all workers' slots), one primary-key lookup each; an IN list of many endpoints
// cost MariaDB more to plan.
void count_inflight(Db& d, const std::set<ScopeKey>& scopes, Inflight& fl) {
    if (scopes.empty()) return;
    Rows r;
    if (scopes.size() <= 8) {
        Params params;
        std::string where = scope_match("ep.", scopes, params);
        r = d.query("SELECT ep.id AS endpoint_id, ep.scope_kind, ep.scope_id, COUNT(*) AS inflight "
                    "FROM webhook_endpoints ep "
                    "JOIN webhook_deliveries f FORCE INDEX (k_delivery_claim) "
                    "ON f.status = 'inflight' AND f.endpoint_id = ep.id WHERE " + where +
                        " GROUP BY ep.id, ep.scope_kind, ep.scope_id",
                    params);
    } else {
        r = d.query_prepared(
            "SELECT f.endpoint_id, ep.scope_kind, ep.scope_id, COUNT(*) AS inflight FROM webhook_deliveries f "
            "FORCE INDEX (k_delivery_claim) JOIN webhook_endpoints ep ON ep.id = f.endpoint_id "
            "WHERE f.status = 'inflight' GROUP BY f.endpoint_id, ep.scope_kind, ep.scope_id");
    }
    for (const auto& sc : scopes) fl.scope.emplace(sc, 0);
    const size_t ep = r.col("endpoint_id"), kind = r.col("scope_kind"), id = r.col("scope_id"),
                 inflight = r.col("inflight");
    for (const auto& row : r.rows) {
        ScopeKey k{row[kind].value_or(""), row[id].value_or("")};
        if (!scopes.count(k)) continue;
        unsigned n = unsigned(to_u64(row[inflight]));
        fl.ep[to_u64(row[ep])] = n;
        fl.scope[k] += n;
    }
}

// The scopes of `eps` that `fl` does not know yet.
std::set<ScopeKey> unseen_scopes(const std::map<uint64_t, EpInfo>& eps, const Inflight& fl) {
    std::set<ScopeKey> out;
    for (const auto& [ep, e] : eps)
        if (!fl.scope.count(e.scope)) out.insert(e.scope);
    return out;
}

// The enabled, non-deleted endpoints among `eps`, with their scope and breaker count.
std::map<uint64_t, EpInfo> enabled_endpoints(Db& d, const std::vector<uint64_t>& eps, const Share& share) {
    std::map<uint64_t, EpInfo> m;
    if (eps.empty()) return m;
    Rows r = d.query("SELECT id, scope_kind, scope_id, consecutive_timeouts FROM webhook_endpoints ep "
                     "WHERE id IN (" + id_list(eps) + ") AND enabled = 1 AND deleted_at IS NULL" +
                     share.scope_sql("ep"));
    const size_t id = r.col("id"), kind = r.col("scope_kind"), scope = r.col("scope_id"),
                 timeouts = r.col("consecutive_timeouts");
    for (const auto& row : r.rows)
        m[to_u64(row[id])] = EpInfo{{row[kind].value_or(""), row[scope].value_or("")}, unsigned(to_u64(row[timeouts])), 0};
    return m;
}

// Free room per endpoint and per scope, as a claim hands it out: an endpoint may take
// min(its cap's remainder, its scope's remainder), and what it takes comes off its scope's.
struct Room {
    const ClaimLimits& limits;
    std::map<ScopeKey, unsigned> scope_used;  // in flight + handed out in this claim

    unsigned endpoint_left(const EpInfo& e) const {
        unsigned cap = limits.breaker.cap(limits.per_endpoint, e.timeouts);
        return e.inflight < cap ? cap - e.inflight : 0;
    }
    unsigned scope_left(const ScopeKey& s) const {
        auto it = scope_used.find(s);
        unsigned used = it == scope_used.end() ? 0 : it->second;
        return used < limits.per_scope ? limits.per_scope - used : 0;
    }
    unsigned left(const EpInfo& e) const { return std::min(endpoint_left(e), scope_left(e.scope)); }
    void take(const EpInfo& e, unsigned k) { scope_used[e.scope] += k; }
    // Scopes learnt since (their counts in `fl`) join with nothing handed out yet.
    void sync(const std::map<ScopeKey, unsigned>& fl) {
        for (const auto& kv : fl) scope_used.emplace(kv);
    }
};

// The (scope_kind, scope_id) of each row.
std::set<ScopeKey> scope_keys(const Rows& r) {
    std::set<ScopeKey> out;
    const size_t kind = r.col("scope_kind"), id = r.col("scope_id");
    for (const auto& row : r.rows) out.insert({row[kind].value_or(""), row[id].value_or("")});
    return out;
}

// Locks the scope rows of `scopes` (SKIP LOCKED: another worker claiming for one of them
// right now makes us pass it over). Scopes that have no row yet go into `missing`.
std::set<ScopeKey> lock_scopes(Db& d, const std::set<ScopeKey>& scopes, std::set<ScopeKey>& missing) {
    if (scopes.empty()) return {};
    Params params;
    std::string where = scope_match("", scopes, params);
    std::set<ScopeKey> locked =
        scope_keys(d.query("SELECT scope_kind, scope_id FROM webhook_scopes FORCE INDEX (PRIMARY) WHERE " + where +
                               " FOR UPDATE SKIP LOCKED",
                           params));
    if (locked.size() == scopes.size()) return locked;
    std::set<ScopeKey> present = scope_keys(d.query("SELECT scope_kind, scope_id FROM webhook_scopes WHERE " + where, params));
    for (const auto& s : scopes)
        if (!present.count(s)) missing.insert(s);
    return locked;
}

// Gives scopes their lock row (endpoints inserted by hand, or before the table existed).
void add_scope_rows(Db& db, const std::set<ScopeKey>& scopes) {
    if (scopes.empty()) return;
    std::string values;
    Params params;
    for (const auto& [kind, id] : scopes) {
        values += std::string(values.empty() ? "" : ",") + "(?, ?)";
        params.emplace_back(kind);
        params.emplace_back(id);
    }
    db.exec("INSERT IGNORE INTO webhook_scopes (scope_kind, scope_id) VALUES " + values, params);
}

// What the first, non-locking step of a claim found.
struct Candidates {
    std::vector<uint64_t> order;  // enabled endpoints with due work, oldest head first
    std::map<uint64_t, EpInfo> info;
    Inflight fl;  // in flight per endpoint and per scope, as read (not locked)
    std::map<uint64_t, std::vector<uint64_t>> in_window;  // endpoint -> its window rows, oldest first
    bool window_full = false;  // more due rows may lie beyond what was read
    bool walked = false;       // found by the fallback walk: the window's rows are not used
};

// 1a. Window: the oldest due rows in k_delivery_due order (status, next_attempt_at, id),
//     read in pages (keyset, each twice the last) until the endpoints seen can fill the
//     free slots or kMaxWindow rows were read. The rows read are a prefix of the global
//     due order, so an endpoint's first row in it is its head and endpoints come oldest
//     head first, as in the walk below, at a cost that grows with the batch and the
//     backlog's shape, not with the number of endpoints. Non-locking reads.
//     No `status` in any ORDER BY here: on the worker's utf8mb4 connection MariaDB 10.11
//     does not treat `status = 'pending'` (an ENUM) as a constant for ORDER BY, so
//     `ORDER BY status, …` turned the index order into a filesort of every pending row.
void read_window(Db& d, unsigned n, const ClaimLimits& limits, const std::string& skip_sql, const Share& share,
                 Candidates& c) {
    constexpr unsigned kMaxWindow = 4096;  // index reads bounded before the fallback walk
    unsigned page = std::max(4 * n, 256u), scanned = 0, capacity = 0;
    Room room{limits, {}};  // what the endpoints seen can take, scope caps included
    std::optional<std::string> last_at;
    std::string last_id;
    for (;;) {
        Rows win = d.query(
            "SELECT endpoint_id, next_attempt_at, id FROM webhook_deliveries FORCE INDEX (k_delivery_due) "
            "WHERE status = 'pending' AND next_attempt_at <= NOW(3) " + skip_sql +
                std::string(last_at ? "AND (next_attempt_at > ? OR (next_attempt_at = ? AND id > " + last_id + ")) " : "") +
                "ORDER BY next_attempt_at, id LIMIT ?",
            last_at ? Params{*last_at, *last_at, page} : Params{page});
        scanned += unsigned(win.size());
        c.window_full = win.size() >= page;
        std::vector<uint64_t> fresh;  // endpoints this page shows for the first time
        const size_t ep_col = win.col("endpoint_id"), at_col = win.col("next_attempt_at"), id_col = win.col("id");
        for (const auto& row : win.rows) {
            std::vector<uint64_t>& rows = c.in_window[to_u64(row[ep_col])];
            if (rows.empty()) fresh.push_back(to_u64(row[ep_col]));
            rows.push_back(to_u64(row[id_col]));
        }
        std::map<uint64_t, EpInfo> eps = enabled_endpoints(d, fresh, share);
        count_inflight(d, unseen_scopes(eps, c.fl), c.fl);
        room.sync(c.fl.scope);
        for (auto ep : fresh) {
            auto it = eps.find(ep);
            if (it == eps.end()) continue;
            it->second.inflight = c.fl.of(ep);
            c.order.push_back(ep);
            unsigned k = room.left(it->second);
            capacity += k;
            room.take(it->second, k);
            c.info[ep] = it->second;
        }
        if (!c.window_full || capacity >= n || scanned >= kMaxWindow) break;
        last_at = win.rows.back()[at_col];
        last_id = std::to_string(to_u64(win.rows.back()[id_col]));
        page = std::min(2 * page, kMaxWindow - scanned);
    }
    c.walked = c.window_full && capacity < n;
}

// 1b. Fallback, only when the window is dominated by endpoints at their cap (or
//     disabled) and more due work lies beyond it: each enabled endpoint's oldest pending
//     delivery and how many of its deliveries are in flight (all workers), as two
//     dependent subqueries that are one index dive each on k_delivery_claim (status,
//     endpoint_id, next_attempt_at) however long the endpoint's backlog is. Its cost
//     grows with the number of endpoints; this is what keeps a 100,000 backlog on one
//     capped endpoint from holding up the others.
//    (A GROUP BY over webhook_deliveries would be cheaper with many idle endpoints, but
//    MariaDB 10.11 only uses the loose index scan for it with fresh statistics and
//    otherwise walks every pending row.)
//    The hint and the ORDER BY on endpoint_id, next_attempt_at keep the head a `ref`
//    dive: with statistics stale after a bulk insert, MariaDB 10.11 otherwise took a
//    range on `status` alone and walked every pending row per endpoint.
void walk_heads(Db& d, const std::string& skip_sql, Candidates& c) {
    c.order.clear();
    c.info.clear();
    Rows heads = d.query(
        "SELECT ep.id, "
        " (SELECT p.next_attempt_at FROM webhook_deliveries p FORCE INDEX (k_delivery_claim) "
        "   WHERE p.status = 'pending' AND p.endpoint_id = ep.id "
        "   ORDER BY p.endpoint_id, p.next_attempt_at LIMIT 1) AS head, "
        " (SELECT COUNT(*) FROM webhook_deliveries f WHERE f.status = 'inflight' "
        "   AND f.endpoint_id = ep.id) AS inflight, ep.scope_kind, ep.scope_id, ep.consecutive_timeouts "
        "FROM webhook_endpoints ep WHERE ep.enabled = 1 AND ep.deleted_at IS NULL " +
        skip_sql + "HAVING head <= NOW(3) ORDER BY head, ep.id");
    const size_t id = heads.col("id"), kind = heads.col("scope_kind"), scope = heads.col("scope_id"),
                 timeouts = heads.col("consecutive_timeouts"), inflight = heads.col("inflight");
    for (const auto& row : heads.rows) {
        c.order.push_back(to_u64(row[id]));
        c.info[to_u64(row[id])] = EpInfo{{row[kind].value_or(""), row[scope].value_or("")},
                                         unsigned(to_u64(row[timeouts])), unsigned(to_u64(row[inflight]))};
    }
    count_inflight(d, unseen_scopes(c.info, c.fl), c.fl);
}

// The endpoints to lock, oldest head first, at most n. Endpoints at their cap, or whose scope
// is at its cap, are passed over (and reported, to claim again when a slot frees). The
// scope's room is only an estimate here (no lock yet): it keeps the batch's endpoints to
// those that may take something.
std::vector<uint64_t> pick_open(const Candidates& c, unsigned n, const ClaimLimits& limits, ClaimResult& result) {
    std::vector<uint64_t> open;
    Room pre{limits, c.fl.scope};
    for (auto ep : c.order) {
        const EpInfo& e = c.info.at(ep);
        unsigned k = pre.left(e);
        if (k == 0) {
            result.waiting.emplace(ep, e.scope);  // due work, but at a cap (here or elsewhere)
        } else if (open.size() >= n) {
            result.full = true;  // more endpoints with due work than free slots
        } else {
            open.push_back(ep);
            pre.take(e, k);
        }
    }
    return open;
}

// 2. Lock the endpoints we take work from (enabled, not deleted) and their scopes'
//    rows, skipping those another worker is claiming for right now: only the lock
//    holder may add to an endpoint's or a scope's in-flight count, so the counts below
//    are exact and the caps hold across workers. Primary-key lookups, forced: on a small
//    table MariaDB prefers a scan, which locks (for a moment) every row it passes, other
//    workers' endpoints and scopes too, and on a Galera node their replicated claims then
//    abort this one. READ COMMITTED unlocks the rows that do not match.
std::set<uint64_t> lock_open(Db& d, const std::vector<uint64_t>& open, const Candidates& c,
                             std::set<ScopeKey>& missing_scopes, std::set<ScopeKey>& mine_scopes) {
    Rows locked = d.query(
        "SELECT id FROM webhook_endpoints FORCE INDEX (PRIMARY) WHERE id IN (" + id_list(open) + ") "
        "AND enabled = 1 AND deleted_at IS NULL FOR UPDATE SKIP LOCKED");
    std::set<uint64_t> mine_eps;
    std::set<ScopeKey> scopes;
    for (const auto& row : locked.rows) {
        mine_eps.insert(to_u64(row[0]));
        scopes.insert(c.info.at(to_u64(row[0])).scope);
    }
    mine_scopes = lock_scopes(d, scopes, missing_scopes);
    for (auto it = mine_eps.begin(); it != mine_eps.end();)
        it = mine_scopes.count(c.info.at(*it).scope) ? std::next(it) : mine_eps.erase(it);
    return mine_eps;
}

// 3. Each endpoint's head, oldest first, up to its cap's remainder, SKIP LOCKED against
//    a concurrent claim of the same rows, in one statement for all endpoints. From the
//    window: its rows of an endpoint are that endpoint's oldest due ones, so they are
//    locked by primary key (re-checked: still pending and due). After the walk: a
//    UNION ALL of per-endpoint ranges on k_delivery_claim; locking the window's rows by
//    primary key spares MariaDB the UNION's plan per endpoint.
std::vector<uint64_t> take_heads(Db& d, const std::vector<uint64_t>& open, const std::set<uint64_t>& mine_eps,
                                 const std::set<ScopeKey>& mine_scopes, Candidates& c, unsigned n,
                                 const ClaimLimits& limits, ClaimResult& result, std::set<uint64_t>& taken_from) {
    Inflight locked_fl;  // exact: counted under the locks
    count_inflight(d, mine_scopes, locked_fl);
    Room exact{limits, locked_fl.scope};
    std::vector<uint64_t> mine;
    std::map<uint64_t, unsigned> want;
    std::string parts;
    std::vector<uint64_t> heads;  // window rows to lock (not walked)
    unsigned budget = n;
    for (auto ep : open) {
        if (!mine_eps.count(ep)) continue;
        if (budget == 0) {
            result.full = true;
            break;
        }
        EpInfo& e = c.info[ep];
        e.inflight = locked_fl.of(ep);
        unsigned k = std::min(exact.left(e), budget);
        if (k == 0) {
            result.waiting.emplace(ep, e.scope);
            continue;
        }
        want[ep] = k;
        if (!c.walked) {
            // Fewer rows than k in the window: that is all it has due (or, past a full
            // window, all it showed: claimed again below). The budget pays for what is taken.
            const std::vector<uint64_t>& rows = c.in_window[ep];
            size_t take = std::min<size_t>(k, rows.size());
            heads.insert(heads.end(), rows.begin(), rows.begin() + long(take));
            budget -= unsigned(take);
            exact.take(e, unsigned(take));
            continue;
        }
        budget -= k;
        exact.take(e, k);
        parts += std::string(parts.empty() ? "" : " UNION ALL ") +
                 "(SELECT endpoint_id, id FROM webhook_deliveries WHERE status = 'pending' AND endpoint_id = " +
                 std::to_string(ep) + " AND next_attempt_at <= NOW(3) ORDER BY next_attempt_at, id LIMIT " +
                 std::to_string(k) + " FOR UPDATE SKIP LOCKED)";
    }
    if (!heads.empty())
        parts = "SELECT endpoint_id, id FROM webhook_deliveries FORCE INDEX (PRIMARY) WHERE id IN (" + id_list(heads) +
                ") AND status = 'pending' AND next_attempt_at <= NOW(3) FOR UPDATE SKIP LOCKED";
    if (parts.empty()) return mine;
    std::map<uint64_t, unsigned> got;
    Rows taken = d.query(parts);
    const size_t ep_col = taken.col("endpoint_id"), id_col = taken.col("id");
    for (const auto& row : taken.rows) {
        ++got[to_u64(row[ep_col])];
        taken_from.insert(to_u64(row[ep_col]));
        mine.push_back(to_u64(row[id_col]));
    }
    // More of an endpoint may be due: claim again as soon as one of its slots (or its
    // scope's) frees.
    for (const auto& [ep, k] : want) {
        if (got[ep] < k) continue;
        const EpInfo& e = c.info[ep];
        if (e.inflight + k >= limits.breaker.cap(limits.per_endpoint, e.timeouts) || exact.scope_left(e.scope) == 0)
            result.waiting.emplace(ep, e.scope);
        else
            result.full = true;
    }
    return mine;
}

// 4. Write what serializes the caps: the rows of the endpoints taken from and of their
//    scopes (write_seq + 1, sql/015). The locks of step 2 serialize claims on one server,
//    but a Galera cluster replicates writes, not row locks: two claims that take from one
//    endpoint (or scope) on two nodes now write the same row, the second to commit fails
//    certification (1213), with_transaction runs it again and it counts the first one's
//    deliveries. On the claim's own node, a replicated write of these rows either committed
//    before step 2 (so it is counted), holds the row (skipped), or arrives while this claim
//    holds the row and aborts it (1213 again). No new lock waits: the rows are locked
//    already. Two single-table UPDATEs by primary key (see id_list): joined in one
//    multi-table UPDATE, MariaDB read the small endpoint table whole and waited for (and
//    deadlocked on) rows of other workers' endpoints that it was not updating. updated_at
//    is kept: the registration did not change.
void write_cap_rows(Db& d, const std::set<uint64_t>& taken_from, const Candidates& c) {
    d.exec("UPDATE webhook_endpoints FORCE INDEX (PRIMARY) SET write_seq = write_seq + 1, updated_at = updated_at "
           "WHERE id IN (" + id_list({taken_from.begin(), taken_from.end()}) + ")");
    std::set<ScopeKey> scopes;
    for (auto ep : taken_from) scopes.insert(c.info.at(ep).scope);
    Params params;
    std::string where = scope_match("", scopes, params);
    d.exec("UPDATE webhook_scopes FORCE INDEX (PRIMARY) SET write_seq = write_seq + 1 WHERE " + where, params);
}

// The data of the events in column `event_col` of rows, each loaded once: the deliveries of
// one event share it (a 1 MiB event claimed for 256 endpoints is 1 MiB here, not 256).
std::map<uint64_t, std::shared_ptr<const std::string>> load_event_data(Db& db, const Rows& rows, size_t event_col) {
    std::set<uint64_t> events;
    for (const auto& row : rows.rows) events.insert(to_u64(row[event_col]));
    std::map<uint64_t, std::shared_ptr<const std::string>> out;
    if (events.empty()) return out;
    Rows r = db.query("SELECT id, data FROM webhook_events WHERE id IN (" +
                      id_list(std::vector<uint64_t>(events.begin(), events.end())) + ")");
    const size_t id = r.col("id"), data = r.col("data");
    for (auto& row : r.rows) out[to_u64(row[id])] = std::make_shared<const std::string>(std::move(row[data]).value_or(""));
    return out;
}

// "AND <col> NOT IN (…) " for the endpoints a claim leaves out; on the window read it is
// index-only (endpoint_id is the last column of k_delivery_due).
std::string skip_sql(const std::set<uint64_t>& skip, const char* col) {
    return skip.empty() ? std::string()
                        : std::string("AND ") + col + " NOT IN (" + id_list({skip.begin(), skip.end()}) + ") ";
}

// The claim's transaction: find the endpoints with due work and room, lock them and their
// scopes, take their heads, lease them to `owner` and write the rows of the endpoints and
// scopes taken from. Returns the deliveries leased.
std::vector<uint64_t> lease_heads(Db& d, const std::string& owner, unsigned n, unsigned lease_seconds,
                                  const ClaimLimits& limits, const std::set<uint64_t>& skip, const Share& share,
                                  ClaimResult& result, std::set<ScopeKey>& missing_scopes) {
    Candidates c;
    read_window(d, n, limits, skip_sql(skip, "endpoint_id"), share, c);
    if (c.walked) walk_heads(d, skip_sql(skip, "ep.id") + share.scope_sql("ep"), c);
    std::vector<uint64_t> open = pick_open(c, n, limits, result);
    if (open.empty()) return {};
    std::set<ScopeKey> mine_scopes;
    std::set<uint64_t> mine_eps = lock_open(d, open, c, missing_scopes, mine_scopes);
    if (mine_eps.empty()) return {};
    std::set<uint64_t> taken_from;
    std::vector<uint64_t> mine = take_heads(d, open, mine_eps, mine_scopes, c, n, limits, result, taken_from);
    if (mine.size() >= n) result.full = true;
    // Due work beyond the window (of endpoints it did not show): claim again when a slot
    // frees. Only after taking something, so a loop of empty claims cannot spin.
    if (!c.walked && c.window_full && !mine.empty()) result.full = true;
    if (mine.empty()) return mine;
    d.exec(
        "UPDATE webhook_deliveries FORCE INDEX (PRIMARY) SET status = 'inflight', lease_owner = ?, "
        "lease_expires_at = NOW(3) + INTERVAL ? SECOND, attempts = attempts + 1 "
        "WHERE id IN (" + id_list(mine) + ")",
        {owner, lease_seconds});
    write_cap_rows(d, taken_from, c);
    return mine;
}

// Column positions of the claimed deliveries' read, looked up by name once per result.
struct ClaimedColumns {
    size_t id, notification_id, attempts, endpoint_id, public_id, url, username, password_enc, secret_enc,
        prev_secret_enc, ack_mode, event_code, event_date, data_type, reseller_id, portfolio_id, merchant_id,
        event_id, consecutive_timeouts, scope_kind, scope_id, test;
    explicit ClaimedColumns(const Rows& r)
        : id(r.col("id")), notification_id(r.col("notification_id")), attempts(r.col("attempts")),
          endpoint_id(r.col("endpoint_id")), public_id(r.col("public_id")), url(r.col("url")),
          username(r.col("username")), password_enc(r.col("password_enc")), secret_enc(r.col("secret_enc")),
          prev_secret_enc(r.col("prev_secret_enc")), ack_mode(r.col("ack_mode")), event_code(r.col("event_code")),
          event_date(r.col("event_date")), data_type(r.col("data_type")), reseller_id(r.col("reseller_id")),
          portfolio_id(r.col("portfolio_id")), merchant_id(r.col("merchant_id")), event_id(r.col("event_id")),
          consecutive_timeouts(r.col("consecutive_timeouts")), scope_kind(r.col("scope_kind")),
          scope_id(r.col("scope_id")), test(r.col("test")) {}
};

Claimed claimed_from_row(const Rows::Row& row, const ClaimedColumns& col,
                         const std::shared_ptr<const std::string>& event_data) {
    Claimed c;
    c.id = to_u64(row[col.id]);
    c.event_id = to_u64(row[col.event_id]);
    c.event.notification_id = row[col.notification_id].value_or("");
    c.attempt_no = unsigned(to_u64(row[col.attempts]));
    c.endpoint_id = to_u64(row[col.endpoint_id]);
    c.endpoint_public_id = row[col.public_id].value_or("");
    c.url = row[col.url].value_or("");
    c.username = row[col.username];
    c.password_enc = row[col.password_enc];
    c.secret_enc = row[col.secret_enc].value_or("");
    c.prev_secret_enc = row[col.prev_secret_enc];
    c.ack_mode = row[col.ack_mode].value_or("notification-id");
    c.event.event_code = row[col.event_code].value_or("");
    c.event.event_date = row[col.event_date].value_or("");
    c.event.data_type = row[col.data_type].value_or("");
    c.event.reseller_id = row[col.reseller_id].value_or("");
    c.event.portfolio_id = row[col.portfolio_id].value_or("");
    c.event.merchant_id = row[col.merchant_id];
    c.event.data = event_data;
    c.endpoint_timeouts = unsigned(to_u64(row[col.consecutive_timeouts]));
    c.scope = {row[col.scope_kind].value_or(""), row[col.scope_id].value_or("")};
    c.test = row[col.test].value_or("0") == "1";
    return c;
}

// Reads what sending needs of the deliveries leased (`ids`) into result.claimed; those whose
// lease or event is gone by now go into result.lost.
void load_claimed(Db& db, const std::string& owner, const std::vector<uint64_t>& ids, ClaimResult& result) {
    Rows r = db.query(
        "SELECT d.id, d.notification_id, d.attempts, d.endpoint_id, ep.public_id, ep.url, "
        " ep.username, ep.password_enc, ep.secret_enc, "
        " IF(ep.prev_secret_expires_at > NOW(3), ep.prev_secret_enc, NULL) AS prev_secret_enc, "
        " ep.ack_mode, e.event_code, e.event_date, t.data_type, e.reseller_id, e.portfolio_id, "
        " e.merchant_id, d.event_id, ep.consecutive_timeouts, ep.scope_kind, ep.scope_id, "
        " (e.test_endpoint_id IS NOT NULL) AS test "
        "FROM webhook_deliveries d "
        "JOIN webhook_events e ON e.id = d.event_id "
        "JOIN webhook_event_types t ON t.code = e.event_code "
        "JOIN webhook_endpoints ep ON ep.id = d.endpoint_id "
        "WHERE d.id IN (" + id_list(ids) + ") AND d.status = 'inflight' AND d.lease_owner = ? "
        "ORDER BY d.next_attempt_at, d.id",
        {owner});
    const ClaimedColumns col(r);
    std::map<uint64_t, std::shared_ptr<const std::string>> data = load_event_data(db, r, col.event_id);
    std::set<uint64_t> loaded;
    for (const auto& row : r.rows) {
        auto event_data = data.find(to_u64(row[col.event_id]));
        if (event_data == data.end()) continue;  // the event is gone: lost
        result.claimed.push_back(claimed_from_row(row, col, event_data->second));
        loaded.insert(result.claimed.back().id);
    }
    for (auto id : ids)
        if (!loaded.count(id)) result.lost.push_back(id);
}

}  // namespace

ClaimResult claim(Db& db, const std::string& owner, unsigned n, unsigned lease_seconds, const ClaimLimits& limits,
                  const std::set<uint64_t>& skip, const Share& share) {
    ClaimResult result;
    if (n == 0) return result;
    std::set<ScopeKey> missing_scopes;
    std::vector<uint64_t> ids = with_transaction(db, [&](Db& d) {
        result = ClaimResult();  // a retried transaction starts afresh
        missing_scopes.clear();
        return lease_heads(d, owner, n, lease_seconds, limits, skip, share, result, missing_scopes);
    });
    // Scopes without a lock row were passed over: give them one and claim again at once.
    if (!missing_scopes.empty()) {
        add_scope_rows(db, missing_scopes);
        result.full = true;
    }
    if (!ids.empty()) load_claimed(db, owner, ids, result);
    return result;
}

std::set<uint64_t> at_cap_here(const std::map<uint64_t, ScopeKey>& waiting, const std::vector<const Claimed*>& mine,
                               const ClaimLimits& limits) {
    std::map<uint64_t, unsigned> per_ep;
    std::map<ScopeKey, unsigned> per_scope;
    for (const Claimed* c : mine) {
        ++per_ep[c->endpoint_id];
        ++per_scope[c->scope];
    }
    std::set<uint64_t> out;
    for (const auto& [ep, scope] : waiting) {
        auto e = per_ep.find(ep);
        auto s = per_scope.find(scope);
        if ((e != per_ep.end() && e->second >= limits.per_endpoint) ||
            (s != per_scope.end() && s->second >= limits.per_scope))
            out.insert(ep);
    }
    return out;
}

namespace {

// One column of the batch UPDATE: each row's value as an SQL fragment and its parameter
// (if the fragment has a ?). The most common value goes in ELSE and only the rows that
// differ get a WHEN: MariaDB tries the WHENs of a CASE one by one for every row, so a CASE
// of every id cost O(rows²), while a batch of successes shares one value per column and
// needs no CASE.
struct CaseColumn {
    struct Value {
        std::string frag;
        std::optional<Param> param;
        std::string key() const {
            return frag + '\x01' + (!param ? "-" : param->is_null() ? "N" : "V" + param->text());
        }
    };
    std::vector<std::pair<uint64_t, Value>> rows;

    void add(uint64_t id, std::string frag, std::optional<Param> param = std::nullopt) {
        rows.push_back({id, Value{std::move(frag), std::move(param)}});
    }
    // "col = …" with its params appended, or "" when every row keeps `keep` (the column's
    // own name: left unchanged).
    std::string assign(const std::string& col, Params& params) const {
        std::map<std::string, size_t> count;
        const Value* mode = nullptr;
        size_t best = 0;
        for (const auto& r : rows) {
            size_t c = ++count[r.second.key()];
            if (c > best) best = c, mode = &r.second;
        }
        if (!mode) return "";
        const std::string mode_key = mode->key();
        std::string whens;
        for (const auto& r : rows) {
            if (r.second.key() == mode_key) continue;
            whens += " WHEN " + std::to_string(r.first) + " THEN " + r.second.frag;
            if (r.second.param) params.push_back(*r.second.param);
        }
        if (whens.empty() && mode->frag == col) return "";
        if (mode->param) params.push_back(*mode->param);
        if (whens.empty()) return col + " = " + mode->frag + ", ";
        return col + " = CASE id" + whens + " ELSE " + mode->frag + " END, ";
    }
};

// The breaker's counts of timeouts in a row, for the endpoints whose count changes: one
// UPDATE, a CASE per endpoint (a batch's endpoints are few). updated_at is kept: the count
// is the worker's, not a change of the endpoint's registration.
void breaker_sql(const std::vector<Finished>& batch, const std::vector<bool>& held, RecordSql& out) {
    std::map<uint64_t, std::pair<TimeoutCount, unsigned>> per_ep;  // endpoint -> (count, as claimed)
    for (size_t i = 0; i < batch.size(); ++i) {
        if (!held[i] || batch[i].o.test) continue;  // a test tells nothing about the endpoint's health
        const Outcome& o = batch[i].o;
        auto& [count, claimed] = per_ep[o.endpoint_id];
        claimed = std::max(claimed, o.endpoint_timeouts);
        count.attempt(timed_out(o), replied(o));
    }
    std::string whens, ids;
    for (const auto& [ep, v] : per_ep) {
        if (!v.first.changes(v.second)) continue;
        whens += " WHEN " + std::to_string(ep) + (v.first.reset ? " THEN ?" : " THEN consecutive_timeouts + ?");
        out.breaker_params.emplace_back(v.first.add);
        ids += std::string(ids.empty() ? "" : ",") + std::to_string(ep);
    }
    if (ids.empty()) return;
    out.breaker_sql = "UPDATE webhook_endpoints SET consecutive_timeouts = CASE id" + whens +
                      " END, updated_at = updated_at WHERE id IN (" + ids + ")";
}

}  // namespace

RecordSql record_sql(const std::string& owner, const std::vector<Finished>& batch, const std::vector<bool>& held,
                     std::chrono::steady_clock::time_point now) {
    RecordSql out;
    // One expression per column from the values before the UPDATE, so no assignment reads a
    // column another one has just changed.
    std::string ids;
    CaseColumn st, http, err, next_at, delivered_at;
    for (size_t i = 0; i < batch.size(); ++i) {
        if (!held[i]) continue;
        const Outcome& o = batch[i].o;
        const Plan& plan = batch[i].plan;
        const uint64_t id = o.delivery_id;
        if (!ids.empty()) ids += ',';
        ids += std::to_string(id);
        std::optional<long> code;
        if (o.http_status > 0) code = o.http_status;
        std::optional<std::string> cls, msg, excerpt, last_error;
        if (!o.error_class.empty()) cls = sanitize_text(o.error_class, 32);
        if (!o.error_message.empty()) msg = sanitize_text(o.error_message, 512);
        if (!o.excerpt.empty()) excerpt = o.excerpt.substr(0, 4096);
        const char* status = plan.status == Plan::delivered ? "delivered" : plan.status == Plan::failed ? "failed" : "pending";
        if (plan.status != Plan::delivered) last_error = sanitize_text(o.error_class + ": " + o.error_message, 512);
        st.add(id, "?", Param(status));
        http.add(id, "?", Param(code));
        err.add(id, "?", Param(last_error));
        if (plan.status == Plan::delivered) delivered_at.add(id, "NOW(3)");
        else delivered_at.add(id, "delivered_at");
        if (plan.status == Plan::pending) next_at.add(id, "NOW(3) + INTERVAL ? MICROSECOND", Param(plan.delay_ms * 1000));
        else next_at.add(id, "next_attempt_at");
        if (plan.disable_endpoint) out.disable_endpoints.push_back(o.endpoint_id);

        long long duration = std::max(0LL, std::min(o.duration_ms, 4000000000LL));
        // started_at from the database clock: now minus the time since the attempt started
        // (not just its duration: a result kept through a MariaDB outage is recorded late).
        long long ago_ms = duration;
        if (o.started != std::chrono::steady_clock::time_point{})
            ago_ms = std::max(0LL, (long long)std::chrono::duration_cast<std::chrono::milliseconds>(now - o.started).count());
        out.insert_sql += std::string(out.rows ? "," : "") + "(?, ?, ?, NOW(3) - INTERVAL ? MICROSECOND, ?, ?, ?, ?, ?, " +
                          (excerpt ? "_binary ?" : "?") + ", ?)";
        for (Param v : {Param(o.delivery_id), Param(o.endpoint_id), Param(o.attempt_no), Param(ago_ms * 1000), Param(duration),
                        Param(o.success ? "success" : "failure"), Param(code), Param(cls), Param(msg), Param(excerpt),
                        Param(owner)})
            out.insert_params.push_back(std::move(v));
        ++out.rows;
    }
    if (!out.rows) return out;
    out.insert_sql =
        "INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt_no, started_at, duration_ms, outcome, http_status, "
        "error_class, error_message, response_excerpt, worker_id) VALUES " + out.insert_sql;
    // One statement at a time: the params must follow the placeholders' order.
    out.update_sql = "UPDATE webhook_deliveries FORCE INDEX (PRIMARY) SET ";
    out.update_sql += st.assign("status", out.update_params);
    out.update_sql += http.assign("last_http_status", out.update_params);
    out.update_sql += err.assign("last_error", out.update_params);
    out.update_sql += delivered_at.assign("delivered_at", out.update_params);
    out.update_sql += next_at.assign("next_attempt_at", out.update_params);
    out.update_sql += "last_attempt_at = NOW(3), lease_owner = NULL, lease_expires_at = NULL "
                      "WHERE id IN (" + ids + ") AND lease_owner = ? AND status = 'inflight'";
    out.update_params.emplace_back(owner);
    breaker_sql(batch, held, out);
    return out;
}

std::vector<bool> complete_batch(Db& db, const std::string& owner, const std::vector<Finished>& batch) {
    if (batch.empty()) return {};
    std::vector<uint64_t> ids;
    for (const auto& f : batch) ids.push_back(f.o.delivery_id);
    return with_transaction(db, [&](Db& d) {
        // The fence first, for the whole batch: lock the rows still ours; a lost lease
        // writes nothing at all (no attempt row either).
        Rows r = d.query("SELECT id FROM webhook_deliveries FORCE INDEX (PRIMARY) WHERE id IN (" + id_list(ids) +
                             ") AND lease_owner = ? AND status = 'inflight' FOR UPDATE",
                         {owner});
        std::set<uint64_t> mine;
        for (const auto& row : r.rows) mine.insert(to_u64(row[0]));
        std::vector<bool> held(batch.size());
        for (size_t i = 0; i < batch.size(); ++i) held[i] = mine.erase(batch[i].o.delivery_id) > 0;  // once per id
        RecordSql sql = record_sql(owner, batch, held, std::chrono::steady_clock::now());
        if (!sql.rows) return held;
        if (d.exec(sql.update_sql, sql.update_params) != sql.rows)
            throw std::runtime_error("recording: the locked deliveries did not all update");
        d.exec(sql.insert_sql, sql.insert_params);
        if (!sql.breaker_sql.empty()) d.exec(sql.breaker_sql, sql.breaker_params);
        // 410 Gone: the disable and its system event commit with the attempt, or neither.
        for (uint64_t ep : sql.disable_endpoints) disable_gone(d, ep);
        return held;
    });
}

CompleteResult complete(Db& db, const std::string& owner, const Outcome& o, const Plan& plan) {
    return complete_batch(db, owner, {Finished{o, plan}})[0] ? CompleteResult::recorded : CompleteResult::lease_lost;
}

uint64_t release(Db& db, const std::string& owner, const std::vector<uint64_t>& ids) {
    if (ids.empty()) return 0;
    return db.exec(
        "UPDATE webhook_deliveries FORCE INDEX (PRIMARY) SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, "
        "attempts = IF(attempts > 0, attempts - 1, 0) "
        "WHERE id IN (" + id_list(ids) + ") AND lease_owner = ? AND status = 'inflight'",
        {owner});
}

}  // namespace wh::worker

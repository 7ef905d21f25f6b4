#include "retention.hpp"

#include <algorithm>

#include "store.hpp"  // id_list

namespace wh::worker {

WalkStep plan_walk_step(const std::vector<WalkRow>& page, uint64_t cursor, size_t page_size) {
    WalkStep s;
    s.next_cursor = cursor;
    for (const auto& r : page) {
        if (!r.old) {  // the first young row: everything after it is younger still
            s.done = true;
            return s;
        }
        if (r.purgeable) s.purge.push_back(r.id);
        s.next_cursor = std::max(s.next_cursor, r.id);
    }
    if (page.size() < page_size) s.done = true;  // the end of the table
    return s;
}

std::vector<std::vector<uint64_t>> chunks(const std::vector<uint64_t>& ids, size_t n) {
    std::vector<std::vector<uint64_t>> out;
    if (n == 0) n = 1;
    for (size_t i = 0; i < ids.size(); i += n)
        out.emplace_back(ids.begin() + long(i), ids.begin() + long(std::min(ids.size(), i + n)));
    return out;
}

namespace {

uint64_t to_u64(const std::optional<std::string>& s) { return s ? std::stoull(*s) : 0; }

// The cutoff is computed by MariaDB (its clock) once per pass, so every statement agrees.
std::string cutoff_of(Db& db, unsigned days) {
    Rows r = db.query("SELECT NOW(3) - INTERVAL ? DAY", {days});
    return r.empty() ? std::string() : r[0][0].value_or("");
}

// Walks `table` by id from the start; `purgeable_sql` is the boolean for a finished row.
// `purge` deletes one chunk (in its own transaction) and returns how many rows went.
template <typename Purge>
bool walk(Db& db, const std::string& table, const std::string& purgeable_sql, const std::string& cutoff,
          const RetentionLimits& lim, std::chrono::steady_clock::time_point deadline, Purge&& purge) {
    uint64_t cursor = 0;
    for (;;) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        Rows r = db.query("SELECT id, created_at < ? AS old, " + purgeable_sql + " AS purgeable FROM " + table +
                              " WHERE id > ? ORDER BY id LIMIT ?",
                          {cutoff, cursor, lim.page});
        std::vector<WalkRow> page;
        const size_t id = r.col("id"), old = r.col("old"), purgeable = r.col("purgeable");
        for (const auto& row : r.rows)
            page.push_back({to_u64(row[id]), row[old].value_or("0") == "1", row[purgeable].value_or("0") == "1"});
        WalkStep step = plan_walk_step(page, cursor, lim.page);
        for (const auto& c : chunks(step.purge, lim.chunk)) purge(c);
        if (step.done) return true;
        cursor = step.next_cursor;
    }
}

}  // namespace

RetentionResult run_retention_pass(Db& db, unsigned retention_days, const RetentionLimits& lim) {
    RetentionResult res;
    if (retention_days == 0) return res;
    auto deadline = std::chrono::steady_clock::now() + lim.budget;
    std::string cutoff = cutoff_of(db, retention_days);
    if (cutoff.empty()) return res;
    const std::string finished_delivery =
        "(status IN ('delivered','failed','cancelled') AND updated_at < '" + db.escape(cutoff) + "')";

    // 1. notifications and their attempts
    bool done = walk(db, "webhook_deliveries", finished_delivery, cutoff, lim, deadline,
                     [&](const std::vector<uint64_t>& ids) {
        with_transaction(db, [&](Db& d) {
            // Re-check under lock: a redeliver since the read makes the row young again.
            Rows locked = d.query("SELECT id FROM webhook_deliveries FORCE INDEX (PRIMARY) WHERE id IN (" + id_list(ids) +
                                  ") AND " + finished_delivery + " FOR UPDATE SKIP LOCKED");
            if (locked.empty()) return;
            std::vector<uint64_t> mine;
            for (const auto& row : locked.rows) mine.push_back(to_u64(row[0]));
            std::string in = id_list(mine);
            res.attempts += d.exec("DELETE FROM webhook_attempts WHERE delivery_id IN (" + in + ")");
            res.deliveries += d.exec("DELETE FROM webhook_deliveries WHERE id IN (" + in + ")");
        });
    });
    if (!done) {
        res.finished = false;
        return res;
    }

    // 2. events with no notification left (fanned out, old)
    const std::string finished_event =
        "(fanned_out_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d "
        "WHERE d.event_id = webhook_events.id))";
    done = walk(db, "webhook_events", finished_event, cutoff, lim, deadline,
                [&](const std::vector<uint64_t>& ids) {
        res.events += db.exec("DELETE FROM webhook_events WHERE id IN (" + id_list(ids) + ") AND created_at < ? AND " +
                              finished_event,
                              {cutoff});
    });
    res.finished = done;
    return res;
}

}  // namespace wh::worker

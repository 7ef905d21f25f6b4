#include "shares.hpp"

#include <algorithm>

#include "crypto.hpp"
#include "log.hpp"

namespace wh::worker {

namespace {

// X'…': any bytes of an id, quoted without escaping.
std::string hex_literal(const std::string& bytes) {
    return "X'" + to_hex(bytes) + "'";
}

// MariaDB's CRC32 of the bytes of "<worker>|kind:id" (binary: the columns' collations
// differ, and bytes hash the same everywhere) is highest for this worker: workers that
// agree on who is alive take every scope exactly once.
std::string share_condition(const std::string& key_sql, const Share& s) {
    if (s.others.empty()) return "";
    const std::string mine = "CRC32(CONCAT(" + hex_literal(s.me + "|") + ", " + key_sql + "))";
    std::string out;
    for (const auto& o : s.others)
        out += " AND " + mine + (s.me > o ? " >= " : " > ") + "CRC32(CONCAT(" + hex_literal(o + "|") + ", " +
               key_sql + "))";
    return out + " ";
}

}  // namespace

unsigned Share::index() const {
    return unsigned(std::count_if(others.begin(), others.end(), [&](const std::string& o) { return o < me; }));
}

std::string Share::scope_sql(const char* endpoint) const {
    const std::string e(endpoint);
    return share_condition("CAST(" + e + ".scope_kind AS BINARY), ':', CAST(" + e + ".scope_id AS BINARY)", *this);
}

std::string Share::reseller_sql(const char* event) const {
    return share_condition(std::string("'reseller:', CAST(") + event + ".reseller_id AS BINARY)", *this);
}

Share share_of(std::vector<std::string> alive, const std::string& me) {
    std::sort(alive.begin(), alive.end());
    alive.erase(std::unique(alive.begin(), alive.end()), alive.end());
    auto it = std::find(alive.begin(), alive.end(), me);
    if (it == alive.end()) return Share{me, {}};
    alive.erase(it);
    return Share{me, std::move(alive)};
}

Membership::Membership(std::string worker_id, ShareMode mode, std::chrono::milliseconds renew)
    : id_(std::move(worker_id)), mode_(mode), renew_(renew) {}

bool Membership::wanted(Db& db) {
    if (mode_ == ShareMode::automatic) return db.galera();
    return mode_ == ShareMode::on;
}

void Membership::tick(Db& db, Clock::time_point now) {
    if (now < next_) return;
    next_ = now + renew_;
    if (!wanted(db)) {
        share_ = Share{};
        return;
    }
    const long long life_us = 4LL * renew_.count() * 1000;
    // A row that was missing or had expired is a (re)join: the others may not count this
    // worker yet, so it waits until they have renewed once more and see it.
    if (!db.exec_prepared("UPDATE webhook_workers SET renewed_at = NOW(3), expires_at = NOW(3) + INTERVAL ? "
                          "MICROSECOND WHERE worker_id = ? AND expires_at > NOW(3)",
                          {life_us, id_})) {
        db.exec_prepared(
            "INSERT INTO webhook_workers (worker_id, expires_at) VALUES (?, NOW(3) + INTERVAL ? MICROSECOND) "
            "ON DUPLICATE KEY UPDATE started_at = NOW(3), renewed_at = NOW(3), expires_at = VALUES(expires_at)",
            {id_, life_us});
        joined_at_ = now;
    }
    joined_ = true;
    Rows r = db.query_prepared("SELECT worker_id FROM webhook_workers WHERE expires_at > NOW(3)");
    std::vector<std::string> alive;
    for (const auto& row : r.rows) alive.push_back(row[0].value_or(""));
    Share s = share_of(std::move(alive), id_);
    if (s != share_)
        log_info("work shared among " + std::to_string(s.count()) + " worker(s) alive: this one takes share " +
                 std::to_string(s.index() + 1) + " of " + std::to_string(s.count()));
    share_ = s;
    if (now >= next_purge_) {
        next_purge_ = now + std::chrono::hours(1);
        db.exec_prepared("DELETE FROM webhook_workers WHERE expires_at < NOW(3) - INTERVAL 1 DAY");
    }
}

bool Membership::settled(Clock::time_point now) const {
    return !joined_ || now >= joined_at_ + 2 * renew_;
}

void Membership::leave(Db& db) noexcept {
    if (!joined_) return;
    try {
        db.exec_prepared("DELETE FROM webhook_workers WHERE worker_id = ?", {id_});
        joined_ = false;
    } catch (const std::exception& e) {
        log_warn(std::string("WH00185: could not delete this worker's row from webhook_workers (") + e.what() +
                 "); the other workers take its share when the row expires, within 4 renewals");
    }
}

}  // namespace wh::worker

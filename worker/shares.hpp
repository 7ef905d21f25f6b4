// Work shared out among the workers (sql/016_worker_shares.sql). On a Galera cluster a row
// lock does not cross nodes: two workers claiming the same endpoint's or scope's work on two
// nodes write the same rows, and one of the two transactions fails certification and runs
// again. With sharing, each worker renews a row in webhook_workers and takes, of the workers
// alive, the scopes whose hash falls in its share (the event fan-out likewise, by the
// event's reseller): workers on different nodes then write different rows.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "db.hpp"

namespace wh::worker {

// One worker's part of the work: scopes (and resellers' events) whose
// CRC32("kind:id") % count == index. count 1: everything.
struct Share {
    unsigned index = 0;
    unsigned count = 1;
    bool operator==(const Share& o) const { return index == o.index && count == o.count; }
    bool operator!=(const Share& o) const { return !(*this == o); }
    // " AND <the condition>" on the scope columns of `endpoint` (an alias, e.g. "ep"); "" for all.
    std::string scope_sql(const char* endpoint) const;
    // " AND <the condition>" on the reseller of webhook_events row `event`; "" for all.
    std::string reseller_sql(const char* event) const;
};

// The share of `me` among the workers `alive` (any order): its place in their byte order.
// A worker missing from the list (its row not visible yet) takes everything: it may conflict,
// it never leaves work undone.
Share share_of(std::vector<std::string> alive, const std::string& me);

// share_work: on, off, or on when the database is a Galera node.
enum class ShareMode { automatic, on, off };

// Renews this worker's row and reads the workers alive, at most once per `renew` (the row
// lives 4 renewals: a worker whose loop stalls that long loses its share to the others).
class Membership {
public:
    using Clock = std::chrono::steady_clock;
    Membership(std::string worker_id, ShareMode mode, std::chrono::milliseconds renew);
    // Renews the row and recomputes share() when due. Throws DbError; share() then stays
    // what it was.
    void tick(Db& db, Clock::time_point now);
    const Share& share() const { return share_; }
    bool joined() const { return joined_; }  // its row exists (sharing is on)
    // False for two renewals after this worker's row was (re)created: until every other
    // worker has renewed and counts it, its share may still be theirs too, and working it
    // would write the rows they write. Always true when sharing is off.
    bool settled(Clock::time_point now) const;
    // Deletes this worker's row so the others take its share at once. Never throws.
    void leave(Db& db) noexcept;

private:
    bool wanted(Db& db);
    std::string id_;
    ShareMode mode_;
    std::chrono::milliseconds renew_;
    Clock::time_point next_{};
    Clock::time_point next_purge_{};
    Clock::time_point joined_at_{};
    bool joined_ = false;
    Share share_;
};

}  // namespace wh::worker

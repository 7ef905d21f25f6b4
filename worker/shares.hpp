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

// One worker's part of the work, by rendezvous hashing: a scope (and a reseller's events)
// belongs to the worker alive whose CRC32("<worker id>|kind:id") is the highest (a tie goes to
// the greater id). When a worker joins or leaves, only the scopes it takes or gives move;
// every other scope stays with its worker (with "CRC32 % n", every scope could move).
struct Share {
    std::string me;                   // this worker's id
    std::vector<std::string> others;  // the other workers alive, in byte order; none: everything
    bool operator==(const Share& o) const { return me == o.me && others == o.others; }
    bool operator!=(const Share& o) const { return !(*this == o); }
    unsigned count() const { return unsigned(others.size()) + 1; }
    // This worker's place among the workers alive, in byte order (from 0), for the log.
    unsigned index() const;
    // " AND <the condition>" on the scope columns of `endpoint` (an alias, e.g. "ep"); "" for all.
    std::string scope_sql(const char* endpoint) const;
    // " AND <the condition>" on the reseller of webhook_events row `event`; "" for all.
    std::string reseller_sql(const char* event) const;
};

// The share of `me` among the workers `alive` (any order). A worker missing from the list
// (its row not visible yet) takes everything: it may conflict, it never leaves work undone.
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

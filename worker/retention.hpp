// Retention: delivered and failed notifications, their attempts, and events left with no
// notification are purged once older than `retention_days`.
//
// Never a long lock: the tables are walked by primary key in pages of `page` rows with plain
// (non-locking) reads, oldest first; each chunk of at most `chunk` notifications is removed
// in its own short transaction that re-checks and locks its rows with FOR UPDATE SKIP LOCKED
// (a row another worker or a redeliver request holds is simply left for the next pass), then
// deletes its attempts and itself. Any number of workers may run passes at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "db.hpp"

namespace wh::worker {

// ---- pure parts (unit-tested) ---------------------------------------------------------

// One row of a page of the walk, as read (non-locking).
struct WalkRow {
    uint64_t id = 0;
    bool old = false;        // created before the cutoff
    bool purgeable = false;  // old and finished (delivered/failed, unchanged since the cutoff)
};

struct WalkStep {
    std::vector<uint64_t> purge;  // ids to delete (re-checked under lock)
    uint64_t next_cursor = 0;     // continue after this id
    bool done = false;            // nothing older follows: the walk stops here
};

// Decides what one page of the walk purges and whether the walk goes on. Ids grow with time,
// so the first row created after the cutoff ends the walk; a short page is the table's end.
WalkStep plan_walk_step(const std::vector<WalkRow>& page, uint64_t cursor, size_t page_size);

// Splits ids into chunks of at most n (the ids of one short transaction).
std::vector<std::vector<uint64_t>> chunks(const std::vector<uint64_t>& ids, size_t n);

// When passes run: at most once per interval; never when retention_days is 0.
class RetentionClock {
public:
    using Clock = std::chrono::steady_clock;
    RetentionClock(unsigned retention_days, std::chrono::milliseconds interval, Clock::time_point start)
        : enabled_(retention_days > 0), interval_(interval), next_(start) {}
    bool due(Clock::time_point now) const { return enabled_ && now >= next_; }
    void ran(Clock::time_point now) { next_ = now + interval_; }
    Clock::time_point next() const { return next_; }

private:
    bool enabled_;
    std::chrono::milliseconds interval_;
    Clock::time_point next_;
};

// ---- database side --------------------------------------------------------------------

struct RetentionLimits {
    size_t page = 500;    // rows read per page of the walk
    size_t chunk = 100;   // notifications deleted per transaction (their attempts with them)
    // A pass stops after this much work (the delivery loop is single-threaded); the next one
    // goes on where the walk finds rows again.
    std::chrono::milliseconds budget{500};
};

struct RetentionResult {
    uint64_t deliveries = 0, attempts = 0, events = 0;
    bool finished = true;  // false: the time budget ran out before the walk's end
};

// One pass. Throws DbError (the caller's db_step reports it and backs off).
RetentionResult run_retention_pass(Db& db, unsigned retention_days, const RetentionLimits& lim = {});

}  // namespace wh::worker

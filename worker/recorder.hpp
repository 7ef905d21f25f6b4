// The recorder: a thread with its own MariaDB connection that writes finished attempts
// (store.hpp complete_batch), so the delivery loop goes on sending and claiming while a
// batch commits, instead of claiming, sending and recording one after the other.
//
// The loop hands over each turn's results (submit) and takes back what became of them
// (take_settled), on its own thread, where the follow-ups (counters, auto-disable, logs)
// run. A result is never lost here: while MariaDB is unreachable the batch stays queued, in
// order, and is retried with backoff (250 ms doubling up to 5 s).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "db.hpp"
#include "store.hpp"

namespace wh::worker {

// Most attempts recorded in one transaction (bounds the statements: 4 KiB excerpts each).
constexpr size_t kRecordBatch = 256;

// Whether MariaDB is reachable, as seen by the loop's and the recorder's connections
// together: one WH00110 line when it goes away, one line when it is back.
class DbHealth {
public:
    void down(const std::string& why);
    void up();
    bool is_down() const;

private:
    mutable std::mutex m_;
    bool down_ = false;
};

class Recorder {
public:
    enum class Fate { recorded, lease_lost, given_up };
    struct Settled {
        Finished f;
        Fate fate;
    };

    // wake: called from the recorder's thread after something settled (it must be
    // thread-safe: the loop passes curl_multi_wakeup).
    Recorder(const DbConfig& db, std::string owner, DbHealth& health, std::function<void()> wake);
    ~Recorder();  // stops without a last attempt; stop() first to record what is left
    Recorder(const Recorder&) = delete;
    Recorder& operator=(const Recorder&) = delete;

    void start();
    void submit(std::vector<Finished> batch);
    std::vector<Settled> take_settled();
    // Results handed over and not settled yet (queued or being written).
    size_t backlog() const;
    // The thread ended on an exception (WH00131): nothing more will be recorded.
    bool failed() const { return failed_.load(); }
    // Records what is queued (one more try if MariaDB is unreachable), then joins the
    // thread; returns how many results could not be recorded. take_settled() afterwards.
    size_t stop();

private:
    void run();
    // Writes a batch (connecting first); returns how many of it, from the front, settled:
    // the rest were not written because MariaDB is unreachable.
    size_t write(std::vector<Finished>& batch, std::vector<Fate>& fates);
    size_t record(std::vector<Finished>& batch, std::vector<Fate>& fates, std::string& why);

    Db db_;
    const std::string owner_;
    DbHealth& health_;
    std::function<void()> wake_;

    mutable std::mutex m_;
    std::condition_variable cv_;
    std::deque<Finished> queue_;
    size_t writing_ = 0;
    std::vector<Settled> settled_;
    bool stopping_ = false, abandon_ = false;
    std::atomic<bool> failed_{false};
    std::chrono::steady_clock::time_point retry_at_{};
    std::chrono::milliseconds backoff_{0};
    std::thread thread_;
};

}  // namespace wh::worker

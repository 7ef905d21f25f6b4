#include "recorder.hpp"

#include <algorithm>
#include <iterator>

#include "worker_log.hpp"

namespace wh::worker {

using Clock = std::chrono::steady_clock;

void DbHealth::down(const std::string& why) {
    {
        std::lock_guard<std::mutex> lk(m_);
        if (down_) return;
        down_ = true;
    }
    log_error("WH00110: cannot use MariaDB (" + why +
              "); no new deliveries are claimed and finished attempts are kept in memory until it "
              "is back. Retrying with backoff (up to 5 s), each time from the first host of the "
              "'database' setting: check that the server (on Galera, the cluster) is running and "
              "that the 'database' setting is right");
}

void DbHealth::up() {
    {
        std::lock_guard<std::mutex> lk(m_);
        if (!down_) return;
        down_ = false;
    }
    log_info("MariaDB is reachable again; delivery resumes");
}

bool DbHealth::is_down() const {
    std::lock_guard<std::mutex> lk(m_);
    return down_;
}

Recorder::Recorder(const DbConfig& db, std::string owner, DbHealth& health, std::function<void()> wake)
    : db_(db), owner_(std::move(owner)), health_(health), wake_(std::move(wake)) {}

Recorder::~Recorder() {
    if (!thread_.joinable()) return;
    {
        std::lock_guard<std::mutex> lk(m_);
        stopping_ = abandon_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void Recorder::start() {
    // Nothing may escape a std::thread (std::terminate): the loop sees failed() and exits.
    thread_ = std::thread([this] {
        std::string what;
        try {
            run();
            return;
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
            what = "unknown exception";
        }
        failed_ = true;
        try {
            log_error("WH00131: the recorder thread stopped (" + what +
                          "); finished attempts can no longer be recorded, so the worker exits. "
                          "Restart it: the deliveries it held are sent again once their leases expire");
        } catch (...) {
        }
        wake_();
    });
}

void Recorder::submit(std::vector<Finished> batch) {
    if (batch.empty()) return;
    {
        std::lock_guard<std::mutex> lk(m_);
        std::move(batch.begin(), batch.end(), std::back_inserter(queue_));
    }
    cv_.notify_one();
}

std::vector<Recorder::Settled> Recorder::take_settled() {
    std::lock_guard<std::mutex> lk(m_);
    std::vector<Settled> out;
    out.swap(settled_);
    return out;
}

size_t Recorder::backlog() const {
    std::lock_guard<std::mutex> lk(m_);
    return queue_.size() + writing_;
}

size_t Recorder::stop() {
    if (!thread_.joinable()) return 0;
    {
        std::lock_guard<std::mutex> lk(m_);
        stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
    std::lock_guard<std::mutex> lk(m_);
    return queue_.size();
}

void Recorder::run() {
    DbThread db_thread;  // Connector/C's per-thread state
    std::unique_lock<std::mutex> lk(m_);
    for (;;) {
        if (abandon_) return;
        if (queue_.empty()) {
            if (stopping_) return;
            cv_.wait(lk);
            continue;
        }
        // While MariaDB is away, wait out the backoff; a stopping worker tries once more now.
        if (!stopping_ && Clock::now() < retry_at_) {
            cv_.wait_until(lk, retry_at_);
            continue;
        }
        size_t n = std::min(queue_.size(), kRecordBatch);
        std::vector<Finished> batch(std::make_move_iterator(queue_.begin()),
                                    std::make_move_iterator(queue_.begin() + long(n)));
        queue_.erase(queue_.begin(), queue_.begin() + long(n));
        writing_ = n;
        lk.unlock();
        std::vector<Fate> fates;
        size_t done = write(batch, fates);
        lk.lock();
        writing_ = 0;
        for (size_t i = n; i > done; --i) queue_.push_front(std::move(batch[i - 1]));  // in order
        for (size_t i = 0; i < done; ++i) settled_.push_back(Settled{std::move(batch[i]), fates[i]});
        if (done < n) {
            backoff_ = backoff_.count() ? std::min(backoff_ * 2, std::chrono::milliseconds(5000))
                                        : std::chrono::milliseconds(250);
            retry_at_ = Clock::now() + backoff_;
            if (stopping_) return;  // the last try failed: stop() reports what is left
        } else {
            backoff_ = std::chrono::milliseconds(0);
        }
        if (done) {
            lk.unlock();
            wake_();
            lk.lock();
        }
    }
}

size_t Recorder::write(std::vector<Finished>& batch, std::vector<Fate>& fates) {
    fates.assign(batch.size(), Fate::given_up);
    std::string why;
    for (int round = 0; round < 2; ++round) {
        bool reused = db_.connected();
        try {
            if (!reused) db_.connect();
        } catch (const DbError& e) {
            health_.down(e.explain());
            return 0;
        }
        size_t done = record(batch, fates, why);
        if (done == batch.size()) {
            health_.up();
            return done;
        }
        // A connection that sat idle may have been cut (a server restart) since its last
        // use: one try on a fresh one before calling it an outage. Nothing was written: a
        // batch is one transaction, and the item-by-item path stops at its first failure.
        if (done > 0 || !reused) {
            health_.down(why);
            return done;
        }
        db_.close();
    }
    health_.down(why);
    return 0;
}

size_t Recorder::record(std::vector<Finished>& batch, std::vector<Fate>& fates, std::string& why) {
    try {
        std::vector<bool> ok = complete_batch(db_, owner_, batch);
        for (size_t i = 0; i < batch.size(); ++i) fates[i] = ok[i] ? Fate::recorded : Fate::lease_lost;
        return batch.size();
    } catch (const DbError& e) {
        if (e.unavailable()) {
            db_.close();
            why = e.explain();
            return 0;
        }
    } catch (const std::exception&) {
    }
    // The server refused the batch (not a connection problem): record each alone, so one
    // row it refuses cannot hold back the others; a refused one is retried once with the
    // least possible data (no reply excerpt, a short message), then given up on.
    for (size_t i = 0; i < batch.size(); ++i) {
        Finished& f = batch[i];
        for (int round = 0; round < 2; ++round) {
            try {
                fates[i] = complete(db_, owner_, f.o, f.plan) == CompleteResult::recorded ? Fate::recorded
                                                                                          : Fate::lease_lost;
                break;
            } catch (const DbError& e) {
                if (e.unavailable()) {
                    db_.close();
                    why = e.explain();
                    return i;
                }
                if (round == 0) {
                    f.o.excerpt.clear();
                    f.o.error_message = sanitize_text(f.o.error_message, 200);
                    continue;
                }
                log_error("WH00116: could not record attempt " + std::to_string(f.o.attempt_no) +
                          " of " + f.o.notification_id + ": " + e.explain() +
                          "; the lease expires and the delivery is retried. " +
                          (e.retryable() ? "Frequent conflicts: give the module and every worker the same "
                                           "host list (one node takes the writes)"
                                         : "Check the schema ('webhook-worker migrate') and the MariaDB error log"));
            } catch (const std::exception& e) {
                log_error("WH00117: could not record attempt of " + f.o.notification_id + ": " +
                              e.what() + "; the lease expires and the delivery is retried");
                break;
            }
        }
    }
    return batch.size();
}

}  // namespace wh::worker

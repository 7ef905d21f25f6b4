// The delivery loop: one thread, libcurl multi + short MariaDB transactions.
// fan-out → reap → claim → send (curl_multi_poll, woken by a signalfd) → judge → hand the
// results to the recorder thread (recorder.hpp), which writes them on its own connection.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "crypto.hpp"
#include "db.hpp"
#include "operations.hpp"
#include "options.hpp"
#include "recorder.hpp"
#include "shares.hpp"
#include "store.hpp"
#include "wakeup.hpp"

namespace wh::worker {

// Largest reply kept for judging; the attempt row stores the first 4096 bytes of it.
constexpr size_t kMaxReplyBytes = 64 * 1024;
constexpr size_t kExcerptBytes = 4096;
// How often a worker that shares work renews its row in webhook_workers (it lives 4 of these).
constexpr std::chrono::milliseconds kShareRenewal(1000);

class DeliveryLoop {
public:
    using Clock = std::chrono::steady_clock;

    // signal_fd: a signalfd for SIGTERM/SIGINT (already blocked), or -1 for none.
    DeliveryLoop(const Options& opt, const SecretBox::Key& key, int signal_fd);
    ~DeliveryLoop();
    DeliveryLoop(const DeliveryLoop&) = delete;
    DeliveryLoop& operator=(const DeliveryLoop&) = delete;

    // Runs until a signal; returns the process exit code. Throws only on set-up failure.
    int run();

    // One in-flight attempt; libcurl's callbacks see it through CURLOPT_PRIVATE and the
    // read/seek/write/open-socket data pointers.
    struct Job {
        Claimed c;
        Payload body;     // read by libcurl through read_cb: the event's data is not copied
        size_t sent = 0;  // body bytes handed to libcurl so far (seek_cb rewinds it)
        curl_slist* headers = nullptr;
        std::string reply;
        bool blocked = false;
        bool truncated = false;  // the reply went past kMaxReplyBytes; reading stopped there
        std::string blocked_address;
        std::vector<std::string> sent_credentials;  // credential_forms: redacted from the excerpt
        const AddressPolicy* policy = nullptr;
        Clock::time_point started;
        CURL* easy = nullptr;
        char errbuf[CURL_ERROR_SIZE] = {0};
    };

private:
    // run()'s steps.
    enum class TurnEnd { go_on, drained, failed, leave_now };
    void log_started() const;
    TurnEnd turn();
    bool drain_over(Clock::time_point now);
    bool wait_for_events(Clock::time_point now);
    int stop_recorder();

    void db_cycle();
    bool db_step(const char* tag, const char* what, const std::function<void()>& fn);
    void db_down(const DbError& e);
    void db_up();

    // start(): a claimed delivery becomes a transfer, or is finished at once (finish_now).
    void start(Claimed c);
    std::unique_ptr<Job> new_job(Claimed c);
    bool build_body(Job& job);
    bool check_url(const Claimed& cl);
    bool request_headers(Job& job, std::vector<std::string>& hdrs);
    bool attach_headers(Job& job, std::vector<std::string>& hdrs);
    void set_transfer_options(CURL* h, Job& job);
    void drop_transfer(Job& job, CURL* h, const char* why);
    bool open_sealed(const Claimed& cl, const std::string& sealed, const char* column, std::string& out) const;
    bool open_credentials(const Claimed& cl, std::vector<std::string>& secrets, std::optional<std::string>& password);
    void finish_now(const Claimed& c, const std::string& cls, const std::string& msg);
    void collect_done();
    void hand_over();
    size_t busy_slots() const;
    unsigned free_slot_count() const;
    unsigned claim_floor() const;
    void apply_settled();
    void after_record(const Recorder::Settled& s);
    void handle_signals();
    void abandon_inflight();
    CURL* take_handle();
    void return_handle(CURL* h);

    const Options& opt_;
    const ClaimLimits limits_;  // the caps and the breaker, from opt_
    SecretBox box_;
    int signal_fd_;
    Db db_;
    DbHealth health_;
    CURLM* multi_ = nullptr;
    std::map<CURL*, std::unique_ptr<Job>> jobs_;
    SharedEventData event_data_;  // the data of the events in flight, one copy each
    std::vector<CURL*> idle_handles_;
    // This loop turn's results, handed to the recorder together (one transaction for the lot).
    std::vector<Outcome> finished_;
    std::unique_ptr<Recorder> recorder_;  // after multi_: its wake-up calls curl_multi_wakeup
    Operations ops_{opt_.ops};  // lifecycle, retention (operations.hpp)
    Membership membership_{opt_.worker_id, opt_.share_work, kShareRenewal};  // share_work (shares.hpp)

    bool db_is_down_ = false;
    std::chrono::milliseconds db_backoff_{0};
    Clock::time_point next_db_at_{};
    Clock::time_point next_reap_at_{};
    bool backlog_ = false;             // the last claim ran out of slots: more is due
    std::map<uint64_t, ScopeKey> cap_waiting_;  // endpoints with due work held back by a cap

    // Wake-up datagrams (wakeup_listen): a datagram makes the next DB
    // cycle due at once, at most one cycle per kWakeupCycleGap; the poll stays the safety net.
    void handle_wakeup();
    WakeupListener wakeup_;
    Clock::time_point last_cycle_{};
    unsigned long long n_wakeups_ = 0;
    bool woken_ = false;  // a datagram came since the last DB cycle: its reads sync (Db::sync_reads)

    bool stopping_ = false;
    bool leave_now_ = false;
    Clock::time_point drain_deadline_{};

    unsigned long long n_delivered_ = 0, n_failed_attempts_ = 0;
};

}  // namespace wh::worker

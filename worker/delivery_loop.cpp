#include "delivery_loop.hpp"

#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <utility>

#include "payload.hpp"
#include "redact.hpp"
#include "target.hpp"
#include "worker_log.hpp"

#ifndef WEBHOOK_VERSION
#define WEBHOOK_VERSION "0.0.0"
#endif

namespace wh::worker {

namespace {

using Job = DeliveryLoop::Job;

// libcurl callbacks: nothing may throw out of them.
size_t write_cb(char* ptr, size_t size, size_t nmemb, void* userdata) noexcept {
    size_t n = size * nmemb;
    try {
        auto* job = static_cast<Job*>(userdata);
        size_t room = kMaxReplyBytes - std::min(kMaxReplyBytes, job->reply.size());
        job->reply.append(ptr, std::min(n, room));
        if (n > room) {
            // Reading stops at the cap (a receiver streaming without end must not hold the
            // slot until the timeout): the transfer ends with CURLE_WRITE_ERROR and is judged
            // on its status and the 64 KiB kept.
            job->truncated = true;
            return 0;
        }
    } catch (...) {
        return 0;
    }
    return n;
}

// The body, piece by piece from its parts (prefix, the event's shared data, "}"), so no
// notification holds a copy of the data.
size_t read_cb(char* buffer, size_t size, size_t nitems, void* userdata) noexcept {
    auto* job = static_cast<Job*>(userdata);
    size_t n = job->body.copy(job->sent, buffer, size * nitems);
    job->sent += n;
    return n;
}

// libcurl rewinds the body to send it again (a reused connection the receiver had closed).
int seek_cb(void* userdata, curl_off_t offset, int origin) noexcept {
    auto* job = static_cast<Job*>(userdata);
    if (origin != SEEK_SET || offset < 0 || curl_off_t(job->body.size()) < offset) return CURL_SEEKFUNC_FAIL;
    job->sent = size_t(offset);
    return CURL_SEEKFUNC_OK;
}

// Every address libcurl is about to dial is checked against the policy here, after its own
// DNS resolution: a name that re-resolves to a private address (DNS rebinding) is refused.
curl_socket_t open_socket_cb(void* clientp, curlsocktype purpose, curl_sockaddr* addr) noexcept {
    try {
        auto* job = static_cast<Job*>(clientp);
        if (purpose != CURLSOCKTYPE_IPCXN || (addr->family != AF_INET && addr->family != AF_INET6))
            return CURL_SOCKET_BAD;
        IpAddr ip = ip_from_sockaddr(&addr->addr);
        if (!job->policy->permits(ip)) {
            job->blocked = true;
            job->blocked_address = ip.str();
            return CURL_SOCKET_BAD;
        }
        return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    } catch (...) {
        return CURL_SOCKET_BAD;
    }
}

long long ms_between(DeliveryLoop::Clock::time_point a, DeliveryLoop::Clock::time_point b) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

ClaimLimits claim_limits(const Options& o) {
    ClaimLimits l;
    l.per_endpoint = o.per_endpoint_concurrency;
    l.per_scope = o.max_in_flight_per_scope;
    l.breaker.after = o.breaker_after_timeouts;
    l.breaker.timeout_ms = o.breaker_request_timeout_ms;
    return l;
}

}  // namespace

DeliveryLoop::DeliveryLoop(const Options& opt, const SecretBox::Key& key, int signal_fd)
    : opt_(opt), limits_(claim_limits(opt)), box_(key), signal_fd_(signal_fd), db_(opt.db) {
    multi_ = curl_multi_init();
    if (!multi_) throw std::runtime_error("curl_multi_init failed");
    curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, long(opt_.concurrency));
    // Fairness between endpoints is the per-endpoint cap's job (several endpoints may share a
    // host); the per-host limit only stops one host from taking more than every slot.
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, long(opt_.concurrency));
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, long(opt_.concurrency));
    recorder_ = std::make_unique<Recorder>(opt_.db, opt_.worker_id, health_, [m = multi_] { curl_multi_wakeup(m); });
    if (!opt_.wakeup_listen.empty()) {
        std::string err = wakeup_.open(opt_.wakeup_listen);
        if (!err.empty())
            log_warn("WH00160: wakeup_listen " + opt_.wakeup_listen + ": " + err +
                         "; running without wake-ups: new events wait for the next poll "
                         "(poll_interval_ms). Free the port or change wakeup_listen and "
                         "WebhookNotifyWorker together");
    }
}

DeliveryLoop::~DeliveryLoop() {
    recorder_.reset();  // its thread wakes multi_: gone before multi_ is
    for (auto& kv : jobs_) {
        curl_multi_remove_handle(multi_, kv.first);
        curl_slist_free_all(kv.second->headers);
        curl_easy_cleanup(kv.first);
    }
    jobs_.clear();
    for (CURL* h : idle_handles_) curl_easy_cleanup(h);
    if (multi_) curl_multi_cleanup(multi_);
}

CURL* DeliveryLoop::take_handle() {
    if (!idle_handles_.empty()) {
        CURL* h = idle_handles_.back();
        idle_handles_.pop_back();
        curl_easy_reset(h);
        return h;
    }
    return curl_easy_init();
}

void DeliveryLoop::return_handle(CURL* h) {
    if (idle_handles_.size() < opt_.concurrency) idle_handles_.push_back(h);
    else curl_easy_cleanup(h);
}

// ---- database side --------------------------------------------------------------------

void DeliveryLoop::db_down(const DbError& e) {
    db_.close();
    health_.down(e.explain());
    if (!db_is_down_) {
        db_is_down_ = true;
        db_backoff_ = std::chrono::milliseconds(250);
    } else {
        db_backoff_ = std::min(db_backoff_ * 2, std::chrono::milliseconds(5000));
    }
    next_db_at_ = Clock::now() + db_backoff_;
}

void DeliveryLoop::db_up() {
    db_is_down_ = false;
    health_.up();
}

bool DeliveryLoop::db_step(const char* tag, const char* what, const std::function<void()>& fn) {
    try {
        fn();
        return true;
    } catch (const DbError& e) {
        if (e.unavailable()) {
            db_down(e);
            return false;
        }
        if (!log_throttle(tag, 60)) return true;
        if (e.retryable())  // past with_transaction's retries: another cycle will do
            log_warn(std::string(tag) + ": " + what + " failed: " + e.explain() +
                     "; it runs again next cycle. If this is frequent, give the module and every "
                     "worker the same host list (one node takes the writes) and look for long transactions");
        else
            log_error(std::string(tag) + ": " + what + " failed: " + e.what() + " (MariaDB error " +
                      std::to_string(e.code()) + "). Check that 'webhook-worker migrate' has been run and the "
                      "database user has the needed grants; retrying");
        return true;
    } catch (const std::exception& e) {
        if (log_throttle(tag, 60))
            log_error(std::string(tag) + ": " + what + " failed: " + e.what() + "; retrying");
        return true;
    }
}

// Minimum gap between two wake-up-triggered DB cycles: a burst of datagrams becomes one
// cycle (fan-out, claim: three transactions) per 20 ms, not one per datagram; a shorter
// gap costs MariaDB more CPU per event for a lower latency. Work waiting for a slot is not
// held back.
constexpr std::chrono::milliseconds kWakeupCycleGap(20);

void DeliveryLoop::handle_wakeup() {
    size_t n = wakeup_.drain();
    if (!n) return;
    n_wakeups_ += n;
    if (stopping_) return;
    woken_ = true;
    auto soonest = last_cycle_ + kWakeupCycleGap;
    if (next_db_at_ > soonest) next_db_at_ = std::max(soonest, Clock::now());
}

void DeliveryLoop::db_cycle() {
    auto now = Clock::now();
    last_cycle_ = now;
    next_db_at_ = now + std::chrono::milliseconds(opt_.poll_interval_ms);
    // A wake-up follows a commit made through the module's node, which may not be this
    // worker's: then the cycle's reads wait for this node to have applied it (Galera only).
    bool woken = std::exchange(woken_, false);
    try {
        db_.connect();
        db_.sync_reads(woken);
    } catch (const DbError& e) {
        db_down(e);
        return;
    }
    db_up();
    if (stopping_) return;

    if (!db_step("WH00186", "renewing this worker's row in webhook_workers (share_work)",
                 [&] { membership_.tick(db_, now); }))
        return;
    const Share share = membership_.share();
    // A worker that shares work comes back before its row expires, whatever poll_interval_ms.
    if (membership_.joined()) next_db_at_ = std::min(next_db_at_, now + kShareRenewal);
    if (!membership_.settled(now)) return;  // a newcomer: the others do not count it yet
    bool more = false;
    if (!db_step("WH00111", "fan-out of new events", [&] {
            size_t n = fan_out(db_, share);
            if (n) log_debug("fanned out " + std::to_string(n) + " events");
            more = n >= 500;
        }))
        return;
    if (now >= next_reap_at_) {
        next_reap_at_ = now + std::chrono::seconds(2);
        if (!db_step("WH00112", "returning expired leases", [&] {
                uint64_t n = reap_expired_leases(db_);
                if (n)
                    log_info("returned " + std::to_string(n) + " deliveries with an expired lease to pending");
            }))
            return;
    }
    unsigned free_slots = free_slot_count();
    if (free_slots >= claim_floor()) {
        if (!db_step("WH00113", "claiming due deliveries", [&] {
                std::vector<const Claimed*> mine;
                for (const auto& kv : jobs_) mine.push_back(&kv.second->c);
                std::set<uint64_t> skip = at_cap_here(cap_waiting_, mine, limits_);
                ClaimResult r = claim(db_, opt_.worker_id, free_slots, opt_.lease_seconds, limits_, skip, share);
                backlog_ = r.full;
                // Those left out still wait: one of their slots freeing claims again at once.
                for (auto ep : skip) r.waiting.emplace(ep, cap_waiting_.at(ep));
                cap_waiting_ = std::move(r.waiting);
                for (auto& c : r.claimed) start(std::move(c));
                if (!r.lost.empty()) release(db_, opt_.worker_id, r.lost);
            }))
            return;
    }
    // endpoint lifecycle (auto-disable, system event) and retention passes
    if (!db_step("WH00181", "endpoint lifecycle or retention", [&] { ops_.tick(db_, now, jobs_.size()); })) return;
    if (more || (backlog_ && free_slot_count() >= claim_floor())) next_db_at_ = now;  // more waits: go again
}

// Results not recorded yet still hold their slots: MariaDB counts them in flight (the lease,
// the per-endpoint cap) until the recorder commits, so claiming past them only finds
// endpoints at their cap, at the price of a full claim; and memory stays bounded.
size_t DeliveryLoop::busy_slots() const { return jobs_.size() + recorder_->backlog(); }

unsigned DeliveryLoop::free_slot_count() const {
    return opt_.concurrency - unsigned(std::min<size_t>(busy_slots(), opt_.concurrency));
}

// A claim has a fixed cost besides its rows (seven statements, a durable commit): a busy
// worker claims once a quarter of its slots (at most 32) are free, not every time one
// frees. With fewer in flight it claims at once.
unsigned DeliveryLoop::claim_floor() const {
    if (busy_slots() < opt_.concurrency / 2) return 1;
    return std::max(1u, std::min(opt_.concurrency / 4, 32u));
}

// Every result that finished in this loop turn goes to the recorder at once: one
// transaction for the lot (one durable commit, not one per attempt, which bounded a worker
// to about 1 / (commit latency) deliveries per second), written while this thread sends.
void DeliveryLoop::hand_over() {
    if (finished_.empty()) return;
    std::vector<Finished> batch;
    batch.reserve(finished_.size());
    for (Outcome& o : finished_) {
        Plan plan =
            plan_after_attempt(o.success, o.attempt_no, opt_.schedule_ms, o.http_status, o.retry_after_s, o.test);
        batch.push_back(Finished{std::move(o), plan});
    }
    finished_.clear();
    recorder_->submit(std::move(batch));
}

void DeliveryLoop::apply_settled() {
    for (const Recorder::Settled& s : recorder_->take_settled()) {
        after_record(s);
        // Its slot is free in MariaDB now: work waiting for a slot is claimed at once.
        if (backlog_ || cap_waiting_.count(s.f.o.endpoint_id)) next_db_at_ = Clock::now();
    }
}

void DeliveryLoop::after_record(const Recorder::Settled& s) {
    const Finished& f = s.f;
    const Outcome& o = f.o;
    if (s.fate == Recorder::Fate::given_up) return;  // logged (WH00116/7): the lease expires
    if (s.fate == Recorder::Fate::lease_lost) {
        log_warn(
             "WH00114: lease lost for " + o.notification_id + " (attempt " + std::to_string(o.attempt_no) +
                 "): another worker took it over after the lease expired, so this result is dropped. "
                 "If this repeats, raise lease_seconds above request_timeout_ms");
        return;
    }
    if (o.success) ++n_delivered_;
    else ++n_failed_attempts_;
    // auto-disable check / 410 system event (operations.hpp)
    ops_.on_recorded(o, f.plan, Clock::now());
    if (f.plan.disable_endpoint)
        log_warn("WH00115: endpoint " + o.endpoint_public_id +
                     " answered 410 Gone and was disabled; its deliveries are held "
                     "until it is re-enabled (PATCH enabled=true)");
    if (!o.success && f.plan.status == Plan::failed)
        log_debug("notification " + o.notification_id + " failed for good after " +
                      std::to_string(o.attempt_no) + " attempts");
}

// ---- sending ----------------------------------------------------------------------------

void DeliveryLoop::finish_now(const Claimed& c, const std::string& cls, const std::string& msg) {
    Outcome o;
    o.delivery_id = c.id;
    o.attempt_no = c.attempt_no;
    o.endpoint_id = c.endpoint_id;
    o.endpoint_public_id = c.endpoint_public_id;
    o.endpoint_timeouts = c.endpoint_timeouts;
    o.test = c.test;
    o.notification_id = c.event.notification_id;
    o.error_class = cls;
    o.error_message = msg;
    log_debug("delivery " + c.event.notification_id + " attempt " + std::to_string(c.attempt_no) +
                  " to " + c.endpoint_public_id + ": not sent (" + cls + ": " + msg + ")");
    finished_.push_back(std::move(o));  // recorded with the rest of this loop turn
}

// Opens one sealed credential of endpoint `cl`: v2 only for its row and column (aad), v1 only
// while accept_v1_credentials is On. False (logged) when it does not open.
bool DeliveryLoop::open_sealed(const Claimed& cl, const std::string& sealed, const char* column,
                               std::string& out) const {
    if (!opt_.accept_v1_credentials && SecretBox::is_v1(sealed)) {
        if (log_throttle("WH00158", 60))
            log_error(std::string("WH00158: the ") + column + " of endpoint " + cl.endpoint_public_id +
                          " is sealed as v1 and accept_v1_credentials is Off: run 'webhook-worker "
                          "migrate --secret-key-file' to re-seal it, or set its credentials again");
        return false;
    }
    const bool ok = box_.open(sealed, credential_aad(column, cl.endpoint_id), out);
    const bool password = std::string(column) == "password_enc";
    if (!ok && log_throttle(password ? "WH00126" : "WH00119", 60))
        log_error(std::string(password ? "WH00126: cannot decrypt the password"
                                       : "WH00119: cannot decrypt the signing secret") +
                      " of endpoint " + cl.endpoint_public_id +
                      ": either secret_key_file is not the key the module (WebhookSecretKeyFile) "
                      "sealed it with (give both the same key file), or the value was not sealed for "
                      "this endpoint's " + column + " (copied from another row or column: " +
                      (password ? "set its credentials again with PATCH)" : "rotate its secret)"));
    return ok;
}

// The signing secrets (current, then the former one during a rotation) and the Basic
// password, each sealed for this endpoint's row and column (credential_aad): a value copied
// from another row or column does not open, so it is never sent. False: finished as
// `credentials` without a request.
bool DeliveryLoop::open_credentials(const Claimed& cl, std::vector<std::string>& secrets,
                                    std::optional<std::string>& password) {
    secrets.assign(1, "");
    if (!open_sealed(cl, cl.secret_enc, "secret_enc", secrets[0])) {
        finish_now(cl, "credentials", "the endpoint's signing secret cannot be decrypted with this worker's key");
        return false;
    }
    std::string prev;  // prev_secret_enc keeps the secret_enc value it was, with its aad
    if (cl.prev_secret_enc && (opt_.accept_v1_credentials || !SecretBox::is_v1(*cl.prev_secret_enc)) &&
        box_.open(*cl.prev_secret_enc, credential_aad("secret_enc", cl.endpoint_id), prev))
        secrets.push_back(std::move(prev));
    if (cl.username && cl.password_enc) {
        password.emplace();
        if (!open_sealed(cl, *cl.password_enc, "password_enc", *password)) {
            finish_now(cl, "credentials", "the endpoint's password cannot be decrypted with this worker's key");
            return false;
        }
    }
    return true;
}

void DeliveryLoop::start(Claimed c) {
    std::unique_ptr<Job> job = new_job(std::move(c));
    if (!build_body(*job) || !check_url(job->c)) return;
    std::vector<std::string> headers;
    if (!request_headers(*job, headers) || !attach_headers(*job, headers)) return;
    CURL* h = take_handle();
    if (!h) {
        drop_transfer(*job, nullptr, "curl_easy_init failed");
        return;
    }
    set_transfer_options(h, *job);
    if (curl_multi_add_handle(multi_, h) != CURLM_OK) {
        drop_transfer(*job, h, "curl_multi_add_handle failed");
        return;
    }
    jobs_[h] = std::move(job);
}

std::unique_ptr<Job> DeliveryLoop::new_job(Claimed c) {
    auto job = std::make_unique<Job>();
    job->c = std::move(c);
    job->c.event.data = event_data_.share(job->c.event_id, std::move(job->c.event.data));
    job->policy = &opt_.policy;
    return job;
}

bool DeliveryLoop::build_body(Job& job) {
    std::string err;
    if (build_payload(job.c.event, job.body, &err)) return true;
    if (log_throttle("WH00118", 60))
        log_error("WH00118: notification " + job.c.event.notification_id + " cannot be built: " + err +
                      "; the event row in webhook_events must hold a JSON object");
    finish_now(job.c, "payload", err);
    return false;
}

bool DeliveryLoop::check_url(const Claimed& cl) {
    Url url;
    std::string e = parse_url(cl.url, url);
    if (e.empty()) return true;
    finish_now(cl, "bad-url", "endpoint URL " + e);
    return false;
}

// The signature headers (and Basic authorization) of one attempt; the credentials they
// carry are kept (sent_credentials) to redact them from the reply's excerpt.
bool DeliveryLoop::request_headers(Job& job, std::vector<std::string>& hdrs) {
    const Claimed& cl = job.c;
    const std::string& nid = cl.event.notification_id;
    std::vector<std::string> secrets;
    std::optional<std::string> password;
    if (!open_credentials(cl, secrets, password)) return false;
    long long ts = static_cast<long long>(std::time(nullptr));
    std::string sig;
    try {
        sig = signature_header(secrets, nid, ts, job.body.parts());
    } catch (const std::exception&) {
        finish_now(cl, "credentials", "the endpoint's signing secret is malformed");
        return false;
    }
    // The names and fixed values are common/notification.hpp's: the module shows them too.
    hdrs = {
        std::string("Content-Type: ") + kNotificationContentType,
        "Expect:",  // no 100-continue round trip
        std::string(kHeaderWebhookId) + ": " + nid,
        std::string(kHeaderWebhookTimestamp) + ": " + std::to_string(ts),
        std::string(kHeaderWebhookSignature) + ": " + sig,
    };
    if (password) hdrs.push_back("Authorization: Basic " + base64_encode(*cl.username + ":" + *password));
    job.sent_credentials = credential_forms(secrets, cl.username, password);  // kept out of the excerpt
    if (password) std::fill(password->begin(), password->end(), '\0');
    return true;
}

// Copies the headers into the job's curl_slist, wiping each string as it goes.
bool DeliveryLoop::attach_headers(Job& job, std::vector<std::string>& hdrs) {
    for (auto& h : hdrs) {
        curl_slist* n = curl_slist_append(job.headers, h.c_str());
        std::fill(h.begin(), h.end(), '\0');
        if (!n) {
            drop_transfer(job, nullptr, "out of memory building headers");
            return false;
        }
        job.headers = n;
    }
    return true;
}

// A transfer that could not be started: its attempt is finished as `other`.
void DeliveryLoop::drop_transfer(Job& job, CURL* h, const char* why) {
    curl_slist_free_all(job.headers);
    job.headers = nullptr;
    if (h) curl_easy_cleanup(h);
    finish_now(job.c, "other", why);
}

void DeliveryLoop::set_transfer_options(CURL* h, Job& job) {
    Job* j = &job;
    const Claimed& cl = job.c;
    curl_easy_setopt(h, CURLOPT_URL, cl.url.c_str());
    curl_easy_setopt(h, CURLOPT_PRIVATE, j);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    // An endpoint that keeps timing out gets the breaker's shorter timeout (judge.hpp Breaker).
    const long timeout_ms = limits_.breaker.request_timeout_ms(opt_.request_timeout_ms, cl.endpoint_timeouts);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, std::min(opt_.connect_timeout_ms, timeout_ms));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!opt_.ca_bundle.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, opt_.ca_bundle.c_str());
    // HTTP/2 when the receiver offers it in the TLS handshake (ALPN), HTTP/1.1 otherwise and
    // always over plain http (no h2c upgrade).
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, long(CURL_HTTP_VERSION_2TLS));
    curl_easy_setopt(h, CURLOPT_PROXY, "");  // never through an environment proxy (SSRF check)
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(h, CURLOPT_READDATA, j);
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, j);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(j->body.size()));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, j->headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, notification_user_agent());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, j);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, j->errbuf);
    j->easy = h;
    j->started = Clock::now();
}

void DeliveryLoop::collect_done() {
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL* h = m->easy_handle;
        CURLcode rc = m->data.result;
        auto it = jobs_.find(h);
        curl_multi_remove_handle(multi_, h);
        if (it == jobs_.end()) {
            curl_easy_cleanup(h);
            continue;
        }
        Job& j = *it->second;
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_off_t retry_after = 0;
        curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &retry_after);

        Outcome o;
        o.delivery_id = j.c.id;
        o.attempt_no = j.c.attempt_no;
        o.endpoint_id = j.c.endpoint_id;
        o.endpoint_public_id = j.c.endpoint_public_id;
        o.endpoint_timeouts = j.c.endpoint_timeouts;
        o.test = j.c.test;
        o.notification_id = j.c.event.notification_id;
        o.duration_ms = ms_between(j.started, Clock::now());
        o.started = j.started;
        o.http_status = status >= 100 && status <= 999 ? status : 0;
        o.retry_after_s = retry_after > 0 ? (long long)retry_after : 0;
        // A reply cut at 64 KiB (truncated) is still a reply: judged on what was kept.
        bool replied = (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && j.truncated)) && o.http_status;
        Verdict v = replied
                        ? judge_response(parse_ack_mode(j.c.ack_mode), o.notification_id, status, j.reply)
                        : judge_transport_error(rc, j.errbuf, j.blocked);
        // The verdict quotes the reply's notificationId: redacted like the excerpt, before the
        // log lines below and the record.
        v.message = redact_excerpt(v.message, j.sent_credentials, v.message.size(), false);
        o.success = v.success;
        o.error_class = v.error_class;
        o.error_message = v.success ? "" : v.message;
        o.excerpt = redact_excerpt(j.reply, j.sent_credentials, kExcerptBytes, j.truncated);
        for (auto& f : j.sent_credentials) std::fill(f.begin(), f.end(), '\0');
        if (j.blocked && !v.success && log_throttle("WH00120:" + o.endpoint_public_id, 300))
            log_warn("WH00120: not sending to endpoint " + o.endpoint_public_id + ": its address " +
                         j.blocked_address + " is not public and not allowed by allow_private_targets"
                         ". Change its URL, or allow the range with allow_private_targets");
        if (log_enabled(LogLevel::debug))  // not built per delivery when nobody reads it
            log_debug("delivery " + o.notification_id + " attempt " + std::to_string(o.attempt_no) +
                          " to " + o.endpoint_public_id + ": " +
                          (v.success ? "delivered (" + v.message + ")" : v.error_class + ": " + v.message) +
                          " in " + std::to_string(o.duration_ms) + " ms");

        curl_slist_free_all(j.headers);
        j.headers = nullptr;
        jobs_.erase(it);
        return_handle(h);
        finished_.push_back(std::move(o));
    }
    // Slots are free and work is waiting for them: claim again at once (not after the poll
    // interval); a capped endpoint is claimed for again once the result is recorded
    // (apply_settled), when MariaDB no longer counts it in flight.
    if (!finished_.empty() && backlog_ && free_slot_count() >= claim_floor()) next_db_at_ = Clock::now();
}

// ---- shutdown ---------------------------------------------------------------------------

void DeliveryLoop::handle_signals() {
    signalfd_siginfo si;
    while (read(signal_fd_, &si, sizeof si) == ssize_t(sizeof si)) {
        const char* name = si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM";
        if (!stopping_) {
            stopping_ = true;
            membership_.leave(db_);  // the others take this worker's share while it drains
            drain_deadline_ = Clock::now() + std::chrono::seconds(opt_.drain_seconds);
            log_info(std::string("received ") + name + ": no more claims; waiting up to " +
                         std::to_string(opt_.drain_seconds) + " s for " +
                         std::to_string(jobs_.size()) + " deliveries in flight");
        } else {
            leave_now_ = true;
        }
    }
}

void DeliveryLoop::abandon_inflight() {
    std::vector<uint64_t> ids;
    for (auto& kv : jobs_) {
        curl_multi_remove_handle(multi_, kv.first);
        curl_slist_free_all(kv.second->headers);
        kv.second->headers = nullptr;
        ids.push_back(kv.second->c.id);
        curl_easy_cleanup(kv.first);
    }
    jobs_.clear();
    if (ids.empty()) return;
    try {
        if (!db_.connected()) db_.connect();
        uint64_t n = release(db_, opt_.worker_id, ids);
        log_info("released " + std::to_string(n) + " unfinished deliveries back to pending");
    } catch (const std::exception& e) {
        log_warn("WH00121: could not release " + std::to_string(ids.size()) +
                     " unfinished deliveries (" + e.what() + "); their leases expire after "
                     "lease_seconds and any worker sends them again");
    }
}

int DeliveryLoop::run() {
    log_started();
    recorder_->start();
    for (;;) {
        switch (turn()) {
        case TurnEnd::go_on: continue;
        case TurnEnd::drained: return stop_recorder();
        case TurnEnd::failed: return 1;
        case TurnEnd::leave_now:
            log_warn("WH00124: second signal: leaving at once with " + std::to_string(jobs_.size()) +
                         " deliveries in flight; their leases expire after lease_seconds and "
                         "any worker sends them again");
            return 0;
        }
    }
}

void DeliveryLoop::log_started() const {
    log_info("webhook-worker " WEBHOOK_VERSION " started: worker_id=" + opt_.worker_id +
             " database=" + db_where(opt_.db) + "/" + opt_.db.database + " concurrency=" + std::to_string(opt_.concurrency) +
             " per_endpoint=" + std::to_string(opt_.per_endpoint_concurrency) +
             " per_scope=" + std::to_string(opt_.max_in_flight_per_scope) +
             " breaker=" + std::to_string(opt_.breaker_after_timeouts) + "x/" +
             std::to_string(opt_.breaker_request_timeout_ms) + "ms" +
             " schedule=" + opt_.retry_schedule + " lease=" + std::to_string(opt_.lease_seconds) + "s" +
             " poll=" + std::to_string(opt_.poll_interval_ms) + "ms wakeup=" +
             (wakeup_.fd() >= 0 ? opt_.wakeup_listen : std::string("off")) +
             " connect_timeout=" + std::to_string(opt_.connect_timeout_ms) + "ms" +
             " request_timeout=" + std::to_string(opt_.request_timeout_ms) + "ms" +
             " drain=" + std::to_string(opt_.drain_seconds) + "s" +
             " ca_bundle=" + (opt_.ca_bundle.empty() ? std::string("system") : opt_.ca_bundle) +
             " allow_private_targets=" + opt_.allow_private_targets);
}

// One loop turn: recorded results, a DB cycle when due, transfers, then the wait for the
// next thing to do.
DeliveryLoop::TurnEnd DeliveryLoop::turn() {
    auto now = Clock::now();  // before apply_settled: a slot it frees is claimed next turn
    apply_settled();
    if (recorder_->failed()) {  // WH00131 logged: give back what is in flight, exit 1
        abandon_inflight();
        return TurnEnd::failed;
    }
    if (now >= next_db_at_) db_cycle();
    int running = 0;
    curl_multi_perform(multi_, &running);
    collect_done();
    hand_over();
    now = Clock::now();
    if (drain_over(now)) return TurnEnd::drained;
    if (!wait_for_events(now)) return TurnEnd::failed;
    return leave_now_ ? TurnEnd::leave_now : TurnEnd::go_on;
}

// After a signal: true once nothing is in flight, or at the drain deadline (what is left
// goes back to pending).
bool DeliveryLoop::drain_over(Clock::time_point now) {
    if (!stopping_) return false;
    if (jobs_.empty()) return true;
    if (now < drain_deadline_) return false;
    log_warn("WH00122: " + std::to_string(jobs_.size()) +
                 " deliveries still in flight at the drain deadline; giving them "
                 "back to pending so another worker sends them");
    abandon_inflight();
    return true;
}

// Waits for a transfer, the signalfd or the wake-up socket, at most until the next DB cycle
// is due (100 ms while draining). False when polling failed (logged).
bool DeliveryLoop::wait_for_events(Clock::time_point now) {
    long timeout = 1000;
    if (next_db_at_ <= now) timeout = 0;
    else timeout = std::min<long>(timeout, long(ms_between(now, next_db_at_)) + 1);
    if (stopping_) timeout = std::min<long>(timeout, 100);
    // Extra fds: the signalfd and the wake-up socket (either may be absent).
    curl_waitfd extra[2]{};
    unsigned nextra = 0;
    int sig_slot = -1, wake_slot = -1;
    if (signal_fd_ >= 0) {
        sig_slot = int(nextra);
        extra[nextra++] = curl_waitfd{signal_fd_, CURL_WAIT_POLLIN, 0};
    }
    if (wakeup_.fd() >= 0) {
        wake_slot = int(nextra);
        extra[nextra++] = curl_waitfd{wakeup_.fd(), CURL_WAIT_POLLIN, 0};
    }
    int numfds = 0;
    CURLMcode mc = curl_multi_poll(multi_, nextra ? extra : nullptr, nextra, int(timeout), &numfds);
    if (mc != CURLM_OK) {
        log_error(std::string("WH00123: curl_multi_poll failed: ") + curl_multi_strerror(mc) +
                      "; the worker stops (restart it)");
        return false;
    }
    if (sig_slot >= 0 && (extra[sig_slot].revents & CURL_WAIT_POLLIN)) handle_signals();
    if (wake_slot >= 0 && (extra[wake_slot].revents & CURL_WAIT_POLLIN)) handle_wakeup();
    return true;
}

// After the drain: the recorder writes what is left, with one last try if MariaDB is away.
int DeliveryLoop::stop_recorder() {
    hand_over();
    size_t left = recorder_->stop();
    apply_settled();
    if (left)
        log_warn("WH00125: " + std::to_string(left) +
                     " attempt results could not be recorded (MariaDB unreachable); those "
                     "deliveries are sent again once their leases expire");
    log_info("webhook-worker stopped: " + std::to_string(n_delivered_) + " delivered, " +
                 std::to_string(n_failed_attempts_) + " failed attempts recorded");
    return 0;
}

}  // namespace wh::worker

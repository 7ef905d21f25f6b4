// The per-child record: built in child_init, destroyed with the child's pool, read (never
// written) by the request threads. No exception leaves this file.
#include "child.hpp"

#include <map>
#include <string>

#include "httpd.h"
#include "http_log.h"

#include "glue.h"
#include "glue.hpp"

extern "C" {
APLOG_USE_MODULE(webhook);
}

namespace wh::glue {

std::unique_ptr<wh::Db> DbPool::acquire(bool& stalled) {
    stalled = false;
    Pooled p;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!free_.empty()) {
            p = std::move(free_.back());
            free_.pop_back();
        }
    }
    if (!p.db) return std::make_unique<wh::Db>(cfg_);
    if (!p.db->connected()) return std::move(p.db);
    // A connection used within kPingAfter is checked without a round trip (a ping would
    // add one to every request): a server that closed it (restart, KILL)
    // leaves EOF on the socket, and closing it here makes the first statement reconnect.
    // A failure that slips past (the server dies just now) answers 503 and the connection
    // is dropped (drop_db). Idle longer: a real ping, like mod_dbd, which also catches a
    // server that hangs without closing.
    if (Clock::now() - p.used < kPingAfter) {
        p.db->peer_open();
        return std::move(p.db);
    }
    auto t0 = Clock::now();
    if (!p.db->ping()) stalled = Clock::now() - t0 >= std::chrono::milliseconds(cfg_.read_timeout * 900);
    return std::move(p.db);
}

void DbPool::release(std::unique_ptr<wh::Db> db, bool broken) {
    if (!db || broken) return;  // destroyed: closes the connection
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(Pooled{std::move(db), Clock::now()});
}

}  // namespace wh::glue

namespace {

using wh::glue::DbPool;
using wh::glue::ServerState;

// The shortest time between two wake-up datagrams of one child (WakeupCoalescer): commits
// within it share the next datagram. Well below the worker's 20 ms between wake-up-triggered
// cycles, so delivery latency stays the same.
constexpr std::chrono::microseconds kMinWakeupDatagramInterval{2000};

struct ChildState {
    std::vector<std::unique_ptr<DbPool>> pools;  // destroyed after the notifiers
    std::vector<std::unique_ptr<wh::WakeupCoalescer>> notifiers;
    std::map<const server_rec*, ServerState> servers;
};

ChildState* g_child = nullptr;  // set once in child_init, before any request thread runs

apr_status_t destroy_child(void*) {
    try {
        delete g_child;
    } catch (...) {
    }
    g_child = nullptr;
    return APR_SUCCESS;
}

// A running coalescer for the addresses, or null (logged) when none can be used.
std::unique_ptr<wh::WakeupCoalescer> open_notifier(server_rec* v, const std::vector<std::string>& specs) {
    auto sender = std::make_unique<wh::WakeupSender>();
    std::string err = sender->open(specs);
    if (!err.empty())
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, v,
                     "WH00041: WebhookNotifyWorker: %s; events are still delivered, at the "
                     "worker's next poll (poll_interval_ms). Fix the address or the name",
                     err.c_str());
    if (sender->empty()) return nullptr;
    try {
        return std::make_unique<wh::WakeupCoalescer>(std::move(sender), kMinWakeupDatagramInterval);
    } catch (const std::exception& e) {  // no thread for it: run without wake-ups
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, v,
                     "WH00043: WebhookNotifyWorker: cannot start the wake-up sender thread "
                     "(%s); events are still delivered, at the worker's next poll. Check the "
                     "process and thread limits (ulimit -u) of the Apache user",
                     e.what());
    }
    return nullptr;
}

// One coalescer per WebhookNotifyWorker value.
void open_notifiers(apr_pool_t* pchild, server_rec* s, ChildState& child) {
    std::map<std::string, wh::WakeupCoalescer*> by_spec;
    for (server_rec* v = s; v; v = v->next) {
        const wh::api::ServerConf* c = wh::glue::server_conf(v);
        std::vector<std::string> specs = wh::glue::notify_specs(pchild, c->notify_worker);
        if (specs.empty()) continue;
        auto it = by_spec.find(c->notify_worker);
        if (it == by_spec.end()) {
            std::unique_ptr<wh::WakeupCoalescer> n = open_notifier(v, specs);
            wh::WakeupCoalescer* raw = n.get();
            if (n) child.notifiers.push_back(std::move(n));
            it = by_spec.emplace(c->notify_worker, raw).first;
        }
        child.servers[v].notifier = it->second;
    }
}

// One pool per connection string and timeout.
void open_pools(server_rec* s, ChildState& child) {
    std::map<std::string, DbPool*> by_spec;
    for (server_rec* v = s; v; v = v->next) {
        const wh::api::ServerConf* c = wh::glue::server_conf(v);
        if (!c->db_spec) continue;
        std::string key = std::string(c->db_spec) + "\n" + std::to_string(wh::api::db_timeout(c));
        auto it = by_spec.find(key);
        if (it == by_spec.end()) {
            wh::DbConfig cfg;
            std::string err = wh::parse_db_config(c->db_spec, cfg);
            if (!err.empty()) {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, v, "WH00018: WebhookDatabase is invalid: %s",
                             err.c_str());
                continue;
            }
            wh::api::apply_db_timeout(c->db_spec, wh::api::db_timeout(c), cfg);
            child.pools.push_back(std::make_unique<DbPool>(cfg));
            it = by_spec.emplace(key, child.pools.back().get()).first;
        }
        child.servers[v].pool = it->second;
    }
}

}  // namespace

wh::glue::ServerState wh::glue::child_state(const server_rec* s) {
    if (!g_child) return {};
    auto it = g_child->servers.find(s);
    return it == g_child->servers.end() ? ServerState{} : it->second;
}

extern "C" void wh_child_init(apr_pool_t* pchild, server_rec* s) {
    try {
        wh::set_log_sink(wh::glue::log_sink, s);
        g_child = new ChildState();
        apr_pool_cleanup_register(pchild, nullptr, destroy_child, apr_pool_cleanup_null);
        open_notifiers(pchild, s, *g_child);
        open_pools(s, *g_child);
    } catch (const std::exception& e) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "WH00019: child initialisation failed: %s; requests will get 500", e.what());
    } catch (...) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "WH00019: child initialisation failed (unknown error)");
    }
}

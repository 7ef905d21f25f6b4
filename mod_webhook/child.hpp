// What one Apache child process holds at run time (mod_md's md_mod_conf_t to the config
// records' md_srv_conf_t): MariaDB connection pools and wake-up senders, created in
// child_init and found per server. The config records stay plain configuration.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "httpd.h"

#include "db.hpp"
#include "wakeup.hpp"

namespace wh::glue {

// Connections are created lazily and reused; a connection that failed is dropped so the
// next request reconnects (MariaDB restarts need no Apache restart). Threads of an MPM
// worker child share the pool under a mutex.
class DbPool {
public:
    using Clock = std::chrono::steady_clock;
    explicit DbPool(wh::DbConfig cfg) : cfg_(std::move(cfg)) {}

    // stalled is set when a pooled connection did not answer its ping within the read
    // timeout: the server hangs, and connecting again would wait as long once more, so the
    // caller answers 503 at once (the request's wait stays within WebhookDatabaseTimeout).
    std::unique_ptr<wh::Db> acquire(bool& stalled);
    // Back to the pool, or closed when broken.
    void release(std::unique_ptr<wh::Db> db, bool broken);

private:
    static constexpr std::chrono::seconds kPingAfter{5};
    struct Pooled {
        std::unique_ptr<wh::Db> db;
        Clock::time_point used{};
    };
    wh::DbConfig cfg_;
    std::mutex mu_;
    std::vector<Pooled> free_;
};

// One server's share of the child's state; null members when the server has none (no
// WebhookDatabase, WebhookNotifyWorker Off). Servers with the same settings share them.
struct ServerState {
    DbPool* pool = nullptr;
    wh::WakeupCoalescer* notifier = nullptr;
};

// The state of server s in this child (all null before child_init ran).
ServerState child_state(const server_rec* s);

}  // namespace wh::glue

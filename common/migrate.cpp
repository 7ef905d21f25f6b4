#include "migrate.hpp"

#include "crypto.hpp"
#include "parse.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace wh {

namespace {

struct Migration {
    unsigned version;
    std::string file;
};

std::vector<Migration> list_migrations(const std::string& dir) {
    struct DirCloser {
        void operator()(DIR* d) const { closedir(d); }
    };
    std::unique_ptr<DIR, DirCloser> d(opendir(dir.c_str()));
    if (!d) throw std::runtime_error("cannot open migrations directory '" + dir + "'");
    std::vector<Migration> out;
    while (dirent* e = readdir(d.get())) {
        std::string name = e->d_name;
        if (name.size() < 8 || name.compare(name.size() - 4, 4, ".sql") != 0) continue;
        size_t digits = name.find('_');
        unsigned long long version = 0;
        if (digits == std::string::npos || !parse_decimal(name.substr(0, digits), ~0U, version)) continue;
        out.push_back({unsigned(version), name});
    }
    std::sort(out.begin(), out.end(),
              [](const Migration& a, const Migration& b) { return a.version < b.version; });
    for (size_t i = 1; i < out.size(); ++i)
        if (out[i].version == out[i - 1].version)
            throw std::runtime_error("two migrations share version " + std::to_string(out[i].version));
    return out;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read '" + path + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The migration lock: one row of webhook_migration_lock, taken and renewed with writes. A
// named lock (GET_LOCK) exists on one server only, so migrators on different nodes of a
// Galera cluster would not see each other; a row write is certified cluster-wide (two
// concurrent takers: one commits, the other gets a conflict and tries again). The row
// expires kLockTtl after its last renewal, so a migrator that crashed blocks the others
// for at most that long; while migrating, a thread of its own renews it every
// kLockRenewal, over its own connection (the migrator's is busy with a long ALTER).
constexpr int kLockTtlSeconds = 60;
constexpr auto kLockRenewal = std::chrono::seconds(15);
constexpr unsigned kRenewalReadTimeout = 10;  // seconds
constexpr auto kLockRetry = std::chrono::milliseconds(500);
constexpr auto kLockWait = std::chrono::minutes(10);  // for a holder that keeps renewing

void bootstrap_tables(Db& db) {
    db.exec("CREATE TABLE IF NOT EXISTS webhook_schema_version ("
            " version INT UNSIGNED NOT NULL PRIMARY KEY, name VARCHAR(200) NOT NULL,"
            " applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3))"
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    db.exec("CREATE TABLE IF NOT EXISTS webhook_migration_lock ("
            " name VARCHAR(32) NOT NULL PRIMARY KEY, owner VARCHAR(200) NOT NULL,"
            " expires_at DATETIME(3) NOT NULL)"
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin");
}

std::string lock_owner() {
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    return std::string(host) + " pid " + std::to_string(getpid()) + " run " + random_hex(4);
}

// One attempt: takes the row if it is free or expired. Returns whether `owner` holds it.
bool try_lock(Db& db, const std::string& owner) {
    // In ON DUPLICATE KEY UPDATE, expires_at in the second IF is still the old value.
    db.exec("INSERT INTO webhook_migration_lock (name, owner, expires_at)"
            " VALUES ('migrate', ?, NOW(3) + INTERVAL ? SECOND) ON DUPLICATE KEY UPDATE"
            " owner = IF(expires_at < NOW(3), VALUES(owner), owner),"
            " expires_at = IF(expires_at < NOW(3), VALUES(expires_at), expires_at)",
            {owner, kLockTtlSeconds});
    Rows r = db.query("SELECT owner FROM webhook_migration_lock WHERE name = 'migrate'");
    return !r.empty() && r[0][0].value_or("") == owner;
}

class MigrationLock {
public:
    explicit MigrationLock(Db& db) : db_(db), owner_(lock_owner()) {
        const auto give_up = std::chrono::steady_clock::now() + kLockWait;
        for (;;) {
            try {
                if (try_lock(db_, owner_)) break;
            } catch (const DbError& e) {
                // 1213 here is a certification conflict with another taker: try again
                if (!e.retryable()) throw;
            }
            if (std::chrono::steady_clock::now() >= give_up)
                throw MigrationLockError("could not take the migration lock (webhook_migration_lock) within " +
                                         std::to_string(std::chrono::duration_cast<std::chrono::minutes>(kLockWait).count()) +
                                         " minutes: another migrate keeps it; if none runs, wait " +
                                         std::to_string(kLockTtlSeconds) + " s for it to expire");
            std::this_thread::sleep_for(kLockRetry);
        }
        renewer_ = std::thread([this] { renew_until_stopped(); });
    }
    ~MigrationLock() {
        {
            std::lock_guard<std::mutex> g(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        renewer_.join();
        try {
            db_.exec("DELETE FROM webhook_migration_lock WHERE name = 'migrate' AND owner = ?", {owner_});
        } catch (...) {
            // the row expires on its own
        }
    }
    MigrationLock(const MigrationLock&) = delete;
    MigrationLock& operator=(const MigrationLock&) = delete;

    // Throws if another migrator took the lock over (it expired: no renewal got through).
    void check() const {
        if (lost_)
            throw MigrationLockError("the migration lock expired while migrating (no renewal for " +
                                     std::to_string(kLockTtlSeconds) + " s) and another migrate took it over; "
                                     "run migrate again once it is done");
    }

private:
    void renew_until_stopped() {
        DbThread thread_state;
        // Its own timeout, not the migrator's (which waits out a long ALTER): a renewal
        // that hangs would hold up the release at the end.
        DbConfig cfg = db_.config();
        cfg.read_timeout = std::min(cfg.read_timeout, kRenewalReadTimeout);
        Db renewer(cfg);
        std::unique_lock<std::mutex> g(mu_);
        while (!cv_.wait_for(g, kLockRenewal, [this] { return stop_; })) {
            try {
                if (renewer.exec("UPDATE webhook_migration_lock SET expires_at = NOW(3) + INTERVAL ? SECOND"
                                 " WHERE name = 'migrate' AND owner = ?", {kLockTtlSeconds, owner_}) == 0)
                    lost_ = true;
            } catch (const DbError&) {
                // tried again at the next renewal; the row lasts kLockTtl from the last one
            }
        }
    }

    Db& db_;
    const std::string owner_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::atomic<bool> lost_{false};
    std::thread renewer_;
};

}  // namespace

MigrationResult migrate(Db& db, const std::string& sql_dir) {
    MigrationResult result;
    auto migrations = list_migrations(sql_dir);
    bootstrap_tables(db);  // the lock's table must exist before the lock is taken
    MigrationLock lock(db);
    for (const auto& m : migrations) {
        lock.check();
        Rows done = db.query("SELECT 1 FROM webhook_schema_version WHERE version = ?", {m.version});
        if (!done.empty()) continue;
        db.exec_script(read_file(sql_dir + "/" + m.file));
        // A migrator that took an expired lock over may have recorded it meanwhile.
        db.exec("INSERT INTO webhook_schema_version (version, name) VALUES (?, ?)"
                " ON DUPLICATE KEY UPDATE version = version",
                {m.version, m.file});
        result.applied.push_back(m.file);
    }
    Rows v = db.query("SELECT COALESCE(MAX(version), 0) FROM webhook_schema_version");
    result.version = unsigned(std::stoul(v[0][0].value_or("0")));
    return result;
}

}  // namespace wh

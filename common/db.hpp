// The one MariaDB layer of the product, shared by the module and the worker.
// RAII over Connector/C; every failure is a DbError carrying the server's error number.
#pragma once

#include <mysql.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace wh {

// One server of the host list: a name or address (IPv6 without its brackets) and its port;
// port 0 takes DbConfig::port.
struct DbHost {
    std::string name;
    unsigned port = 0;
};

// Plain data: where and how to connect. Parsed from "host=… port=… user=… …".
struct DbConfig {
    // Tried in this order by Db::connect(); the first healthy one is used (see there).
    std::vector<DbHost> hosts{DbHost{"127.0.0.1", 0}};
    unsigned port = 3306;        // of the hosts written without their own
    std::string socket;          // when set, used instead of hosts/port
    std::string user;
    std::string password;
    std::string database;
    unsigned connect_timeout = 2;  // seconds
    unsigned read_timeout = 10;    // seconds
    unsigned write_timeout = 10;   // seconds
};

// Parses space-separated key=value pairs (host, port, socket, user, password, database or
// dbname, connect_timeout, read_timeout, write_timeout). A value may be quoted with ' or "
// (backslash escapes the next character inside quotes): password='a b'. host= is a list,
// host=db1:3306,db2,[::1]:3307: a host without its own port takes port=. Returns "" or an
// error message, which never holds a value (it may be a password, or part of one).
std::string parse_db_config(const std::string& spec, DbConfig& out);

// "host:port" (IPv6 in brackets) of one host of cfg, for log lines.
std::string db_host_label(const DbConfig& cfg, const DbHost& host);
// Where cfg points, for log lines: the socket path, or the host list "h1:p1,h2:p2".
std::string db_where(const DbConfig& cfg);

// Error numbers the server or Connector/C report, by what a caller does about them.
// The server is unreachable, the connection broke, or the node cannot serve (a Galera node
// outside the primary component: 1047, 1180): answer 503 / reconnect, which picks a host again.
bool db_unavailable(unsigned code);
// Deadlock (a Galera certification conflict reports the same 1213) or lock wait timeout:
// the whole transaction may be run again.
bool db_retryable(unsigned code);
// No server took the connection (2002 socket, 2003 TCP: refused, or no answer to the
// connect): nothing runs there, as opposed to a server that is reached but stalls.
bool db_no_server(unsigned code);

class DbError : public std::runtime_error {
public:
    DbError(unsigned code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
    unsigned code() const { return code_; }
    // See db_unavailable(): callers answer 503 / reconnect.
    bool unavailable() const { return db_unavailable(code_); }
    // See db_retryable(): with_transaction() runs the transaction again; past its retries a
    // caller treats it like unavailable (503, try later).
    bool retryable() const { return db_retryable(code_); }
    bool duplicate_key() const { return code_ == 1062; }
    bool no_server() const { return db_no_server(code_); }
    // The cause in words for a log line, with the error number, e.g. "the MariaDB node is not
    // part of the primary component (Galera, error 1047)"; "" when the number is not one of
    // the unavailable or retryable ones (the message says it then).
    std::string cause() const;
    // "cause: message" for a log line (just the message when cause() is "").
    std::string explain() const;

private:
    unsigned code_;
};

// A bound parameter: NULL, an integer or a string (sent as an escaped literal).
class Param {
public:
    Param() : null_(true) {}
    Param(std::nullptr_t) : null_(true) {}
    Param(const std::string& s) : text_(s), quoted_(true) {}
    Param(const char* s) : null_(s == nullptr), text_(s ? s : ""), quoted_(true) {}
    Param(int v) : text_(std::to_string(v)) {}
    Param(unsigned v) : text_(std::to_string(v)) {}
    Param(long v) : text_(std::to_string(v)) {}
    Param(unsigned long v) : text_(std::to_string(v)) {}
    Param(long long v) : text_(std::to_string(v)) {}
    Param(unsigned long long v) : text_(std::to_string(v)) {}
    Param(bool v) : text_(v ? "1" : "0") {}
    template <typename T>
    Param(const std::optional<T>& v) : Param(v ? Param(*v) : Param()) {}

    bool is_null() const { return null_; }
    bool quoted() const { return quoted_; }
    const std::string& text() const { return text_; }

private:
    bool null_ = false;
    std::string text_;
    bool quoted_ = false;
};

using Params = std::vector<Param>;

// A fully fetched result set; cells are NULL (nullopt) or text.
class Rows {
public:
    using Row = std::vector<std::optional<std::string>>;
    std::vector<std::string> columns;
    std::vector<Row> rows;

    size_t size() const { return rows.size(); }
    bool empty() const { return rows.empty(); }
    const Row& operator[](size_t i) const { return rows[i]; }
    // Index of a column by name; throws std::out_of_range if absent.
    size_t col(const std::string& name) const;
};

class Db {
public:
    explicit Db(DbConfig cfg);
    ~Db();
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    // Connects (or reconnects after close()); throws DbError. With several hosts it tries them
    // in list order, always from the first, and keeps the first that answers and is healthy:
    // a Galera node that is ready and Synced, or a server that is not a Galera node. So every
    // session everywhere writes through the same node while it is healthy (few certification
    // conflicts, row locks that hold). The whole walk stays within connect_timeout. One host
    // is used as it is, without the health check.
    void connect();
    bool connected() const { return conn_ != nullptr; }
    // The host this Db is connected to ("host:port" or the socket path), "" when not connected.
    const std::string& host() const { return host_; }
    // Read-your-writes on a Galera node: when on, each read and START TRANSACTION first waits
    // until this node has applied what the cluster committed before it (wsrep_sync_wait=1),
    // so a read sees a write made through another node. Kept for the connections to come;
    // costs a round trip when it changes on a Galera node, nothing elsewhere. Throws DbError.
    void sync_reads(bool on);
    // Whether the connected server is a Galera node (wsrep_on), probed once per connection.
    // Connects first if needed; throws DbError.
    bool galera();
    // Drops the connection; the next connect() opens a fresh one.
    void close();
    // Cheap liveness check (mysql_ping without reconnect); closes on failure.
    bool ping();
    // No round trip (one poll(2) on the socket): false, and closed, when the server has hung
    // up on this idle connection (restart, wait_timeout, KILL) — data or EOF is waiting.
    bool peer_open();

    // Runs one statement with ? placeholders replaced by escaped params; returns rows
    // affected. Connects first if needed. A broken connection is closed before throwing.
    uint64_t exec(const std::string& sql, const Params& params = {});
    // Runs a SELECT (or anything returning rows).
    Rows query(const std::string& sql, const Params& params = {});
    // Runs a script of several statements separated by ';' (migrations).
    void exec_script(const std::string& sql);

    // The same, as server-side prepared statements (binary protocol): the statement is
    // prepared once per connection and cached by its SQL text (so keep the text fixed: no
    // dynamic IN lists here — those stay on exec/query). Strings are bound as
    // MYSQL_TYPE_STRING with their length (binary data passes), integers as LONGLONG, NULL
    // as NULL; cells come back as text, like query(). The cache dies with the connection
    // (close(), a broken connection) and statements are prepared again after reconnect.
    uint64_t exec_prepared(const std::string& sql, const Params& params = {});
    Rows query_prepared(const std::string& sql, const Params& params = {});
    // Statements cached on this connection (tests, diagnostics).
    size_t prepared_count() const { return stmts_.size(); }

    uint64_t last_insert_id() const;
    std::string escape(const std::string& s);
    // Expands ? placeholders; exposed for unit tests.
    std::string bind(const std::string& sql, const Params& params);

    void begin() { exec("START TRANSACTION"); }
    void commit() { exec("COMMIT"); }
    void rollback() noexcept;

    const DbConfig& config() const { return cfg_; }

private:
    // The wsrep state of the connected server, read by probe_galera().
    struct Wsrep {
        bool galera = false;  // wsrep_on: a Galera node
        bool ready = false;   // wsrep_ready = ON and wsrep_local_state = 4 (Synced)
        std::string state;    // wsrep_local_state_comment, for the log
    };
    // One connection to one host (nullptr: the socket) with the session settings; throws.
    void open(const DbHost* host, unsigned timeout);
    void connect_walk();
    Wsrep probe_galera();
    void apply_sync_reads();
    std::string on_host() const;  // " on host:port" for error messages, see there
    [[noreturn]] void fail(const char* what);
    void run(const std::string& sql);
    // Prepared path: the cached statement for sql (prepared now if new), executed with params.
    MYSQL_STMT* execute_prepared(const std::string& sql, const Params& params);
    [[noreturn]] void fail_stmt(MYSQL_STMT* stmt, const std::string& sql, const char* what);
    void close_statements() noexcept;

    DbConfig cfg_;
    MYSQL* conn_ = nullptr;
    std::string host_;              // of conn_
    std::optional<bool> galera_;    // of conn_, once known
    bool sync_reads_ = false;       // wanted (sync_reads())
    bool sync_applied_ = false;     // set on conn_
    std::map<std::string, MYSQL_STMT*> stmts_;  // per connection, see exec_prepared
};

// Rolls back unless commit() was called: nothing is ever half-written.
class Transaction {
public:
    explicit Transaction(Db& db) : db_(db) { db_.begin(); }
    ~Transaction() {
        if (!done_) db_.rollback();
    }
    void commit() {
        db_.commit();
        done_ = true;
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

private:
    Db& db_;
    bool done_ = false;
};

// Pause before running a transaction again after a conflict (attempt: the one about to run,
// 2 or more): 2 ms doubling up to 128 ms, jittered down to half, so that the transactions that
// collided do not collide again in lock-step. Counts the retry (db_conflict_retries()).
void deadlock_backoff(int attempt);

// Transactions run again after a deadlock, a Galera certification conflict or a lock wait
// timeout, in this process since it started (the metric webhook_db_conflict_retries_total).
uint64_t db_conflict_retries();

// with_transaction(): attempts in all by default, and the time after which no new attempt
// starts (a lock wait timeout alone takes innodb_lock_wait_timeout: it is not run again).
constexpr int kTransactionAttempts = 8;
constexpr std::chrono::milliseconds kTransactionRetryBudget{2000};

// Runs fn(db) inside a transaction. A conflict at any statement or at COMMIT (deadlock,
// Galera certification conflict, lock wait timeout) runs the whole of it again, after
// deadlock_backoff(), up to `attempts` times in all and while kTransactionRetryBudget has
// not passed; then the DbError is thrown (retryable(): the caller answers "try later").
template <typename Fn>
auto with_transaction(Db& db, Fn&& fn, int attempts = kTransactionAttempts) -> decltype(fn(db)) {
    const auto start = std::chrono::steady_clock::now();
    for (int attempt = 1;; ++attempt) {
        if (attempt > 1) deadlock_backoff(attempt);
        try {
            Transaction tx(db);
            if constexpr (std::is_void_v<decltype(fn(db))>) {
                fn(db);
                tx.commit();
                return;
            } else {
                auto result = fn(db);
                tx.commit();
                return result;
            }
        } catch (const DbError& e) {
            if (!e.retryable() || attempt >= attempts ||
                std::chrono::steady_clock::now() - start >= kTransactionRetryBudget)
                throw;
        }
    }
}

// Process-wide Connector/C setup; call once from main() or the parent before threads.
void db_library_init();

// Connector/C's per-thread state, for the life of a thread (other than main) that uses Db.
class DbThread {
public:
    DbThread();
    ~DbThread();
    DbThread(const DbThread&) = delete;
    DbThread& operator=(const DbThread&) = delete;
};

}  // namespace wh

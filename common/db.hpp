// The one MariaDB layer of the product, shared by the module and the worker.
// RAII over Connector/C; every failure is a DbError carrying the server's error number.
#pragma once

#include <mysql.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace wh {

// Plain data: where and how to connect. Parsed from "host=… port=… user=… …".
struct DbConfig {
    std::string host = "127.0.0.1";
    unsigned port = 3306;
    std::string socket;          // when set, used instead of host/port
    std::string user;
    std::string password;
    std::string database;
    unsigned connect_timeout = 2;  // seconds
    unsigned read_timeout = 10;    // seconds
    unsigned write_timeout = 10;   // seconds
};

// Parses space-separated key=value pairs (host, port, socket, user, password, database or
// dbname, connect_timeout, read_timeout, write_timeout). A value may be quoted with ' or "
// (backslash escapes the next character inside quotes): password='a b'. Returns "" or an
// error message, which never holds a value (it may be a password, or part of one).
std::string parse_db_config(const std::string& spec, DbConfig& out);

class DbError : public std::runtime_error {
public:
    DbError(unsigned code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
    unsigned code() const { return code_; }
    // The server is unreachable or the connection broke: callers answer 503 / reconnect.
    bool unavailable() const;
    // Deadlock or lock wait timeout: the whole transaction may be retried.
    bool retryable() const { return code_ == 1213 || code_ == 1205; }
    bool duplicate_key() const { return code_ == 1062; }

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

    // Connects (or reconnects after close()); throws DbError.
    void connect();
    bool connected() const { return conn_ != nullptr; }
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
    [[noreturn]] void fail(const char* what);
    void run(const std::string& sql);
    // Prepared path: the cached statement for sql (prepared now if new), executed with params.
    MYSQL_STMT* execute_prepared(const std::string& sql, const Params& params);
    [[noreturn]] void fail_stmt(MYSQL_STMT* stmt, const std::string& sql, const char* what);
    void close_statements() noexcept;

    DbConfig cfg_;
    MYSQL* conn_ = nullptr;
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

// Pause before retrying a deadlocked transaction: a few ms, growing, with jitter so that the
// transactions that collided do not collide again in lock-step.
void deadlock_backoff(int attempt);

// Runs fn(db) inside a transaction, retrying deadlocks (and lock wait timeouts) up to
// `attempts` times in all.
template <typename Fn>
auto with_transaction(Db& db, Fn&& fn, int attempts = 3) -> decltype(fn(db)) {
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
            if (!e.retryable() || attempt >= attempts) throw;
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

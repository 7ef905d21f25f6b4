#include "db.hpp"

#include <errmsg.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

namespace wh {

namespace {

bool parse_uint(const std::string& s, unsigned& out) {
    if (s.empty() || s.size() > 9) return false;
    unsigned v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + unsigned(c - '0');
    }
    out = v;
    return true;
}

// Splits "key=value key='a b' …" into items: a value may be quoted with ' or "
// (a backslash inside quotes takes the next character literally), so a password may hold
// spaces. Returns "" or an error that names the item's position, never its text.
std::string split_db_items(const std::string& spec, std::vector<std::pair<std::string, std::string>>& out) {
    size_t i = 0, n = spec.size();
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    for (int item = 1;; ++item) {
        while (i < n && blank(spec[i])) ++i;
        if (i == n) return "";
        size_t eq = i;
        while (eq < n && spec[eq] != '=' && !blank(spec[eq])) ++eq;
        if (eq == n || spec[eq] != '=' || eq == i)
            return "item " + std::to_string(item) + " is not key=value";
        std::string key = spec.substr(i, eq - i), value;
        i = eq + 1;
        while (i < n && !blank(spec[i])) {
            if (spec[i] != '\'' && spec[i] != '"') {
                value += spec[i++];
                continue;
            }
            char q = spec[i++];
            while (i < n && spec[i] != q) {
                if (spec[i] == '\\' && i + 1 < n) ++i;
                value += spec[i++];
            }
            if (i == n) return "item " + std::to_string(item) + " has a quote that is not closed";
            ++i;
        }
        out.emplace_back(std::move(key), std::move(value));
    }
}

}  // namespace

std::string parse_db_config(const std::string& spec, DbConfig& out) {
    std::vector<std::pair<std::string, std::string>> items;
    if (std::string e = split_db_items(spec, items); !e.empty()) return e;
    int item = 0;
    for (const auto& [key, value] : items) {
        ++item;
        if (key == "host") out.host = value;
        else if (key == "socket") out.socket = value;
        else if (key == "user") out.user = value;
        else if (key == "password") out.password = value;
        else if (key == "database" || key == "dbname") out.database = value;
        else if (key == "port" || key == "connect_timeout" || key == "read_timeout" ||
                 key == "write_timeout") {
            unsigned v;
            if (!parse_uint(value, v) || v == 0) return "'" + key + "' must be a positive integer";
            if (key == "port") out.port = v;
            else if (key == "connect_timeout") out.connect_timeout = v;
            else if (key == "read_timeout") out.read_timeout = v;
            else out.write_timeout = v;
        } else {
            // the key is not echoed either: a space in an unquoted password makes its tail one
            return "item " + std::to_string(item) +
                   " has an unknown key (known: host, port, socket, user, password, database, "
                   "connect_timeout, read_timeout, write_timeout; quote a value that holds spaces)";
        }
    }
    if (out.user.empty()) return "'user' is required";
    if (out.database.empty()) return "'database' is required";
    return "";
}

bool DbError::unavailable() const {
    // Client-side connection errors (2000-2999) and the server refusing connections.
    return (code_ >= 2000 && code_ < 3000) || code_ == 1040 /* too many connections */ ||
           code_ == 1053 /* shutdown in progress */ || code_ == 1927 /* connection killed */;
}

size_t Rows::col(const std::string& name) const {
    for (size_t i = 0; i < columns.size(); ++i)
        if (columns[i] == name) return i;
    throw std::out_of_range("no column " + name);
}

void deadlock_backoff(int attempt) {
    thread_local std::minstd_rand rng(std::random_device{}());
    int ms = std::min(attempt, 10) * 2 + int(rng() % 8);
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

void db_library_init() { mysql_library_init(0, nullptr, nullptr); }

DbThread::DbThread() { mysql_thread_init(); }
DbThread::~DbThread() { mysql_thread_end(); }

Db::Db(DbConfig cfg) : cfg_(std::move(cfg)) {}

Db::~Db() { close(); }

void Db::close() {
    close_statements();
    if (conn_) {
        mysql_close(conn_);
        conn_ = nullptr;
    }
}

void Db::close_statements() noexcept {
    for (auto& kv : stmts_) mysql_stmt_close(kv.second);
    stmts_.clear();
}

void Db::fail(const char* what) {
    unsigned code = conn_ ? mysql_errno(conn_) : 0;
    std::string msg = std::string(what) + ": " + (conn_ ? mysql_error(conn_) : "no connection");
    // A broken connection is useless: drop it so the next call reconnects.
    if ((code >= 2000 && code < 3000) || code == 1927 || code == 1053) close();
    throw DbError(code, msg);
}

void Db::connect() {
    if (conn_) return;
    conn_ = mysql_init(nullptr);
    if (!conn_) throw DbError(CR_OUT_OF_MEMORY, "mysql_init failed");
    mysql_options(conn_, MYSQL_OPT_CONNECT_TIMEOUT, &cfg_.connect_timeout);
    mysql_options(conn_, MYSQL_OPT_READ_TIMEOUT, &cfg_.read_timeout);
    mysql_options(conn_, MYSQL_OPT_WRITE_TIMEOUT, &cfg_.write_timeout);
    mysql_options(conn_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    my_bool no = 0;
    mysql_options(conn_, MYSQL_OPT_RECONNECT, &no);
    const char* host = cfg_.socket.empty() ? cfg_.host.c_str() : "localhost";
    const char* sock = cfg_.socket.empty() ? nullptr : cfg_.socket.c_str();
    if (!mysql_real_connect(conn_, host, cfg_.user.c_str(), cfg_.password.c_str(),
                            cfg_.database.c_str(), cfg_.socket.empty() ? cfg_.port : 0, sock,
                            CLIENT_MULTI_STATEMENTS | CLIENT_FOUND_ROWS)) {
        unsigned code = mysql_errno(conn_);
        std::string msg = std::string("connect: ") + mysql_error(conn_);
        close();
        throw DbError(code ? code : CR_CONNECTION_ERROR, msg);
    }
    // Short lock waits: a worker that cannot get a row quickly should move on.
    static const std::string init =
        "SET SESSION tx_isolation = 'READ-COMMITTED', SESSION innodb_lock_wait_timeout = 5, "
        "SESSION time_zone = '+00:00'";
    if (mysql_real_query(conn_, init.data(), init.size()) != 0) {
        // A session without its settings must not be used: drop it.
        unsigned code = mysql_errno(conn_);
        std::string msg = std::string("session setup: ") + mysql_error(conn_);
        close();
        throw DbError(code, msg);
    }
}

bool Db::ping() {
    if (!conn_) return false;
    if (mysql_ping(conn_) != 0) {
        close();
        return false;
    }
    return true;
}

bool Db::peer_open() {
    if (!conn_) return false;
    pollfd p{mysql_get_socket(conn_), POLLIN, 0};
    // An idle connection has nothing to read: anything readable (EOF, an error packet before
    // the server closes it) or a hang-up means the server is gone from this connection.
    if (p.fd < 0 || poll(&p, 1, 0) != 0) {
        close();
        return false;
    }
    return true;
}

void Db::rollback() noexcept {
    if (!conn_) return;
    if (mysql_real_query(conn_, "ROLLBACK", 8) != 0) close();
}

std::string Db::escape(const std::string& s) {
    connect();
    std::string out(s.size() * 2 + 1, '\0');
    unsigned long n = mysql_real_escape_string(conn_, &out[0], s.data(), s.size());
    out.resize(n);
    return out;
}

std::string Db::bind(const std::string& sql, const Params& params) {
    std::string out;
    out.reserve(sql.size() + 32 * params.size());
    size_t next = 0;
    char quote = 0;
    for (char c : sql) {
        // Placeholders inside string literals are text, not parameters.
        if (quote) {
            if (c == quote) quote = 0;
            out += c;
            continue;
        }
        if (c == '\'' || c == '"' || c == '`') {
            quote = c;
            out += c;
            continue;
        }
        if (c != '?') {
            out += c;
            continue;
        }
        if (next >= params.size()) throw DbError(0, "too few parameters for: " + sql);
        const Param& p = params[next++];
        if (p.is_null()) out += "NULL";
        else if (p.quoted()) out += "'" + escape(p.text()) + "'";
        else out += p.text();
    }
    if (next != params.size()) throw DbError(0, "too many parameters for: " + sql);
    return out;
}

void Db::run(const std::string& sql) {
    if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) fail("query");
}

uint64_t Db::exec(const std::string& sql, const Params& params) {
    connect();
    run(bind(sql, params));
    MYSQL_RES* res = mysql_store_result(conn_);
    if (res) mysql_free_result(res);
    return mysql_affected_rows(conn_);
}

Rows Db::query(const std::string& sql, const Params& params) {
    connect();
    run(bind(sql, params));
    std::unique_ptr<MYSQL_RES, decltype(&mysql_free_result)> res(mysql_store_result(conn_),
                                                                 &mysql_free_result);
    Rows out;
    if (!res) {
        if (mysql_field_count(conn_) != 0) fail("store result");
        return out;
    }
    unsigned n = mysql_num_fields(res.get());
    MYSQL_FIELD* fields = mysql_fetch_fields(res.get());
    for (unsigned i = 0; i < n; ++i) out.columns.emplace_back(fields[i].name);
    while (MYSQL_ROW row = mysql_fetch_row(res.get())) {
        unsigned long* lens = mysql_fetch_lengths(res.get());
        Rows::Row r(n);
        for (unsigned i = 0; i < n; ++i)
            if (row[i]) r[i] = std::string(row[i], lens[i]);
        out.rows.push_back(std::move(r));
    }
    return out;
}

void Db::exec_script(const std::string& sql) {
    connect();
    if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) fail("script");
    for (;;) {
        MYSQL_RES* res = mysql_store_result(conn_);
        if (res) mysql_free_result(res);
        int more = mysql_next_result(conn_);
        if (more > 0) fail("script");
        if (more < 0) break;
    }
}

// ---- prepared statements ------------------------------------------------------------------

namespace {

bool connection_error(unsigned code) {
    return (code >= 2000 && code < 3000) || code == 1927 || code == 1053;
}

constexpr unsigned kNeedReprepare = 1615;  // ER_NEED_REPREPARE: a table changed under it

}  // namespace

void Db::fail_stmt(MYSQL_STMT* stmt, const std::string& sql, const char* what) {
    unsigned code = mysql_stmt_errno(stmt);
    std::string msg = std::string(what) + ": " + mysql_stmt_error(stmt);
    if (!code) {  // some failures are reported on the connection only
        code = conn_ ? mysql_errno(conn_) : 0;
        if (code) msg = std::string(what) + ": " + mysql_error(conn_);
    }
    auto it = stmts_.find(sql);
    if (it == stmts_.end() || it->second != stmt) mysql_stmt_close(stmt);  // not cached yet
    if (connection_error(code)) close();  // drops every statement with the connection
    throw DbError(code, msg);
}

MYSQL_STMT* Db::execute_prepared(const std::string& sql, const Params& params) {
    for (int round = 0;; ++round) {
        connect();
        MYSQL_STMT* stmt;
        auto it = stmts_.find(sql);
        if (it != stmts_.end()) {
            stmt = it->second;
        } else {
            stmt = mysql_stmt_init(conn_);
            if (!stmt) throw DbError(CR_OUT_OF_MEMORY, "mysql_stmt_init failed");
            if (mysql_stmt_prepare(stmt, sql.data(), sql.size()) != 0) fail_stmt(stmt, sql, "prepare");
            my_bool update_max = 1;  // result buffers are sized from the stored result
            mysql_stmt_attr_set(stmt, STMT_ATTR_UPDATE_MAX_LENGTH, &update_max);
            stmts_[sql] = stmt;
        }
        if (mysql_stmt_param_count(stmt) != params.size())
            throw DbError(0, "expected " + std::to_string(mysql_stmt_param_count(stmt)) + " parameters, got " +
                                 std::to_string(params.size()) + " for: " + sql);
        std::vector<MYSQL_BIND> binds(params.size());
        std::vector<unsigned long> lengths(params.size());
        std::vector<unsigned long long> numbers(params.size());
        for (size_t i = 0; i < params.size(); ++i) {
            const Param& p = params[i];
            MYSQL_BIND& b = binds[i];
            b = MYSQL_BIND{};
            if (p.is_null()) {
                b.buffer_type = MYSQL_TYPE_NULL;
            } else if (p.quoted()) {
                // Bytes with their length: NULs and invalid UTF-8 reach the server as sent.
                lengths[i] = p.text().size();
                b.buffer_type = MYSQL_TYPE_STRING;
                b.buffer = const_cast<char*>(p.text().data());
                b.buffer_length = lengths[i];
                b.length = &lengths[i];
            } else {
                const std::string& t = p.text();  // an integer written by Param
                b.buffer_type = MYSQL_TYPE_LONGLONG;
                if (!t.empty() && t[0] == '-') {
                    long long v = std::strtoll(t.c_str(), nullptr, 10);
                    std::memcpy(&numbers[i], &v, sizeof v);
                } else {
                    numbers[i] = std::strtoull(t.c_str(), nullptr, 10);
                    b.is_unsigned = 1;
                }
                b.buffer = &numbers[i];
            }
        }
        if (!binds.empty() && mysql_stmt_bind_param(stmt, binds.data()) != 0) fail_stmt(stmt, sql, "bind");
        if (mysql_stmt_execute(stmt) != 0) {
            if (round == 0 && mysql_stmt_errno(stmt) == kNeedReprepare) {
                stmts_.erase(sql);
                mysql_stmt_close(stmt);
                continue;  // prepare it again once
            }
            fail_stmt(stmt, sql, "execute");
        }
        return stmt;
    }
}

uint64_t Db::exec_prepared(const std::string& sql, const Params& params) {
    MYSQL_STMT* stmt = execute_prepared(sql, params);
    if (mysql_stmt_field_count(stmt) > 0) {  // rows nobody asked for: discard them
        if (mysql_stmt_store_result(stmt) != 0) fail_stmt(stmt, sql, "store result");
        mysql_stmt_free_result(stmt);
    }
    return mysql_stmt_affected_rows(stmt);
}

Rows Db::query_prepared(const std::string& sql, const Params& params) {
    MYSQL_STMT* stmt = execute_prepared(sql, params);
    Rows out;
    unsigned n = mysql_stmt_field_count(stmt);
    if (n == 0) return out;
    if (mysql_stmt_store_result(stmt) != 0) fail_stmt(stmt, sql, "store result");
    struct FreeResult {
        MYSQL_STMT* s;
        ~FreeResult() { mysql_stmt_free_result(s); }
    } free_result{stmt};
    std::unique_ptr<MYSQL_RES, decltype(&mysql_free_result)> meta(mysql_stmt_result_metadata(stmt),
                                                                  &mysql_free_result);
    if (!meta) fail_stmt(stmt, sql, "result metadata");
    MYSQL_FIELD* fields = mysql_fetch_fields(meta.get());
    std::vector<MYSQL_BIND> binds(n);
    std::vector<std::vector<char>> bufs(n);
    std::vector<unsigned long> lengths(n);
    std::vector<my_bool> nulls(n), errors(n);
    for (unsigned i = 0; i < n; ++i) {
        out.columns.emplace_back(fields[i].name);
        // Numbers and dates come back converted to text; 64 bytes hold any of them.
        bufs[i].resize(std::max<unsigned long>(fields[i].max_length, 64) + 1);
        binds[i] = MYSQL_BIND{};
        binds[i].buffer_type = MYSQL_TYPE_STRING;
        binds[i].buffer = bufs[i].data();
        binds[i].buffer_length = bufs[i].size();
        binds[i].length = &lengths[i];
        binds[i].is_null = &nulls[i];
        binds[i].error = &errors[i];
    }
    if (mysql_stmt_bind_result(stmt, binds.data()) != 0) fail_stmt(stmt, sql, "bind result");
    for (;;) {
        int rc = mysql_stmt_fetch(stmt);
        if (rc == MYSQL_NO_DATA) break;
        if (rc == 1) fail_stmt(stmt, sql, "fetch");
        Rows::Row r(n);
        for (unsigned i = 0; i < n; ++i) {
            if (nulls[i]) continue;
            if (lengths[i] <= bufs[i].size()) {
                r[i] = std::string(bufs[i].data(), lengths[i]);
                continue;
            }
            // Longer than max_length promised (MYSQL_DATA_TRUNCATED): fetch that cell again.
            std::string big(lengths[i], '\0');
            MYSQL_BIND b{};
            unsigned long len = 0;
            b.buffer_type = MYSQL_TYPE_STRING;
            b.buffer = &big[0];
            b.buffer_length = big.size();
            b.length = &len;
            if (mysql_stmt_fetch_column(stmt, &b, i, 0) != 0) fail_stmt(stmt, sql, "fetch column");
            big.resize(std::min<unsigned long>(len, big.size()));
            r[i] = std::move(big);
        }
        out.rows.push_back(std::move(r));
    }
    return out;
}

uint64_t Db::last_insert_id() const { return conn_ ? mysql_insert_id(conn_) : 0; }

}  // namespace wh

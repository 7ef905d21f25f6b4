#include "db.hpp"

#include <arpa/inet.h>
#include <errmsg.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
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

constexpr size_t kMaxDbHosts = 16;

bool host_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

// One entry of host=: name, name:port, [v6] or [v6]:port. "" or why not (never the text).
std::string parse_db_host(const std::string& text, DbHost& out) {
    std::string name = text, port;
    if (!text.empty() && text[0] == '[') {
        size_t close = text.find(']');
        if (close == std::string::npos) return "has a '[' without its ']'";
        name = text.substr(1, close - 1);
        in6_addr a6;
        if (inet_pton(AF_INET6, name.c_str(), &a6) != 1) return "is not an IPv6 address inside [ ]";
        if (close + 1 < text.size()) {
            if (text[close + 1] != ':') return "has text after ']' that is not :port";
            port = text.substr(close + 2);
            if (port.empty()) return "has an empty port";
        }
    } else {
        size_t colon = text.find(':');
        if (colon != std::string::npos) {
            if (text.find(':', colon + 1) != std::string::npos)
                return "has several ':' (write an IPv6 address in brackets: [address]:port)";
            name = text.substr(0, colon);
            port = text.substr(colon + 1);
            if (port.empty()) return "has an empty port";
        }
        if (name.empty()) return "has no host name";
        if (!std::all_of(name.begin(), name.end(), host_name_char))
            return "is not a host name, an IPv4 address or [IPv6]:port";
    }
    unsigned p = 0;
    if (!port.empty() && (!parse_uint(port, p) || p == 0 || p > 65535))
        return "has a port that is not a number from 1 to 65535";
    out = DbHost{name, p};
    return "";
}

// host=h1:p1,h2,[::1]:p3: the list, in order.
std::string parse_db_hosts(const std::string& value, std::vector<DbHost>& out) {
    std::vector<DbHost> hosts;
    size_t start = 0;
    for (size_t n = 1;; ++n) {
        size_t comma = value.find(',', start);
        std::string entry = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (n > kMaxDbHosts) return "'host' lists more than " + std::to_string(kMaxDbHosts) + " hosts";
        DbHost h;
        if (entry.empty()) return "'host' entry " + std::to_string(n) + " is empty";
        if (std::string e = parse_db_host(entry, h); !e.empty())
            return "'host' entry " + std::to_string(n) + " " + e;
        hosts.push_back(std::move(h));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    out = std::move(hosts);
    return "";
}

}  // namespace

std::string parse_db_config(const std::string& spec, DbConfig& out) {
    std::vector<std::pair<std::string, std::string>> items;
    if (std::string e = split_db_items(spec, items); !e.empty()) return e;
    int item = 0;
    for (const auto& [key, value] : items) {
        ++item;
        if (key == "host") {
            if (std::string e = parse_db_hosts(value, out.hosts); !e.empty()) return e;
        } else if (key == "socket") out.socket = value;
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

std::string db_host_label(const DbConfig& cfg, const DbHost& host) {
    std::string name = host.name.find(':') != std::string::npos ? "[" + host.name + "]" : host.name;
    return name + ":" + std::to_string(host.port ? host.port : cfg.port);
}

std::string db_where(const DbConfig& cfg) {
    if (!cfg.socket.empty()) return cfg.socket;
    std::string out;
    for (const DbHost& h : cfg.hosts) out += (out.empty() ? "" : ",") + db_host_label(cfg, h);
    return out;
}

bool db_unavailable(unsigned code) {
    // Client-side connection errors (2000-2999), the server refusing connections or going
    // down, and a Galera node that cannot serve: outside the primary component (1047), or it
    // lost it while committing (1180).
    return (code >= 2000 && code < 3000) || code == 1040 /* too many connections */ ||
           code == 1053 /* shutdown in progress */ || code == 1927 /* connection killed */ ||
           code == 1047 /* WSREP has not yet prepared node for application use */ ||
           code == 1180 /* error during COMMIT */;
}

bool db_retryable(unsigned code) { return code == 1213 || code == 1205; }

bool db_no_server(unsigned code) { return code == 2002 || code == 2003; }

std::string DbError::cause() const {
    const char* what;
    switch (code_) {
    case 1047: what = "the MariaDB node is not part of the Galera primary component"; break;
    case 1180: what = "the MariaDB node failed to commit (on Galera: it left the primary component)"; break;
    case 2006: what = "the MariaDB server has gone away"; break;
    case 2013: what = "the connection to MariaDB was lost during a query"; break;
    case 1040: what = "MariaDB refuses connections: too many"; break;
    case 1053: what = "the MariaDB server is shutting down"; break;
    case 1927: what = "the connection to MariaDB was killed"; break;
    case 1213: what = "a transaction kept conflicting past its retries (deadlock or Galera certification conflict)"; break;
    case 1205: what = "a lock wait timed out"; break;
    default:
        if (code_ < 2000 || code_ >= 3000) return "";
        what = "MariaDB is unreachable";
    }
    return std::string(what) + " (error " + std::to_string(code_) + ")";
}

std::string DbError::explain() const {
    std::string c = cause();
    return c.empty() ? what() : c + ": " + what();
}

size_t Rows::col(const std::string& name) const {
    for (size_t i = 0; i < columns.size(); ++i)
        if (columns[i] == name) return i;
    throw std::out_of_range("no column " + name);
}

namespace {
std::atomic<uint64_t> g_conflict_retries{0};
}

void deadlock_backoff(int attempt) {
    g_conflict_retries.fetch_add(1, std::memory_order_relaxed);
    thread_local std::minstd_rand rng(std::random_device{}());
    int ceiling = 2 << std::clamp(attempt - 2, 0, 6);  // 2, 4, … 128 ms
    int ms = ceiling / 2 + int(rng() % unsigned(ceiling / 2 + 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

uint64_t db_conflict_retries() { return g_conflict_retries.load(std::memory_order_relaxed); }

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
    host_.clear();
    galera_.reset();
    sync_applied_ = false;
}

void Db::close_statements() noexcept {
    for (auto& kv : stmts_) mysql_stmt_close(kv.second);
    stmts_.clear();
}

void Db::fail(const char* what) {
    unsigned code = conn_ ? mysql_errno(conn_) : 0;
    std::string msg = std::string(what) + on_host() + ": " + (conn_ ? mysql_error(conn_) : "no connection");
    // A broken connection, or one to a node that cannot serve, is useless: drop it so that
    // the next call connects again (and picks a host again).
    if (db_unavailable(code)) close();
    throw DbError(code, msg);
}

std::string Db::on_host() const {
    // With one server the message says enough; with a list, which node failed matters.
    return cfg_.socket.empty() && cfg_.hosts.size() > 1 && !host_.empty() ? " on " + host_ : "";
}

void Db::open(const DbHost* h, unsigned timeout) {
    conn_ = mysql_init(nullptr);
    if (!conn_) throw DbError(CR_OUT_OF_MEMORY, "mysql_init failed");
    mysql_options(conn_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(conn_, MYSQL_OPT_READ_TIMEOUT, &cfg_.read_timeout);
    mysql_options(conn_, MYSQL_OPT_WRITE_TIMEOUT, &cfg_.write_timeout);
    mysql_options(conn_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    my_bool no = 0;
    mysql_options(conn_, MYSQL_OPT_RECONNECT, &no);
    const char* host = h ? h->name.c_str() : "localhost";
    unsigned port = h ? (h->port ? h->port : cfg_.port) : 0;
    const char* sock = h ? nullptr : cfg_.socket.c_str();
    if (!mysql_real_connect(conn_, host, cfg_.user.c_str(), cfg_.password.c_str(), cfg_.database.c_str(), port,
                            sock, CLIENT_MULTI_STATEMENTS | CLIENT_FOUND_ROWS)) {
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
    host_ = h ? db_host_label(cfg_, *h) : cfg_.socket;
}

void Db::connect() {
    if (conn_) return;
    if (cfg_.socket.empty() && cfg_.hosts.empty()) throw DbError(CR_CONNECTION_ERROR, "connect: no host to connect to");
    if (!cfg_.socket.empty() || cfg_.hosts.size() == 1)
        open(cfg_.socket.empty() ? &cfg_.hosts[0] : nullptr, cfg_.connect_timeout);
    else
        connect_walk();
    if (!sync_reads_) return;
    try {
        apply_sync_reads();
    } catch (const DbError&) {
        close();  // a session without the setting it was asked for is not used
        throw;
    }
}

void Db::connect_walk() {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::seconds(cfg_.connect_timeout);
    const size_t n = cfg_.hosts.size();
    unsigned first_code = 0;
    std::string tried;
    for (size_t i = 0; i < n; ++i) {
        long long left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (i > 0 && left <= 0) break;
        // Shared among the hosts still to try: a host that hangs leaves time for the next ones.
        unsigned timeout = unsigned(std::max<long long>(1, left / 1000 / (long long)(n - i)));
        const DbHost& h = cfg_.hosts[i];
        unsigned code;
        std::string why;
        try {
            open(&h, timeout);
            Wsrep w = probe_galera();
            if (!w.galera || w.ready) return;
            code = 1047;  // what the node itself answers to statements in that state
            why = "a Galera node that is not ready and Synced (state " + (w.state.empty() ? "?" : w.state) + ")";
        } catch (const DbError& e) {
            code = e.code();
            why = e.what();
        }
        close();
        if (!code) code = CR_CONNECTION_ERROR;
        // The code of the first host that was reached says more than a host with no server.
        if (!first_code || (db_no_server(first_code) && !db_no_server(code))) first_code = code;
        tried += (tried.empty() ? "" : "; ") + db_host_label(cfg_, h) + ": " + why;
    }
    throw DbError(first_code, "connect: no healthy host within connect_timeout (" + tried + ")");
}

Db::Wsrep Db::probe_galera() {
    // Readable on a node outside the primary component too (information_schema only).
    Rows r = query(
        "SELECT LOWER(VARIABLE_NAME), VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES "
        "WHERE VARIABLE_NAME = 'WSREP_ON' UNION ALL SELECT LOWER(VARIABLE_NAME), VARIABLE_VALUE "
        "FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('WSREP_READY', "
        "'WSREP_LOCAL_STATE', 'WSREP_LOCAL_STATE_COMMENT')");
    std::map<std::string, std::string> v;
    for (const auto& row : r.rows)
        if (row.size() == 2 && row[0] && row[1]) v[*row[0]] = *row[1];
    Wsrep w;
    w.galera = v["wsrep_on"] == "ON";
    w.ready = v["wsrep_ready"] == "ON" && v["wsrep_local_state"] == "4";  // 4: Synced
    w.state = v["wsrep_local_state_comment"];
    galera_ = w.galera;
    return w;
}

void Db::sync_reads(bool on) {
    sync_reads_ = on;
    if (conn_) apply_sync_reads();
}

bool Db::galera() {
    if (!conn_) connect();
    if (!galera_) probe_galera();
    return *galera_;
}

void Db::apply_sync_reads() {
    if (sync_applied_ == sync_reads_) return;
    if (!galera_) probe_galera();
    if (!*galera_) return;  // the variable means nothing there (and may not exist)
    exec(sync_reads_ ? "SET SESSION wsrep_sync_wait = 1" : "SET SESSION wsrep_sync_wait = 0");
    sync_applied_ = sync_reads_;
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

constexpr unsigned kNeedReprepare = 1615;  // ER_NEED_REPREPARE: a table changed under it

}  // namespace

void Db::fail_stmt(MYSQL_STMT* stmt, const std::string& sql, const char* what) {
    unsigned code = mysql_stmt_errno(stmt);
    std::string msg = std::string(what) + on_host() + ": " + mysql_stmt_error(stmt);
    if (!code) {  // some failures are reported on the connection only
        code = conn_ ? mysql_errno(conn_) : 0;
        if (code) msg = std::string(what) + on_host() + ": " + mysql_error(conn_);
    }
    auto it = stmts_.find(sql);
    if (it == stmts_.end() || it->second != stmt) mysql_stmt_close(stmt);  // not cached yet
    if (db_unavailable(code)) close();  // drops every statement with the connection
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

#include "db.hpp"

#include <errmsg.h>

#include <sstream>

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

}  // namespace

std::string parse_db_config(const std::string& spec, DbConfig& out) {
    std::istringstream in(spec);
    std::string item;
    while (in >> item) {
        auto eq = item.find('=');
        if (eq == std::string::npos || eq == 0) return "expected key=value, got '" + item + "'";
        std::string key = item.substr(0, eq), value = item.substr(eq + 1);
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
            return "unknown key '" + key + "'";
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

void db_library_init() { mysql_library_init(0, nullptr, nullptr); }

Db::Db(DbConfig cfg) : cfg_(std::move(cfg)) {}

Db::~Db() { close(); }

void Db::close() {
    if (conn_) {
        mysql_close(conn_);
        conn_ = nullptr;
    }
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

uint64_t Db::last_insert_id() const { return conn_ ? mysql_insert_id(conn_) : 0; }

}  // namespace wh

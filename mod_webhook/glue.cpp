// The thin httpd glue of mod_webhook: config structs and directives, post_config key
// loading, the per-child DB pool, body reading, logging, and the handler that adapts a
// request_rec to the httpd-free core (core/). No exception ever leaves this file.
#include <strings.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <chrono>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_expr.h"
#include "apr_buckets.h"
#include "apr_lib.h"
#include "apr_strings.h"
#include "util_filter.h"

#include "glue.h"
#include "metrics_glue.h"

#include "crypto.hpp"
#include "db.hpp"
#include "http.hpp"
#include "log.hpp"
#include "module_config.hpp"
#include "problem.hpp"
#include "router.hpp"
#include "target.hpp"
#include "wakeup.hpp"

extern "C" {
APLOG_USE_MODULE(webhook);
}

namespace {

// A whole decimal number from lo to hi (the one parser of numeric values: directives and
// Content-Length).
bool whole_number(const char* text, apr_off_t lo, apr_off_t hi, apr_off_t& n) {
    char* end = nullptr;
    return apr_strtoff(&n, text, &end, 10) == APR_SUCCESS && end && *end == '\0' && n >= lo && n <= hi;
}

using wh::api::DirConf;
using wh::api::ServerConf;

ServerConf* server_conf(server_rec* s) {
    return static_cast<ServerConf*>(ap_get_module_config(s->module_config, &webhook_module));
}
DirConf* dir_conf(request_rec* r) {
    return static_cast<DirConf*>(ap_get_module_config(r->per_dir_config, &webhook_module));
}

// ---- logging: the core's wh::log_* lines go to the error log ----

void log_sink(void* baton, wh::LogLevel level, const std::string& line) {
    int lv = APLOG_DEBUG;
    switch (level) {
        case wh::LogLevel::error: lv = APLOG_ERR; break;
        case wh::LogLevel::warn: lv = APLOG_WARNING; break;
        case wh::LogLevel::info: lv = APLOG_INFO; break;
        case wh::LogLevel::debug: lv = APLOG_DEBUG; break;
    }
    ap_log_error(APLOG_MARK, lv, 0, static_cast<server_rec*>(baton), "%s", line.c_str());
}

// ---- the per-child pool of MariaDB connections ----

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
    std::unique_ptr<wh::Db> acquire(bool& stalled) {
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
        // A connection used within kPingAfter is checked without a round trip (a ping was one
        // of four round trips of a single event): a server that closed it (restart, KILL)
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

    void release(std::unique_ptr<wh::Db> db, bool broken) {
        if (!db || broken) return;  // destroyed: closes the connection
        std::lock_guard<std::mutex> lock(mu_);
        free_.push_back(Pooled{std::move(db), Clock::now()});
    }

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

apr_status_t destroy_notifiers(void* data) {
    try {
        auto* v = static_cast<std::vector<wh::WakeupCoalescer*>*>(data);
        for (wh::WakeupCoalescer* n : *v) delete n;
        delete v;
    } catch (...) {
    }
    return APR_SUCCESS;
}

// WebhookNotifyWorker's words ("Off" = none).
std::vector<std::string> notify_specs(apr_pool_t* p, const char* raw) {
    std::vector<std::string> out;
    for (const char* rest = raw ? raw : ""; *rest;) {
        const char* w = ap_getword_conf(p, &rest);
        if (*w) out.emplace_back(w);
    }
    if (out.size() == 1 && strcasecmp(out[0].c_str(), "Off") == 0) out.clear();
    return out;
}

// At most one wake-up datagram per child per 2 ms under load (WakeupCoalescer): well below
// the worker's own 5 ms between wake-up-triggered cycles, so delivery latency stays the same.
constexpr std::chrono::microseconds kWakeupGap{2000};

apr_status_t destroy_pools(void* data) {
    try {
        auto* pools = static_cast<std::vector<DbPool*>*>(data);
        for (DbPool* p : *pools) delete p;
        delete pools;
    } catch (...) {
    }
    return APR_SUCCESS;
}

// ---- request helpers ----

// The route is the URI below the <Location> that maps the handler. httpd creates our
// per-dir config only in sections that use a Webhook* directive, so the section path comes
// from core's per-dir config (the last section with a core directive such as SetHandler)
// or from ours (see wh::api::resolve_route).
void route_path(request_rec* r, const DirConf* dc, wh::api::Handler handler, std::string& route,
                std::string& base) {
    auto* core = static_cast<core_dir_config*>(ap_get_core_module_config(r->per_dir_config));
    std::vector<std::string> candidates;
    if (core && core->d) candidates.emplace_back(core->d);
    if (dc && dc->location) candidates.emplace_back(dc->location);
    wh::api::resolve_route(handler, r->uri ? r->uri : "", candidates, route, base);
}

// Reads the whole body with a hard cap. Returns OK, HTTP_REQUEST_ENTITY_TOO_LARGE, or the
// status the input filters reported (AP_FILTER_ERROR when they already answered).
int read_body(request_rec* r, apr_off_t cap, std::string& out) {
    apr_bucket_brigade* bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    bool eos = false;
    while (!eos) {
        apr_status_t rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, APR_BLOCK_READ, 8192);
        if (rv != APR_SUCCESS) {
            apr_brigade_cleanup(bb);
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
        for (apr_bucket* b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
            if (APR_BUCKET_IS_EOS(b)) {
                eos = true;
                break;
            }
            if (APR_BUCKET_IS_METADATA(b)) continue;
            const char* data = nullptr;
            apr_size_t len = 0;
            rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ);
            if (rv != APR_SUCCESS) {
                apr_brigade_cleanup(bb);
                return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
            }
            if (static_cast<apr_off_t>(out.size() + len) > cap) {
                apr_brigade_cleanup(bb);
                return HTTP_REQUEST_ENTITY_TOO_LARGE;
            }
            out.append(data, len);
        }
        apr_brigade_cleanup(bb);
    }
    return OK;
}

int send_response(request_rec* r, const wh::api::HttpResponse& resp) {
    r->status = resp.status;
    wh_metrics_observe(r, resp.status, resp.body);  // every answer counts in the shared block
    for (const auto& h : resp.headers) apr_table_set(r->headers_out, h.first.c_str(), h.second.c_str());
    // Secrets appear in some bodies; nothing here may be cached.
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!resp.content_type.empty()) ap_set_content_type(r, apr_pstrdup(r->pool, resp.content_type.c_str()));
    if (!resp.body.empty()) {
        ap_set_content_length(r, static_cast<apr_off_t>(resp.body.size()));
        ap_rwrite(resp.body.data(), static_cast<int>(resp.body.size()), r);
    }
    return OK;
}

int too_large(request_rec* r, apr_off_t cap) {
    // Do not read (or keep alive for) the rest of an oversized body.
    r->connection->keepalive = AP_CONN_CLOSE;
    return send_response(r, wh::api::problem(413, "the request body is larger than " +
                                                      std::to_string(static_cast<long long>(cap)) +
                                                      " bytes (WebhookMaxBodySize)"));
}

// Gives the heap memory of a large request back to the system once everything built from
// its body is freed: parsing a 1 MiB body allocates some 200,000 small blocks, which glibc
// keeps in the thread's arena (about 20 MB per request thread, never returned) otherwise.
struct TrimAfterLargeBody {
    static constexpr size_t kLarge = 64 * 1024;
    size_t body_size = 0;
    TrimAfterLargeBody() = default;
    TrimAfterLargeBody(const TrimAfterLargeBody&) = delete;
    TrimAfterLargeBody& operator=(const TrimAfterLargeBody&) = delete;
    ~TrimAfterLargeBody() {
#ifdef __GLIBC__
        if (body_size >= kLarge) malloc_trim(0);
#endif
    }
};

int serve(request_rec* r, wh::api::Handler handler) {
    TrimAfterLargeBody trim;  // first: runs after the body, the request and the answer are freed
    ServerConf* sc = server_conf(r->server);
    DirConf* dc = dir_conf(r);
    if (!sc->db_spec || !sc->pool) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "WH00006: SetHandler %s is used but this server has no WebhookDatabase; "
                      "add WebhookDatabase (and WebhookSecretKeyFile) to the server config",
                      r->handler);
        return send_response(r, wh::api::problem(500, "the webhook module is not configured"));
    }

    apr_off_t cap = static_cast<apr_off_t>(wh::api::max_body_size(dc));
    if (const char* cl = apr_table_get(r->headers_in, "Content-Length")) {
        apr_off_t n = 0;
        if (whole_number(cl, cap + 1, std::numeric_limits<apr_off_t>::max(), n)) return too_large(r, cap);
    }
    std::string body;
    int rc = read_body(r, cap, body);
    trim.body_size = body.size();
    if (rc == HTTP_REQUEST_ENTITY_TOO_LARGE) return too_large(r, cap);
    if (rc != OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "WH00014: reading the request body failed (status %d): the client sent an "
                      "incomplete or too slow body; if this is frequent, check RequestReadTimeout "
                      "and LimitRequestBody for this <Location>",
                      rc);
        return rc;
    }

    wh::api::ApiConfig cfg;
    std::unique_ptr<wh::SecretBox> box;
    // Only the registration API seals credentials and checks target addresses: the events
    // path skips both (parsing WebhookAllowPrivateTargets was ~2% of Apache's CPU per event,
    // docs/ingest-profile.md).
    if (handler == wh::api::Handler::api && sc->key_loaded) {
        wh::SecretBox::Key key;
        std::memcpy(key.data(), sc->key, key.size());
        box = std::make_unique<wh::SecretBox>(key);
        explicit_bzero(key.data(), key.size());
        cfg.box = box.get();
    }
    if (handler == wh::api::Handler::api) {
        cfg.max_endpoints_per_scope = static_cast<unsigned>(wh::api::max_endpoints_per_scope(sc));
        std::string perr = cfg.policy.parse(wh::api::allow_private_targets(sc));
        if (!perr.empty())  // validated by the directive already; keep the safe default
            cfg.policy.parse("Off");
    }

    auto* pool = static_cast<DbPool*>(sc->pool);
    bool stalled = false;
    std::unique_ptr<wh::Db> db = pool->acquire(stalled);
    if (stalled) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "WH00060: MariaDB did not answer within WebhookDatabaseTimeout; answering 503. "
                      "Check that MariaDB runs and is not overloaded or stopped, and that WebhookDatabase "
                      "points at it");
        wh::api::HttpResponse busy = wh::api::problem(503, "the database is unavailable; retry later");
        busy.set_header("Retry-After", "2");
        return send_response(r, busy);
    }
    wh::api::HttpRequest req(*db, cfg);
    req.method = r->method ? r->method : "";
    route_path(r, dc, handler, req.path, req.base_path);
    req.query = r->args ? r->args : "";
    const char* ct = apr_table_get(r->headers_in, "Content-Type");
    req.content_type = ct ? ct : "";
    apr_table_do(
        [](void* rec, const char* key, const char* value) -> int {
            auto* h = static_cast<std::map<std::string, std::string>*>(rec);
            std::string k = key;
            for (auto& c : k) c = char(apr_tolower(c));
            (*h)[k] = value ? value : "";
            return 1;
        },
        &req.headers, r->headers_in, nullptr);
    req.body = std::move(body);
    req.user = r->user ? r->user : "";
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "%s %s route '%s' below '%s'", r->handler,
                  req.method.c_str(), req.path.c_str(), req.base_path.c_str());

    wh::api::HttpResponse resp = wh::api::handle(handler, req);
    pool->release(std::move(db), resp.drop_db);
    // After COMMIT: nudge the worker (non-blocking UDP; a lost datagram only costs latency).
    // Coalesced: commits within kWakeupGap of a datagram share the next one.
    if (resp.wake_worker && sc->notifier) static_cast<wh::WakeupCoalescer*>(sc->notifier)->notify();
    return send_response(r, resp);
}

const char* cmd_error(cmd_parms* cmd, const char* tag, const std::string& msg) {
    return apr_psprintf(cmd->pool, "%s: %s: %s", tag, cmd->directive->directive, msg.c_str());
}

}  // namespace

// ---- entry points (see glue.h) ----

extern "C" void* wh_create_server_config(apr_pool_t* p, server_rec*) {
    auto* c = static_cast<ServerConf*>(apr_palloc(p, sizeof(ServerConf)));
    wh::api::init_server_conf(*c);
    return c;
}

extern "C" void* wh_merge_server_config(apr_pool_t* p, void* base, void* add) {
    auto* c = static_cast<ServerConf*>(apr_palloc(p, sizeof(ServerConf)));
    wh::api::merge_server_conf(*static_cast<ServerConf*>(base), *static_cast<ServerConf*>(add), *c);
    return c;
}

extern "C" void* wh_create_dir_config(apr_pool_t* p, char* dir) {
    auto* c = static_cast<DirConf*>(apr_palloc(p, sizeof(DirConf)));
    wh::api::init_dir_conf(*c, dir ? apr_pstrdup(p, dir) : nullptr);
    return c;
}

extern "C" void* wh_merge_dir_config(apr_pool_t* p, void* base, void* add) {
    auto* c = static_cast<DirConf*>(apr_palloc(p, sizeof(DirConf)));
    wh::api::merge_dir_conf(*static_cast<DirConf*>(base), *static_cast<DirConf*>(add), *c);
    return c;
}

extern "C" const char* wh_cmd_database(cmd_parms* cmd, void*, const char* arg) {
    try {
        wh::DbConfig cfg;
        std::string err = wh::parse_db_config(arg, cfg);
        if (!err.empty())
            return cmd_error(cmd, "WH00001", err + "; expected \"host=... port=... user=... password=... "
                                              "database=...\" or socket=... instead of host/port");
        server_conf(cmd->server)->db_spec = apr_pstrdup(cmd->pool, arg);
        return nullptr;
    } catch (const std::exception& e) {
        return cmd_error(cmd, "WH00001", e.what());
    } catch (...) {
        return "WH00001: WebhookDatabase: unexpected error";
    }
}

extern "C" const char* wh_cmd_secret_key_file(cmd_parms* cmd, void*, const char* arg) {
    const char* path = ap_server_root_relative(cmd->pool, arg);
    if (!path) return apr_psprintf(cmd->pool, "WH00017: %s: invalid path '%s'", cmd->directive->directive, arg);
    server_conf(cmd->server)->key_file = path;
    return nullptr;
}

extern "C" const char* wh_cmd_allow_private_targets(cmd_parms* cmd, void*, const char* args) {
    try {
        // Words may be quoted together or given one by one: split as httpd does.
        std::string words;
        for (const char* rest = args ? args : ""; *rest;) {
            const char* w = ap_getword_conf(cmd->temp_pool, &rest);
            if (*w) words += std::string(words.empty() ? "" : " ") + w;
        }
        wh::AddressPolicy policy;
        std::string err = policy.parse(words);
        if (!err.empty()) return cmd_error(cmd, "WH00004", err + "; use Off, On, or CIDRs like 127.0.0.0/8 ::1/128");
        server_conf(cmd->server)->allow_private = apr_pstrdup(cmd->pool, words.c_str());
        return nullptr;
    } catch (const std::exception& e) {
        return cmd_error(cmd, "WH00004", e.what());
    } catch (...) {
        return "WH00004: WebhookAllowPrivateTargets: unexpected error";
    }
}

extern "C" const char* wh_cmd_max_body_size(cmd_parms* cmd, void* dconf, const char* arg) {
    apr_off_t n = 0;
    if (!whole_number(arg, 1, std::numeric_limits<apr_off_t>::max(), n))
        return apr_psprintf(cmd->pool, "WH00005: %s: '%s' is not a positive number of bytes",
                            cmd->directive->directive, arg);
    static_cast<DirConf*>(dconf)->max_body = n;
    return nullptr;
}

extern "C" const char* wh_cmd_database_timeout(cmd_parms* cmd, void*, const char* arg) {
    apr_off_t n = 0;
    if (!whole_number(arg, 1, wh::api::kMaxDbTimeout, n))
        return apr_psprintf(cmd->pool, "WH00061: %s: '%s' is not a number of seconds from 1 to %d",
                            cmd->directive->directive, arg, wh::api::kMaxDbTimeout);
    server_conf(cmd->server)->db_timeout = static_cast<int>(n);
    return nullptr;
}

extern "C" const char* wh_cmd_max_endpoints_per_scope(cmd_parms* cmd, void*, const char* arg) {
    apr_off_t n = 0;
    if (!whole_number(arg, 1, wh::api::kMaxMaxEndpointsPerScope, n))
        return apr_psprintf(cmd->pool, "WH00020: %s: '%s' is not a number of endpoints from 1 to %d",
                            cmd->directive->directive, arg, wh::api::kMaxMaxEndpointsPerScope);
    server_conf(cmd->server)->max_endpoints_per_scope = static_cast<int>(n);
    return nullptr;
}

extern "C" const char* wh_cmd_notify_worker(cmd_parms* cmd, void*, const char* args) {
    try {
        std::vector<std::string> specs = notify_specs(cmd->temp_pool, args);
        std::string words;
        for (const auto& spec : specs) {
            std::string host, port;
            std::string err = wh::split_host_port(spec, host, port);
            if (err.empty() && port == "0") err = "'" + spec + "' has port 0";
            if (!err.empty())
                return cmd_error(cmd, "WH00040", err + "; give the worker's wakeup_listen address(es), e.g. "
                                                  "127.0.0.1:8499, or Off");
            words += (words.empty() ? "" : " ") + spec;
        }
        server_conf(cmd->server)->notify_worker = apr_pstrdup(cmd->pool, words.empty() ? "Off" : words.c_str());
        return nullptr;
    } catch (const std::exception& e) {
        return cmd_error(cmd, "WH00040", e.what());
    } catch (...) {
        return "WH00040: WebhookNotifyWorker: unexpected error";
    }
}

extern "C" int wh_post_config(apr_pool_t*, apr_pool_t*, apr_pool_t*, server_rec* s) {
    try {
        // httpd runs the config phase twice at start-up; act on the real one only.
        if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) return OK;
        wh::set_log_sink(log_sink, s);
        wh::db_library_init();
        for (server_rec* v = s; v; v = v->next) {
            ServerConf* c = server_conf(v);
            if (c->db_spec && !c->key_file) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, v,
                             "WH00003: WebhookDatabase is set but WebhookSecretKeyFile is not; "
                             "add WebhookSecretKeyFile with the key the worker uses");
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            if (!c->key_file) continue;
            wh::SecretBox::Key key;
            std::string err = wh::SecretBox::load_key_file(c->key_file, key);
            if (!err.empty()) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, v,
                             "WH00002: WebhookSecretKeyFile cannot be used: %s; create it with "
                             "'openssl rand -hex 32 > %s' (the same key as the worker's "
                             "secret_key_file) and make it readable by root",
                             err.c_str(), c->key_file);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            std::memcpy(c->key, key.data(), key.size());
            c->key_loaded = 1;
        }
        return OK;
    } catch (const std::exception& e) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "WH00008: start-up failed: %s; fix the cause and restart",
                     e.what());
    } catch (...) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "WH00008: start-up failed (unknown error)");
    }
    return HTTP_INTERNAL_SERVER_ERROR;
}

extern "C" void wh_child_init(apr_pool_t* pchild, server_rec* s) {
    try {
        wh::set_log_sink(log_sink, s);
        auto* pools = new std::vector<DbPool*>();
        apr_pool_cleanup_register(pchild, pools, destroy_pools, apr_pool_cleanup_null);
        auto* notifiers = new std::vector<wh::WakeupCoalescer*>();
        apr_pool_cleanup_register(pchild, notifiers, destroy_notifiers, apr_pool_cleanup_null);
        std::map<std::string, wh::WakeupCoalescer*> notifier_by_spec;
        for (server_rec* v = s; v; v = v->next) {
            ServerConf* c = server_conf(v);
            c->notifier = nullptr;
            std::vector<std::string> specs = notify_specs(pchild, c->notify_worker);
            if (specs.empty()) continue;
            auto it = notifier_by_spec.find(c->notify_worker);
            if (it == notifier_by_spec.end()) {
                auto sender = std::make_unique<wh::WakeupSender>();
                std::string err = sender->open(specs);
                if (!err.empty())
                    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, v,
                                 "WH00041: WebhookNotifyWorker: %s; events are still delivered, at the "
                                 "worker's next poll (poll_interval_ms). Fix the address or the name",
                                 err.c_str());
                wh::WakeupCoalescer* raw = nullptr;
                try {
                    if (!sender->empty()) raw = new wh::WakeupCoalescer(std::move(sender), kWakeupGap);
                } catch (const std::exception& e) {  // no thread for it: run without wake-ups
                    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, v,
                                 "WH00043: WebhookNotifyWorker: cannot start the wake-up sender thread "
                                 "(%s); events are still delivered, at the worker's next poll. Check the "
                                 "process and thread limits (ulimit -u) of the Apache user",
                                 e.what());
                }
                if (raw) notifiers->push_back(raw);
                it = notifier_by_spec.emplace(c->notify_worker, raw).first;
            }
            c->notifier = it->second;
        }
        std::map<std::string, DbPool*> by_spec;
        for (server_rec* v = s; v; v = v->next) {
            ServerConf* c = server_conf(v);
            c->pool = nullptr;
            if (!c->db_spec) continue;
            // one pool per connection string and timeout
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
                pools->push_back(new DbPool(cfg));
                it = by_spec.emplace(key, pools->back()).first;
            }
            c->pool = it->second;
        }
    } catch (const std::exception& e) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "WH00019: child initialisation failed: %s; requests will get 500", e.what());
    } catch (...) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "WH00019: child initialisation failed (unknown error)");
    }
}

// ---- errors httpd answers itself inside our locations (401 from auth, 403 from Require,
// 413 from LimitRequestBody, …): rewritten to problem+json, so integrators' clients parse
// one error format everywhere. WWW-Authenticate and the status stay as httpd set them.

namespace {

const char* kProblemFilter = "WEBHOOK_PROBLEM";

// The handler a request will get: r->handler once fixups ran, else core's SetHandler for the
// matched sections (auth runs before fixups, when r->handler is still unset).
bool webhook_location(request_rec* r) {
    const char* h = r->handler;
    if (!h) {
        auto* core = static_cast<core_dir_config*>(ap_get_core_module_config(r->per_dir_config));
        if (core && core->expr_handler) {
            const char* err = nullptr;
            h = ap_expr_str_exec(r, core->expr_handler, &err);
            if (err) h = nullptr;
        }
    }
    return h && (std::strcmp(h, "webhook-api") == 0 || std::strcmp(h, "webhook-events") == 0);
}

std::string httpd_error_detail(int status) {
    switch (status) {
        case HTTP_UNAUTHORIZED:
            return "authentication is required: send the credentials of a user allowed to manage "
                   "webhook endpoints";
        case HTTP_FORBIDDEN: return "access denied by the server's configuration";
        case HTTP_REQUEST_ENTITY_TOO_LARGE: return "the request body is larger than the server accepts";
        case HTTP_REQUEST_TIME_OUT: return "the request was not received in time";
        default: return std::string("the server answered ") + std::to_string(status) + " " +
                        wh::api::status_title(status);
    }
}

// Drops httpd's HTML error page and sends the problem document before EOS.
apr_status_t problem_filter(ap_filter_t* f, apr_bucket_brigade* bb) {
    request_rec* r = f->r;
    try {
        if (!f->ctx) {
            f->ctx = f;  // first call: the headers have not gone out yet
            ap_set_content_type(r, "application/problem+json");
            apr_table_unset(r->headers_out, "Content-Length");
        }
        for (apr_bucket* b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);) {
            apr_bucket* next = APR_BUCKET_NEXT(b);
            if (APR_BUCKET_IS_EOS(b)) {
                std::string body = wh::api::problem(r->status, httpd_error_detail(r->status)).body;
                apr_bucket* doc = apr_bucket_pool_create(apr_pstrmemdup(r->pool, body.data(), body.size()),
                                                         body.size(), r->pool, f->c->bucket_alloc);
                APR_BUCKET_INSERT_BEFORE(b, doc);
                ap_remove_output_filter(f);
                break;
            }
            if (!APR_BUCKET_IS_METADATA(b)) apr_bucket_delete(b);
            b = next;
        }
    } catch (...) {
        // keep httpd's own page rather than fail the error response
    }
    return ap_pass_brigade(f->next, bb);
}

}  // namespace

extern "C" void wh_insert_error_filter(request_rec* r) {
    try {
        if (r->status >= 400 && webhook_location(r)) ap_add_output_filter(kProblemFilter, nullptr, r, r->connection);
    } catch (...) {
    }
}

// Our locations are routes, not files. httpd's default translation (DocumentRoot + URI: a URI
// over PATH_MAX fails with AH00127 and 403) and storage mapping (directory and file walks,
// and TraceEnable's TRACE answer) are skipped, so the handler answers every request there:
// a 4 KB id gets 404, TRACE gets 405 with Allow, as problem+json. httpd resets the per-dir
// config before map_to_storage, so translate_name marks the request (as mod_proxy does).
constexpr char kFilenameMark[] = "webhook:";

extern "C" int wh_translate_name(request_rec* r) {
    try {
        if (!webhook_location(r)) return DECLINED;
        r->filename = apr_pstrdup(r->pool, kFilenameMark);
        return OK;
    } catch (...) {
        return DECLINED;
    }
}

extern "C" int wh_map_to_storage(request_rec* r) {
    return r->filename && std::strcmp(r->filename, kFilenameMark) == 0 ? OK : DECLINED;
}

extern "C" void wh_register_filters(void) {
    ap_register_output_filter(kProblemFilter, problem_filter, nullptr, AP_FTYPE_CONTENT_SET);
}

extern "C" int wh_handler(request_rec* r) {
    if (!r->handler) return DECLINED;
    wh::api::Handler h;
    if (std::strcmp(r->handler, "webhook-api") == 0) h = wh::api::Handler::api;
    else if (std::strcmp(r->handler, "webhook-events") == 0) h = wh::api::Handler::events;
    else return DECLINED;
    try {
        return serve(r, h);
    } catch (const std::exception& e) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "WH00007: request failed: %s; report this with the request that caused it", e.what());
    } catch (...) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "WH00007: request failed (unknown error)");
    }
    return HTTP_INTERNAL_SERVER_ERROR;
}

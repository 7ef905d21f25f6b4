// The thin httpd glue of mod_webhook: config structs and directives, post_config key
// loading, the per-child DB pool, body reading, logging, and the handler that adapts a
// request_rec to the httpd-free core (core/). No exception ever leaves this file.
#include <cstring>
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
#include "apr_buckets.h"
#include "apr_lib.h"
#include "apr_strings.h"
#include "util_filter.h"

#include "glue.h"

#include "crypto.hpp"
#include "db.hpp"
#include "http.hpp"
#include "log.hpp"
#include "module_config.hpp"
#include "problem.hpp"
#include "router.hpp"
#include "target.hpp"

extern "C" {
APLOG_USE_MODULE(webhook);
}

namespace {

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
    explicit DbPool(wh::DbConfig cfg) : cfg_(std::move(cfg)) {}

    std::unique_ptr<wh::Db> acquire() {
        std::unique_ptr<wh::Db> db;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (!free_.empty()) {
                db = std::move(free_.back());
                free_.pop_back();
            }
        }
        if (!db) return std::make_unique<wh::Db>(cfg_);
        // Like mod_dbd: check a pooled connection before use. A dead one is closed by
        // ping() and the first statement reconnects.
        if (db->connected()) db->ping();
        return db;
    }

    void release(std::unique_ptr<wh::Db> db, bool broken) {
        if (!db || broken) return;  // destroyed: closes the connection
        std::lock_guard<std::mutex> lock(mu_);
        free_.push_back(std::move(db));
    }

private:
    wh::DbConfig cfg_;
    std::mutex mu_;
    std::vector<std::unique_ptr<wh::Db>> free_;
};

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

int serve(request_rec* r, wh::api::Handler handler) {
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
        char* end = nullptr;
        if (apr_strtoff(&n, cl, &end, 10) == APR_SUCCESS && end && *end == '\0' && n > cap)
            return too_large(r, cap);
    }
    std::string body;
    int rc = read_body(r, cap, body);
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
    if (sc->key_loaded) {
        wh::SecretBox::Key key;
        std::memcpy(key.data(), sc->key, key.size());
        box = std::make_unique<wh::SecretBox>(key);
        explicit_bzero(key.data(), key.size());
        cfg.box = box.get();
    }
    std::string perr = cfg.policy.parse(wh::api::allow_private_targets(sc));
    if (!perr.empty())  // validated by the directive already; keep the safe default
        cfg.policy.parse("Off");

    auto* pool = static_cast<DbPool*>(sc->pool);
    std::unique_ptr<wh::Db> db = pool->acquire();
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
    char* end = nullptr;
    if (apr_strtoff(&n, arg, &end, 10) != APR_SUCCESS || !end || *end != '\0' || n <= 0)
        return apr_psprintf(cmd->pool, "WH00005: %s: '%s' is not a positive number of bytes",
                            cmd->directive->directive, arg);
    static_cast<DirConf*>(dconf)->max_body = n;
    return nullptr;
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
        std::map<std::string, DbPool*> by_spec;
        for (server_rec* v = s; v; v = v->next) {
            ServerConf* c = server_conf(v);
            c->pool = nullptr;
            if (!c->db_spec) continue;
            auto it = by_spec.find(c->db_spec);
            if (it == by_spec.end()) {
                wh::DbConfig cfg;
                std::string err = wh::parse_db_config(c->db_spec, cfg);
                if (!err.empty()) {
                    ap_log_error(APLOG_MARK, APLOG_ERR, 0, v, "WH00018: WebhookDatabase is invalid: %s",
                                 err.c_str());
                    continue;
                }
                pools->push_back(new DbPool(cfg));
                it = by_spec.emplace(c->db_spec, pools->back()).first;
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

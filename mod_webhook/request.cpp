// The request path of webhook-api and webhook-events: the request_rec becomes an
// HttpRequest for the httpd-free core (core/http.hpp), its HttpResponse is written back.
// No exception leaves this file.
#include <cstring>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "httpd.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_buckets.h"
#include "apr_lib.h"
#include "apr_strings.h"
#include "util_filter.h"

#include "child.hpp"
#include "glue.h"
#include "glue.hpp"
#include "metrics_glue.h"

#include "crypto.hpp"
#include "http.hpp"
#include "problem.hpp"
#include "router.hpp"
#include "parse.hpp"

extern "C" {
APLOG_USE_MODULE(webhook);
}

namespace {

using wh::api::DirConf;
using wh::api::ServerConf;

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

// Appends the brigade's data to out; false when it ended (EOS). rc is set on a failure.
bool drain_brigade(apr_bucket_brigade* bb, apr_off_t cap, std::string& out, int& rc) {
    for (apr_bucket* b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
        if (APR_BUCKET_IS_EOS(b)) return false;
        if (APR_BUCKET_IS_METADATA(b)) continue;
        const char* data = nullptr;
        apr_size_t len = 0;
        apr_status_t rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ);
        if (rv != APR_SUCCESS) {
            rc = ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
            return false;
        }
        if (static_cast<apr_off_t>(out.size() + len) > cap) {
            rc = HTTP_REQUEST_ENTITY_TOO_LARGE;
            return false;
        }
        out.append(data, len);
    }
    return true;
}

// Reads the whole body with a hard cap. Returns OK, HTTP_REQUEST_ENTITY_TOO_LARGE, or the
// status the input filters reported (AP_FILTER_ERROR when they already answered).
int read_body(request_rec* r, apr_off_t cap, std::string& out) {
    apr_bucket_brigade* bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    int rc = OK;
    for (bool more = true; more;) {
        apr_status_t rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, APR_BLOCK_READ, 8192);
        if (rv != APR_SUCCESS) rc = ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        more = rv == APR_SUCCESS && drain_brigade(bb, cap, out, rc);
        apr_brigade_cleanup(bb);
    }
    return rc;
}

int send_response(request_rec* r, const wh::api::HttpResponse& resp) {
    r->status = resp.status;
    wh_metrics_observe(r, resp.status, resp.body);  // every answer counts in the shared block
    for (const auto& h : resp.headers) apr_table_set(r->headers_out, h.first.c_str(), h.second.c_str());
    // Secrets appear in some bodies: nothing may be cached unless the core says it may.
    if (resp.header("Cache-Control").empty()) apr_table_setn(r->headers_out, "Cache-Control", "no-store");
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
// its body is freed: glibc otherwise keeps the many small blocks of a parsed large body in
// the thread's arena, never returned.
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

// The body within WebhookMaxBodySize; otherwise the status to return (answered already
// where the module answers).
std::optional<int> take_body(request_rec* r, const DirConf* dc, std::string& body) {
    apr_off_t cap = static_cast<apr_off_t>(wh::api::max_body_size(dc));
    if (const char* cl = apr_table_get(r->headers_in, "Content-Length")) {
        unsigned long long n = 0;
        if (wh::parse_decimal(cl, std::numeric_limits<apr_off_t>::max(), n) && n > static_cast<unsigned long long>(cap))
            return too_large(r, cap);
    }
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
    return std::nullopt;
}

// The module configuration the core sees for this request. Only the registration API seals
// credentials and checks target addresses: the events path skips both, so no event pays
// for parsing WebhookAllowPrivateTargets.
void resolve_config(wh::api::Handler handler, const ServerConf* sc, wh::api::ApiConfig& cfg,
                    std::unique_ptr<wh::SecretBox>& box) {
    if (handler != wh::api::Handler::api) return;
    if (sc->key_file) cfg.key_file = sc->key_file;
    if (sc->key_loaded) {
        wh::SecretBox::Key key;
        std::memcpy(key.data(), sc->key, key.size());
        box = std::make_unique<wh::SecretBox>(key);
        explicit_bzero(key.data(), key.size());
        cfg.box = box.get();
    }
    cfg.max_endpoints_per_scope = static_cast<unsigned>(wh::api::max_endpoints_per_scope(sc));
    std::string perr = cfg.policy.parse(wh::api::allow_private_targets(sc));
    if (!perr.empty())  // validated by the directive already; keep the safe default
        cfg.policy.parse("Off");
}

// Method, route, query, headers, user and own origin of r; the body is moved in by the caller.
void describe_request(request_rec* r, const DirConf* dc, wh::api::Handler handler, wh::api::HttpRequest& req) {
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
    req.user = r->user ? r->user : "";
    // The origin a browser names for a page of this site: scheme, host and port as httpd
    // builds its own URLs (brackets around IPv6, the port only when not the scheme's default).
    const char* scheme = ap_http_scheme(r);
    apr_port_t port = ap_get_server_port(r);
    req.origin = std::string(scheme ? scheme : "http") + "://" + ap_get_server_name_for_url(r);
    if (port != ap_default_port(r)) req.origin += ":" + std::to_string(port);
}

int not_configured(request_rec* r) {
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "WH00006: SetHandler %s is used but this server has no WebhookDatabase; "
                  "add WebhookDatabase (and WebhookSecretKeyFile) to the server config",
                  r->handler);
    return send_response(r, wh::api::problem(500, "the webhook module is not configured"));
}

int database_stalled(request_rec* r) {
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "WH00060: MariaDB did not answer within WebhookDatabaseTimeout; answering 503. "
                  "Check that MariaDB runs and is not overloaded or stopped, and that WebhookDatabase "
                  "points at it");
    wh::api::HttpResponse busy = wh::api::problem(503, "the database is unavailable; retry later");
    busy.set_header("Retry-After", "2");
    return send_response(r, busy);
}

int serve(request_rec* r, wh::api::Handler handler) {
    TrimAfterLargeBody trim;  // first: runs after the body, the request and the answer are freed
    const ServerConf* sc = wh::glue::server_conf(r->server);
    const DirConf* dc = wh::glue::dir_conf(r);
    wh::glue::ServerState state = wh::glue::child_state(r->server);
    if (!sc->db_spec || !state.pool) return not_configured(r);

    std::string body;
    std::optional<int> refused = take_body(r, dc, body);
    trim.body_size = body.size();
    if (refused) return *refused;

    wh::api::ApiConfig cfg;
    std::unique_ptr<wh::SecretBox> box;
    resolve_config(handler, sc, cfg, box);
    bool stalled = false;
    std::unique_ptr<wh::Db> db = state.pool->acquire(stalled);
    if (stalled) return database_stalled(r);
    wh::api::HttpRequest req(*db, cfg);
    describe_request(r, dc, handler, req);
    req.body = std::move(body);
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "%s %s route '%s' below '%s'", r->handler,
                  req.method.c_str(), req.path.c_str(), req.base_path.c_str());

    wh::api::HttpResponse resp = wh::api::handle(handler, req);
    state.pool->release(std::move(db), resp.drop_db);
    // After COMMIT: nudge the worker (non-blocking UDP; a lost datagram only costs latency).
    // Coalesced: commits close together share one datagram.
    if (resp.wake_worker && state.notifier) state.notifier->notify();
    return send_response(r, resp);
}

}  // namespace

extern "C" int wh_handler(request_rec* r) {
    if (!r->handler) return DECLINED;
    wh::api::Handler h;
    if (std::strcmp(r->handler, "webhook-api") == 0) h = wh::api::Handler::api;
    else if (std::strcmp(r->handler, "webhook-events") == 0) h = wh::api::Handler::events;
    else return DECLINED;
    apr_table_setn(r->notes, wh::glue::kHandlerRanNote, "1");
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

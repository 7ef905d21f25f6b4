#include "metrics_glue.h"

#include <cstring>

#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_shm.h"
#include "apr_time.h"

#include "api_metrics.hpp"

extern "C" {
APLOG_USE_MODULE(webhook);
}

namespace {

// Set in the parent by post_config; children inherit the mapping (and this pointer) at fork.
wh::api::MetricsBlock* g_block = nullptr;
const char* const kUserdataKey = "mod_webhook_metrics_shm";

}  // namespace

void wh_metrics_observe(request_rec* r, int status, const std::string& body) noexcept {
    try {
        if (!g_block || !r->handler) return;
        wh::api::MetricsHandler h;
        if (std::strcmp(r->handler, "webhook-events") == 0) h = wh::api::MetricsHandler::events;
        else if (std::strcmp(r->handler, "webhook-api") == 0) h = wh::api::MetricsHandler::api;
        else return;
        long long micros = static_cast<long long>(apr_time_now() - r->request_time);
        wh::api::metrics_observe(*g_block, h, status, micros, body);
    } catch (...) {
        // a metric is never worth a failed request
    }
}

extern "C" int wh_metrics_post_config(apr_pool_t*, apr_pool_t*, apr_pool_t*, server_rec* s) {
    try {
        // The process pool lives as long as the parent: one block for the server's life,
        // counters survive graceful restarts (Prometheus handles resets anyway).
        apr_pool_t* proc = s->process->pool;
        void* data = nullptr;
        apr_pool_userdata_get(&data, kUserdataKey, proc);
        if (data) {
            // A graceful restart may load a newer module whose block is larger: that one gets
            // a fresh block (the old one stays mapped until the parent exits).
            auto* old = static_cast<apr_shm_t*>(data);
            auto* b = static_cast<wh::api::MetricsBlock*>(apr_shm_baseaddr_get(old));
            if (apr_shm_size_get(old) >= sizeof(wh::api::MetricsBlock) && b->magic == wh::api::MetricsBlock::kMagic) {
                g_block = b;
                return OK;
            }
        }
        apr_shm_t* shm = nullptr;
        apr_status_t rv = apr_shm_create(&shm, sizeof(wh::api::MetricsBlock), nullptr, proc);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                         "WH00080: cannot create the shared memory for mod_webhook's metrics; "
                         "webhook-metrics answers 503 and nothing is counted. Check the system's shared "
                         "memory limits (anonymous mmap)");
            return OK;  // metrics are not worth refusing to start
        }
        auto* b = static_cast<wh::api::MetricsBlock*>(apr_shm_baseaddr_get(shm));
        wh::api::metrics_init(*b);
        apr_pool_userdata_set(shm, kUserdataKey, apr_pool_cleanup_null, proc);
        g_block = b;
    } catch (...) {
        g_block = nullptr;
    }
    return OK;
}

extern "C" int wh_metrics_handler(request_rec* r) {
    if (!r->handler || std::strcmp(r->handler, "webhook-metrics") != 0) return DECLINED;
    try {
        apr_table_setn(r->headers_out, "Cache-Control", "no-store");
        if (r->method_number != M_GET) {
            // httpd builds the Allow header of a 405 from allowed_methods (GET implies HEAD)
            ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
            return HTTP_METHOD_NOT_ALLOWED;
        }
        if (!g_block || g_block->magic != wh::api::MetricsBlock::kMagic) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          "WH00081: webhook-metrics has no counters (shared memory missing, see WH00080); "
                          "answering 503");
            return HTTP_SERVICE_UNAVAILABLE;
        }
        std::string text = wh::api::metrics_render(*g_block);
        ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
        ap_set_content_length(r, static_cast<apr_off_t>(text.size()));
        if (!r->header_only) ap_rwrite(text.data(), static_cast<int>(text.size()), r);
        return OK;
    } catch (const std::exception& e) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "WH00082: webhook-metrics failed: %s", e.what());
    } catch (...) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "WH00082: webhook-metrics failed (unknown error)");
    }
    return HTTP_INTERNAL_SERVER_ERROR;
}

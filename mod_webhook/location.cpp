// Our locations as httpd sees them before the handler: requests there are routes, not files
// (translate_name, map_to_storage), and the error pages httpd writes itself there become
// problem+json (insert_error_filter). No exception leaves this file.
#include <cstring>
#include <string>

#include "httpd.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_expr.h"
#include "apr_buckets.h"
#include "apr_strings.h"
#include "util_filter.h"

#include "glue.h"
#include "glue.hpp"

#include "problem.hpp"

extern "C" {
APLOG_USE_MODULE(webhook);
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

// A 500 decided before our handler ran is another module's failure, logged by it without a
// word about what the admin of a webhook location should do; the most common one is an
// AuthUserFile the Apache user cannot read (AH01620), e.g. one below /etc/mod_webhook.
void explain_early_500(request_rec* r) {
    if (r->status != HTTP_INTERNAL_SERVER_ERROR || apr_table_get(r->notes, wh::glue::kHandlerRanNote)) return;
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "WH00023: %s %s got 500 before it reached the webhook handler: a module of an "
                  "earlier phase failed (authentication or authorization of this <Location>), see "
                  "its line just before. AH01620 there: the Apache user cannot read the "
                  "AuthUserFile; keep it where that user can, e.g. /etc/apache2/webhook.htpasswd "
                  "as root:www-data 0640 (docs/operations.md, \"API logins\")",
                  r->method, r->uri);
}

}  // namespace

extern "C" void wh_insert_error_filter(request_rec* r) {
    try {
        if (r->status < 400 || !webhook_location(r)) return;
        explain_early_500(r);
        ap_add_output_filter(kProblemFilter, nullptr, r, r->connection);
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

// The portal's static files (WebhookPortal On / WebhookPortalFrameAncestors): a strict
// Content-Security-Policy and two hardening headers. Set in header_parser, after the
// location walk and before authentication, so error pages (401) carry them too; "set", not
// "add", because an internal redirect (DirectoryIndex) runs the hook again.
extern "C" int wh_portal_headers(request_rec* r) {
    try {
        const wh::api::DirConf* d = wh::glue::dir_conf(r);
        if (!wh::api::portal_enabled(d)) return DECLINED;
        apr_table_set(r->err_headers_out, "Content-Security-Policy", wh::api::portal_csp(d).c_str());
        apr_table_setn(r->err_headers_out, "X-Content-Type-Options", "nosniff");
        apr_table_setn(r->err_headers_out, "Referrer-Policy", "no-referrer");
    } catch (...) {
    }
    return DECLINED;
}

extern "C" void wh_register_filters(void) {
    ap_register_output_filter(kProblemFilter, problem_filter, nullptr, AP_FTYPE_CONTENT_SET);
}


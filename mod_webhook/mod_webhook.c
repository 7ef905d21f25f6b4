/* mod_webhook: the module record and hook registration. The directives are in config.cpp
 * (wh_directives), the work in the glue's C++ files (glue.h) and the httpd-free core in
 * core/. */
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_request.h"

#include "glue.h"
#include "metrics_glue.h" /* webhook-metrics */

static void webhook_register_hooks(apr_pool_t* p) {
    (void)p;
    ap_hook_post_config(wh_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(wh_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(wh_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* before core's DocumentRoot translation and http_core's TRACE handling */
    ap_hook_translate_name(wh_translate_name, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_map_to_storage(wh_map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    /* shared-memory counters and the webhook-metrics handler */
    ap_hook_post_config(wh_metrics_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(wh_metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(wh_insert_error_filter, NULL, NULL, APR_HOOK_MIDDLE);
    wh_register_filters();
    ap_hook_header_parser(wh_portal_headers, NULL, NULL, APR_HOOK_MIDDLE);
}

/* The only symbol the .so exports (built with -fvisibility=hidden). */
extern module AP_MODULE_DECLARE_DATA __attribute__((visibility("default"))) webhook_module;

AP_DECLARE_MODULE(webhook) = {
    STANDARD20_MODULE_STUFF,
    wh_create_dir_config,
    wh_merge_dir_config,
    wh_create_server_config,
    wh_merge_server_config,
    wh_directives,
    webhook_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_NONE
#endif
};

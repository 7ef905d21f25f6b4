/* mod_webhook: the module record, directive table and hook registration. Plain C so the
 * command_rec table gets typed designated initializers (checked setter signatures); the
 * work is done in glue.cpp and the httpd-free core in core/. */
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_request.h"

#include "glue.h"
#include "metrics_glue.h" /* webhook-metrics */

static const command_rec webhook_cmds[] = {
    AP_INIT_TAKE1("WebhookDatabase", wh_cmd_database, NULL, RSRC_CONF,
                  "MariaDB connection: \"host=... port=... user=... password=... database=... "
                  "connect_timeout=2\" (or socket=... instead of host/port)"),
    AP_INIT_TAKE1("WebhookSecretKeyFile", wh_cmd_secret_key_file, NULL, RSRC_CONF,
                  "file holding 64 hex characters: the AES-256-GCM key for credentials at rest"),
    AP_INIT_RAW_ARGS("WebhookAllowPrivateTargets", wh_cmd_allow_private_targets, NULL, RSRC_CONF,
                     "Off (default), On, or CIDRs of non-public target addresses that may be "
                     "registered"),
    AP_INIT_RAW_ARGS("WebhookNotifyWorker", wh_cmd_notify_worker, NULL, RSRC_CONF,
                     "HOST:PORT ... of webhook-worker wakeup_listen sockets: one UDP datagram "
                     "after each commit of new events (Off = none, the default)"),
    AP_INIT_TAKE1("WebhookDatabaseTimeout", wh_cmd_database_timeout, NULL, RSRC_CONF,
                  "seconds (1-300, default 2) a request waits at most on MariaDB (connect, each "
                  "read/write) before it gets 503 + Retry-After"),
    AP_INIT_TAKE1("WebhookMaxEndpointsPerScope", wh_cmd_max_endpoints_per_scope, NULL, RSRC_CONF,
                  "live endpoints one reseller or portfolio may register (1-1000000, default 50); "
                  "past it, registration gets 422"),
    AP_INIT_TAKE1("WebhookMaxBodySize", wh_cmd_max_body_size, NULL, RSRC_CONF | ACCESS_CONF,
                  "request body cap in bytes (default 1048576); larger bodies get 413"),
    {NULL}};

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
}

/* The only symbol the .so exports (built with -fvisibility=hidden). */
extern module AP_MODULE_DECLARE_DATA __attribute__((visibility("default"))) webhook_module;

AP_DECLARE_MODULE(webhook) = {
    STANDARD20_MODULE_STUFF,
    wh_create_dir_config,
    wh_merge_dir_config,
    wh_create_server_config,
    wh_merge_server_config,
    webhook_cmds,
    webhook_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_NONE
#endif
};

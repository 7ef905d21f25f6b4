/* The httpd-facing entry points of mod_webhook, implemented in C++ and wired into the
 * module record by mod_webhook.c: config.cpp (directives, config records, post_config),
 * child.cpp (child_init), request.cpp (the handler), location.cpp (translate_name,
 * map_to_storage, error pages). Every one of them catches all exceptions. */
#ifndef MOD_WEBHOOK_GLUE_H
#define MOD_WEBHOOK_GLUE_H

#include "httpd.h"
#include "http_config.h"

#ifdef __cplusplus
extern "C" {
#endif

void* wh_create_server_config(apr_pool_t* p, server_rec* s);
void* wh_merge_server_config(apr_pool_t* p, void* base, void* add);
void* wh_create_dir_config(apr_pool_t* p, char* dir);
void* wh_merge_dir_config(apr_pool_t* p, void* base, void* add);

/* The directive table (config.cpp): name, where, setter, help of every Webhook* directive. */
extern const command_rec wh_directives[];

int wh_post_config(apr_pool_t* pconf, apr_pool_t* plog, apr_pool_t* ptemp, server_rec* s);
void wh_child_init(apr_pool_t* pchild, server_rec* s);
int wh_handler(request_rec* r);
/* requests in our locations are not mapped to the filesystem */
int wh_translate_name(request_rec* r);
int wh_map_to_storage(request_rec* r);
/* httpd's own error pages (401 from auth, …) inside our locations become problem+json */
void wh_insert_error_filter(request_rec* r);
void wh_register_filters(void);
/* the portal's security headers where WebhookPortal applies */
int wh_portal_headers(request_rec* r);

#ifdef __cplusplus
}
#endif

#endif

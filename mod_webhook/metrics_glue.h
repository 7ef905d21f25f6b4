/* mod_webhook metrics: the shared-memory counter block, the
 * `webhook-metrics` handler (mapped by an admin like server-status) and the hook that counts
 * every answer of the other handlers. Implemented in metrics_glue.cpp; never throws. */
#ifndef MOD_WEBHOOK_METRICS_GLUE_H
#define MOD_WEBHOOK_METRICS_GLUE_H

#include "httpd.h"
#include "http_config.h"

#ifdef __cplusplus
#include <string>
/* Counts one answer of webhook-api / webhook-events (status, latency since the request
 * arrived, events accepted from a 202 body). Called by request.cpp's send_response. */
void wh_metrics_observe(request_rec* r, int status, const std::string& body) noexcept;
extern "C" {
#endif

/* post_config: creates the anonymous shared memory once per parent process (kept across
 * graceful restarts), before the children fork, so they all share it. */
int wh_metrics_post_config(apr_pool_t* pconf, apr_pool_t* plog, apr_pool_t* ptemp, server_rec* s);
/* SetHandler webhook-metrics: Prometheus text exposition of the counters. */
int wh_metrics_handler(request_rec* r);

#ifdef __cplusplus
}
#endif

#endif

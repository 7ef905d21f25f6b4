// What the glue's C++ files share (config.cpp, child.cpp, request.cpp, location.cpp): the
// module's config records of a server or request, the number parser of directives and
// Content-Length, and the error-log sink of the core's log lines. httpd-facing; the core
// (core/) never includes it.
#pragma once

#include <string>
#include <vector>

#include "httpd.h"
#include "http_config.h"

#include "log.hpp"
#include "module_config.hpp"

extern "C" {
extern module AP_MODULE_DECLARE_DATA webhook_module;
}

namespace wh::glue {

inline wh::api::ServerConf* server_conf(server_rec* s) {
    return static_cast<wh::api::ServerConf*>(ap_get_module_config(s->module_config, &webhook_module));
}
inline wh::api::DirConf* dir_conf(request_rec* r) {
    return static_cast<wh::api::DirConf*>(ap_get_module_config(r->per_dir_config, &webhook_module));
}

// The r->notes key the handler sets on entry: an error page at our location without it was
// decided before the handler (authentication, authorization), and location.cpp says so.
constexpr char kHandlerRanNote[] = "webhook-handler-ran";

// WebhookNotifyWorker's words ("Off" = none).
std::vector<std::string> notify_specs(apr_pool_t* p, const char* raw);

// wh::set_log_sink target: the core's wh::log_* lines go to the error log of server baton.
void log_sink(void* baton, wh::LogLevel level, const std::string& line);

}  // namespace wh::glue

// The module's configuration: the directive table (name, where, setter, help), the setters,
// create/merge of the records (rules in core/module_config.hpp) and post_config, which loads
// the secret keys as root. No exception leaves this file.

#include <sys/stat.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "httpd.h"
#include "http_core.h"
#include "http_log.h"
#include "apr_strings.h"

#include "glue.h"
#include "glue.hpp"

#include "crypto.hpp"
#include "db.hpp"
#include "parse.hpp"
#include "target.hpp"
#include "wakeup.hpp"

extern "C" {
APLOG_USE_MODULE(webhook);
}

using wh::api::DirConf;
using wh::api::ServerConf;

namespace wh::glue {

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

}  // namespace wh::glue

namespace {

using wh::glue::server_conf;

const char* cmd_error(cmd_parms* cmd, const char* tag, const std::string& msg) {
    return apr_psprintf(cmd->pool, "%s: %s: %s", tag, cmd->directive->directive, msg.c_str());
}

// The words of a RAW_ARGS directive, split (and unquoted) as httpd splits arguments.
std::vector<std::string> words_of(apr_pool_t* p, const char* raw) {
    std::vector<std::string> out;
    for (const char* rest = raw ? raw : ""; *rest;) {
        const char* w = ap_getword_conf(p, &rest);
        if (*w) out.emplace_back(w);
    }
    return out;
}

}  // namespace

std::vector<std::string> wh::glue::notify_specs(apr_pool_t* p, const char* raw) {
    std::vector<std::string> out = words_of(p, raw);
    if (out.size() == 1 && wh::is_off(out[0])) out.clear();
    return out;
}

namespace {

std::string joined(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
    return out;
}

// ---- setters: each checks its value fully, so a bad config stops start-up ----

// A database password in a file every local user can read (the packaged mods-available
// files are 0644) is worth one line at start-up; the configuration still loads.
void warn_if_world_readable(cmd_parms* cmd) {
    const char* file = cmd->directive ? cmd->directive->filename : nullptr;
    struct stat st;
    if (!file || stat(file, &st) != 0 || !(st.st_mode & S_IROTH)) return;
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server,
                 "WH00024: WebhookDatabase in %s carries a password and every local user can read "
                 "that file: move the directive into /etc/mod_webhook/module.conf (install -m 0640 -o "
                 "root -g root), which the packaged webhook.conf includes, or chmod o-r %s",
                 file, file);
}

const char* set_database(cmd_parms* cmd, void*, const char* arg) {
    try {
        wh::DbConfig cfg;
        std::string err = wh::parse_db_config(arg, cfg);
        if (!err.empty())
            return cmd_error(cmd, "WH00001", err + "; expected \"host=... port=... user=... password=... "
                                              "database=...\" or socket=... instead of host/port");
        if (!cfg.password.empty()) warn_if_world_readable(cmd);
        server_conf(cmd->server)->db_spec = apr_pstrdup(cmd->pool, arg);
        return nullptr;
    } catch (const std::exception& e) {
        return cmd_error(cmd, "WH00001", e.what());
    } catch (...) {
        return "WH00001: WebhookDatabase: unexpected error";
    }
}

// The one way to create the key file (README, docs/operations.md and the packaged
// webhook.conf give the same commands), for the file at path. No backslash in it: httpd
// doubles those in log lines, and the line must be a command to paste.
std::string key_file_recipe(const std::string& path) {
    size_t slash = path.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    return "install -d -m 0750 -g webhook " + dir +
           "; (umask 027; od -An -tx1 -N32 /dev/urandom | tr -dc 0-9a-f > " + path + "); chgrp webhook " + path;
}

// A graceful restart re-reads the configuration in the running parent, where a failing
// directive makes httpd exit with every site it serves. Only that read lets a bad key
// through (post_config then serves without it); configtest, `-k graceful` (which parses the
// configuration before it signals the parent) and the first start refuse it.
bool rereading_in_running_server() {
    return ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_NORMAL &&
           ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_CONFIG && ap_state_query(AP_SQ_CONFIG_GEN) > 1;
}

// The key is read here too (as root, like configtest), so a missing or malformed key fails
// `apache2 -t` and never a reload. post_config reads it again for each server.
const char* set_secret_key_file(cmd_parms* cmd, void*, const char* arg) {
    const char* path = ap_server_root_relative(cmd->pool, arg);
    if (!path) return apr_psprintf(cmd->pool, "WH00017: %s: invalid path '%s'", cmd->directive->directive, arg);
    server_conf(cmd->server)->key_file = path;
    try {
        wh::SecretBox::Key key;
        std::string err = wh::SecretBox::load_key_file(path, key);
        explicit_bzero(key.data(), key.size());
        if (err.empty() || rereading_in_running_server()) return nullptr;
        return cmd_error(cmd, "WH00002", err + "; create it with: " + key_file_recipe(path) +
                                             " (the same file as the worker's secret_key_file)");
    } catch (const std::exception& e) {
        return cmd_error(cmd, "WH00002", e.what());
    } catch (...) {
        return "WH00002: WebhookSecretKeyFile: unexpected error";
    }
}

const char* set_allow_private_targets(cmd_parms* cmd, void*, const char* args) {
    try {
        // Words may be quoted together or given one by one: split as httpd does.
        std::string words = joined(words_of(cmd->temp_pool, args));
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

const char* set_notify_worker(cmd_parms* cmd, void*, const char* args) {
    try {
        std::vector<std::string> specs = wh::glue::notify_specs(cmd->temp_pool, args);
        for (const auto& spec : specs) {
            std::string host, port;
            std::string err = wh::split_host_port(spec, host, port);
            if (err.empty() && port == "0") err = "'" + spec + "' has port 0";
            if (!err.empty())
                return cmd_error(cmd, "WH00040", err + "; give the worker's wakeup_listen address(es), e.g. "
                                                  "127.0.0.1:8499, or Off");
        }
        std::string words = joined(specs);
        server_conf(cmd->server)->notify_worker = apr_pstrdup(cmd->pool, words.empty() ? "Off" : words.c_str());
        return nullptr;
    } catch (const std::exception& e) {
        return cmd_error(cmd, "WH00040", e.what());
    } catch (...) {
        return "WH00040: WebhookNotifyWorker: unexpected error";
    }
}

const char* set_database_timeout(cmd_parms* cmd, void*, const char* arg) {
    long long n = 0;
    if (!wh::parse_int_min_max(arg, 1, wh::api::kMaxDbTimeout, n).empty())
        return apr_psprintf(cmd->pool, "WH00061: %s: '%s' is not a number of seconds from 1 to %d",
                            cmd->directive->directive, arg, wh::api::kMaxDbTimeout);
    server_conf(cmd->server)->db_timeout = static_cast<int>(n);
    return nullptr;
}

const char* set_max_endpoints_per_scope(cmd_parms* cmd, void*, const char* arg) {
    long long n = 0;
    if (!wh::parse_int_min_max(arg, 1, wh::api::kMaxMaxEndpointsPerScope, n).empty())
        return apr_psprintf(cmd->pool, "WH00020: %s: '%s' is not a number of endpoints from 1 to %d",
                            cmd->directive->directive, arg, wh::api::kMaxMaxEndpointsPerScope);
    server_conf(cmd->server)->max_endpoints_per_scope = static_cast<int>(n);
    return nullptr;
}

const char* set_max_body_size(cmd_parms* cmd, void* dconf, const char* arg) {
    long long n = 0;
    if (!wh::parse_int_min_max(arg, 1, std::numeric_limits<apr_off_t>::max(), n).empty())
        return apr_psprintf(cmd->pool, "WH00005: %s: '%s' is not a positive number of bytes",
                            cmd->directive->directive, arg);
    static_cast<DirConf*>(dconf)->max_body = n;
    return nullptr;
}

const char* set_portal(cmd_parms* cmd, void* dconf, const char* arg) {
    try {
        bool on = false;
        if (!wh::parse_on_off(arg, on).empty())
            return apr_psprintf(cmd->pool, "WH00038: %s: '%s' is neither On nor Off; write WebhookPortal On in "
                                "the <Location> or <Directory> that serves the portal's files",
                                cmd->directive->directive, arg);
        static_cast<DirConf*>(dconf)->portal = on ? 1 : 0;
        return nullptr;
    } catch (...) {
        return "WH00038: WebhookPortal: unexpected error";
    }
}

const char* set_portal_frame_ancestors(cmd_parms* cmd, void* dconf, const char* args) {
    try {
        std::string sources;
        std::string err = wh::api::parse_frame_ancestors(args ? args : "", sources);
        if (!err.empty())
            return cmd_error(cmd, "WH00037", err + "; e.g. WebhookPortalFrameAncestors 'self' https://gateway.example.com");
        static_cast<DirConf*>(dconf)->frame_ancestors = apr_pstrdup(cmd->pool, sources.c_str());
        return nullptr;
    } catch (const std::exception& e) {
        return cmd_error(cmd, "WH00037", e.what());
    } catch (...) {
        return "WH00037: WebhookPortalFrameAncestors: unexpected error";
    }
}

// ---- the directive table ----

// Typed rows: the setter's signature is checked here. In C++ cmd_func is an untyped
// function pointer (no designated initializer picks the union member); the detour through
// void (*)() is the generic function pointer type, which GCC's cast check accepts.
using Take1 = const char* (*)(cmd_parms*, void*, const char*);
using RawArgs = const char* (*)(cmd_parms*, void*, const char*);
constexpr int kServer = RSRC_CONF;              // server config and <VirtualHost>
constexpr int kServerOrDir = RSRC_CONF | ACCESS_CONF;  // also <Location>/<Directory>
constexpr int kDir = ACCESS_CONF;                      // <Location>/<Directory> only

command_rec take1(const char* name, Take1 set, int where, const char* help) {
    return command_rec{name, reinterpret_cast<cmd_func>(reinterpret_cast<void (*)()>(set)), nullptr, where, TAKE1, help};
}
command_rec raw_args(const char* name, RawArgs set, int where, const char* help) {
    return command_rec{name, reinterpret_cast<cmd_func>(reinterpret_cast<void (*)()>(set)), nullptr, where, RAW_ARGS, help};
}

}  // namespace

extern "C" const command_rec wh_directives[] = {
    take1("WebhookDatabase", set_database, kServer,
          "MariaDB connection: \"host=... port=... user=... password=... database=... "
          "connect_timeout=2\" (or socket=... instead of host/port)"),
    take1("WebhookSecretKeyFile", set_secret_key_file, kServer,
          "file holding 64 hex characters: the AES-256-GCM key for credentials at rest"),
    raw_args("WebhookAllowPrivateTargets", set_allow_private_targets, kServer,
             "Off (default), On, or CIDRs of non-public target addresses that may be registered"),
    raw_args("WebhookNotifyWorker", set_notify_worker, kServer,
             "HOST:PORT ... of webhook-worker wakeup_listen sockets: one UDP datagram "
             "after each commit of new events (Off = none, the default)"),
    take1("WebhookDatabaseTimeout", set_database_timeout, kServer,
          "seconds (1-300, default 2) a request waits at most on MariaDB (connect, each "
          "read/write) before it gets 503 + Retry-After"),
    take1("WebhookMaxEndpointsPerScope", set_max_endpoints_per_scope, kServer,
          "live endpoints one reseller or portfolio may register (1-1000000, default 50); "
          "past it, registration gets 422"),
    take1("WebhookMaxBodySize", set_max_body_size, kServerOrDir,
          "request body cap in bytes (default 1048576); larger bodies get 413"),
    take1("WebhookPortal", set_portal, kDir,
          "On in the <Location>/<Directory> serving the integrator portal's files: adds its "
          "Content-Security-Policy, X-Content-Type-Options and Referrer-Policy headers (default Off)"),
    raw_args("WebhookPortalFrameAncestors", set_portal_frame_ancestors, kDir,
             "CSP frame-ancestors of the portal: who may embed it ('self' by default; 'none', or "
             "host sources such as https://gateway.example.com); implies WebhookPortal On"),
    command_rec{}};

// ---- records: create and merge (the rules are in core/module_config.hpp) ----

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

// ---- post_config: the keys are read here, as root, before the children drop privileges ----

namespace {

// HTTP_INTERNAL_SERVER_ERROR (start-up fails) when server v has a database but no key file.
// A key that cannot be read here passed the directive's check moments ago (removed or
// spoiled during a graceful restart): the server keeps serving without it, the events path
// as usual, the API routes that seal credentials with 503 (WH00021), and one line says so.
int load_server_key(server_rec* v) {
    ServerConf* c = server_conf(v);
    if (c->db_spec && !c->key_file) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, v,
                     "WH00003: WebhookDatabase is set but WebhookSecretKeyFile is not; "
                     "add WebhookSecretKeyFile with the key the worker uses");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!c->key_file) return OK;
    wh::SecretBox::Key key;
    std::string err = wh::SecretBox::load_key_file(c->key_file, key);
    if (!err.empty()) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, v,
                     "WH00022: WebhookSecretKeyFile cannot be used: %s; serving without it: events "
                     "are accepted, registering an endpoint, setting its password and rotating its "
                     "secret answer 503. Restore the key file (the worker's secret_key_file: a "
                     "new key cannot open the credentials stored with the old one), then reload Apache",
                     err.c_str());
        return OK;
    }
    std::memcpy(c->key, key.data(), key.size());
    explicit_bzero(key.data(), key.size());
    c->key_loaded = 1;
    return OK;
}

}  // namespace

extern "C" int wh_post_config(apr_pool_t*, apr_pool_t*, apr_pool_t*, server_rec* s) {
    try {
        // httpd runs the config phase twice at start-up; act on the real one only.
        if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) return OK;
        wh::set_log_sink(wh::glue::log_sink, s);
        wh::db_library_init();
        for (server_rec* v = s; v; v = v->next)
            if (int rc = load_server_key(v); rc != OK) return rc;
        return OK;
    } catch (const std::exception& e) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "WH00008: start-up failed: %s; fix the cause and restart",
                     e.what());
    } catch (...) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "WH00008: start-up failed (unknown error)");
    }
    return HTTP_INTERNAL_SERVER_ERROR;
}

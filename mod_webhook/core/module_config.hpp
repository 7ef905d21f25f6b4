// The module's configuration records (httpd keeps them in APR pools, so they are plain
// data) and their merge rules, kept free of httpd headers so they are unit-tested
// (tests/unit/test_api_config.cpp). Every field starts "unset" (NULL / -1 / 0); a merge
// keeps the child's value only when it is set; getters apply the defaults.
#pragma once

#include <cctype>
#include <cstring>
#include <string>
#include <type_traits>

#include "db.hpp"

namespace wh::api {

constexpr long long kDefaultMaxBody = 1048576;  // WebhookMaxBodySize default (1 MiB)

struct ServerConf {
    // Directives (RSRC_CONF).
    const char* db_spec;        // WebhookDatabase
    const char* key_file;       // WebhookSecretKeyFile (resolved against ServerRoot)
    const char* allow_private;  // WebhookAllowPrivateTargets (raw argument text)
    int db_timeout;             // WebhookDatabaseTimeout, seconds; 0 = unset
    int max_endpoints_per_scope;  // WebhookMaxEndpointsPerScope; 0 = unset
    const char* notify_worker;  // WebhookNotifyWorker: space-separated HOST:PORT, or "Off"
    // Loaded in post_config (parent, as root), never merged. What a child creates at run
    // time (DB pools, wake-up senders) is in its own record (../child.hpp), not here.
    int key_loaded;
    unsigned char key[32];
};

struct DirConf {
    const char* location;  // path of the section the record was created for
    long long max_body;    // WebhookMaxBodySize; -1 = unset
    const char* frame_ancestors;  // WebhookPortalFrameAncestors (checked sources); NULL = unset
    int portal;            // WebhookPortal: 1 On, 0 Off, -1 unset
};

static_assert(std::is_trivial<ServerConf>::value && std::is_standard_layout<ServerConf>::value,
              "config records live in APR pools: they must be plain data");
static_assert(std::is_trivial<DirConf>::value && std::is_standard_layout<DirConf>::value,
              "config records live in APR pools: they must be plain data");

// A fresh record: everything unset (what apr_pcalloc gives, plus the -1 sentinels).
inline void init_server_conf(ServerConf& c) { c = ServerConf{}; }
inline void init_dir_conf(DirConf& c, const char* location) {
    c = DirConf{};
    c.location = location;
    c.max_body = -1;
    c.portal = -1;
}

// out = add where set, else base. Runtime fields start unset.
inline void merge_server_conf(const ServerConf& base, const ServerConf& add, ServerConf& out) {
    out = ServerConf{};
    out.db_spec = add.db_spec ? add.db_spec : base.db_spec;
    out.key_file = add.key_file ? add.key_file : base.key_file;
    out.allow_private = add.allow_private ? add.allow_private : base.allow_private;
    out.db_timeout = add.db_timeout ? add.db_timeout : base.db_timeout;
    out.notify_worker = add.notify_worker ? add.notify_worker : base.notify_worker;
    out.max_endpoints_per_scope = add.max_endpoints_per_scope ? add.max_endpoints_per_scope : base.max_endpoints_per_scope;
}

inline void merge_dir_conf(const DirConf& base, const DirConf& add, DirConf& out) {
    out.location = add.location ? add.location : base.location;
    out.max_body = add.max_body != -1 ? add.max_body : base.max_body;
    out.frame_ancestors = add.frame_ancestors ? add.frame_ancestors : base.frame_ancestors;
    out.portal = add.portal != -1 ? add.portal : base.portal;
}

// Getters: the defaults live here and nowhere else.
inline long long max_body_size(const DirConf* d) {
    return d && d->max_body > 0 ? d->max_body : kDefaultMaxBody;
}
inline const char* allow_private_targets(const ServerConf* c) {
    return c && c->allow_private ? c->allow_private : "Off";
}

// ---- the portal's response headers (WebhookPortal, WebhookPortalFrameAncestors) ----

constexpr char kDefaultFrameAncestors[] = "'self'";

// The portal's headers apply where WebhookPortal is On, or where only
// WebhookPortalFrameAncestors is set (naming who may embed the portal implies it).
inline bool portal_enabled(const DirConf* d) {
    return d && (d->portal == 1 || (d->portal == -1 && d->frame_ancestors));
}
inline const char* frame_ancestors(const DirConf* d) {
    return d && d->frame_ancestors ? d->frame_ancestors : kDefaultFrameAncestors;
}

// The portal's Content-Security-Policy: its own files only (no inline script or style, no
// plugin, no <base> or form posted elsewhere), framed only by the given sources.
inline std::string portal_csp(const DirConf* d) {
    return std::string("default-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; "
                       "frame-ancestors ") + frame_ancestors(d);
}

// WebhookPortalFrameAncestors' value: CSP sources separated by blanks, 'self' or 'none'
// (alone) as keywords, else host sources and schemes (https://gw.example.com,
// https://*.example.com:8443, https:). Anything that could end the directive or start
// another (';', ',', quotes, control characters) is refused. "" = fine, out = the
// normalised list; else what is wrong.
inline std::string parse_frame_ancestors(const std::string& raw, std::string& out) {
    out.clear();
    size_t words = 0;
    bool none = false;
    for (size_t i = 0; i < raw.size();) {
        if (raw[i] == ' ' || raw[i] == '\t') { ++i; continue; }
        size_t end = raw.find_first_of(" \t", i);
        std::string w = raw.substr(i, end == std::string::npos ? std::string::npos : end - i);
        i = end == std::string::npos ? raw.size() : end;
        std::string lower = w;
        for (auto& ch : lower) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
        if (lower == "'self'" || lower == "'none'") {
            none = none || lower == "'none'";
            w = lower;
        } else {
            for (unsigned char ch : w)
                if (!(std::isalnum(ch) || std::strchr("-._~:/*%[]+", ch)))
                    return "'" + w + "' is not a CSP source: use 'self', 'none', a scheme (https:) or a host source "
                                     "such as https://gateway.example.com (no quotes other than 'self'/'none', no ; or ,)";
        }
        out += (out.empty() ? "" : " ") + w;
        ++words;
    }
    if (!words) return "no source given; use 'self' (the default), 'none', or host sources such as https://gateway.example.com";
    if (none && words > 1) return "'none' cannot be combined with other sources";
    if (out.size() > 1024) return "the list is longer than 1024 characters";
    return "";
}

constexpr int kDefaultMaxEndpointsPerScope = 50;  // WebhookMaxEndpointsPerScope default
constexpr int kMaxMaxEndpointsPerScope = 1000000;
inline int max_endpoints_per_scope(const ServerConf* c) {
    return c && c->max_endpoints_per_scope > 0 ? c->max_endpoints_per_scope : kDefaultMaxEndpointsPerScope;
}

constexpr int kDefaultDbTimeout = 2;  // WebhookDatabaseTimeout default, seconds
constexpr int kMaxDbTimeout = 300;
inline int db_timeout(const ServerConf* c) {
    return c && c->db_timeout > 0 ? c->db_timeout : kDefaultDbTimeout;
}

// The longest a request waits on MariaDB I/O: WebhookDatabaseTimeout bounds the connect and
// every read and write (so a stopped or hung server costs a request at most that long before
// its 503), except where the WebhookDatabase string sets connect_timeout=, read_timeout= or
// write_timeout= itself.
inline void apply_db_timeout(const char* spec, int seconds, wh::DbConfig& cfg) {
    wh::DbConfig given;  // parsed again with 0 = "not written" (parse refuses a 0 timeout)
    given.connect_timeout = given.read_timeout = given.write_timeout = 0;
    wh::parse_db_config(spec ? spec : "", given);
    unsigned t = static_cast<unsigned>(seconds > 0 ? seconds : kDefaultDbTimeout);
    if (!given.connect_timeout) cfg.connect_timeout = t;
    if (!given.read_timeout) cfg.read_timeout = t;
    if (!given.write_timeout) cfg.write_timeout = t;
}

}  // namespace wh::api

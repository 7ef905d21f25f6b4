// The HTTP API core of mod_webhook: knows nothing of httpd or APR. The glue (../request.cpp)
// turns a request_rec into an HttpRequest, calls handle(), and writes the HttpResponse.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "crypto.hpp"
#include "db.hpp"
#include "module_config.hpp"
#include "target.hpp"

namespace wh::api {

// The two handlers an admin maps with SetHandler.
enum class Handler { api, events };

// Per-request view of the module configuration (already resolved by the glue).
struct ApiConfig {
    const wh::SecretBox* box = nullptr;  // key from WebhookSecretKeyFile; null when it failed to load
    std::string key_file;                // WebhookSecretKeyFile, for the log line when box is null
    wh::AddressPolicy policy;            // from WebhookAllowPrivateTargets
    unsigned max_endpoints_per_scope = kDefaultMaxEndpointsPerScope;  // WebhookMaxEndpointsPerScope
    // Resolves and checks a receiver URL; replaceable in tests. Defaults to wh::check_target.
    std::function<std::string(const wh::Url&, const wh::AddressPolicy&)> check_target;
};

struct HttpRequest {
    HttpRequest(wh::Db& d, const ApiConfig& c) : db(d), config(c) {}

    std::string method;        // "GET", "POST", … ("HEAD" is served as GET)
    std::string path;          // route relative to the <Location>: "", "/endpoints/ep_1", …
    std::string query;         // raw query string without '?'
    std::string content_type;  // Content-Type header or ""
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
    std::string user;          // Apache-authenticated user (r->user) or ""
    std::string base_path;     // the <Location> path, for Location headers
    std::string origin;        // the request's own "scheme://host[:port]" as httpd sees it
                               // (UseCanonicalName decides the host and port)
    wh::Db& db;
    const ApiConfig& config;

    // Header value by case-insensitive name, "" when absent.
    std::string header(const std::string& name) const;
};

struct HttpResponse {
    int status = 200;
    std::string content_type;  // "" for no body
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    // Set when the DB connection must not go back to the pool (it failed).
    bool drop_db = false;
    // Set when new work was committed for the worker: the glue sends the wake-up datagram
    // (WebhookNotifyWorker) after the answer is decided, never failing the request.
    bool wake_worker = false;

    void set_header(const std::string& name, const std::string& value) {
        headers.emplace_back(name, value);
    }
    // First header value by exact name, "" when absent (tests).
    std::string header(const std::string& name) const {
        for (const auto& h : headers)
            if (h.first == name) return h.second;
        return "";
    }
};

// Serves one request; never throws. DB trouble becomes 503 (unreachable) or 500.
HttpResponse handle(Handler handler, const HttpRequest& req) noexcept;

}  // namespace wh::api

// Refusing state changes that a browser sends on behalf of another site (cross-site request
// forgery). The API authenticates with whatever Apache uses, Basic auth included, which a
// browser attaches to any request to the site, also one a foreign page makes it send. Pure
// logic; the glue passes the request's own origin in HttpRequest::origin.
#pragma once

#include <string>

namespace wh::api {

// True for the methods that change state (POST, PUT, PATCH, DELETE).
bool is_state_change(const std::string& method);

// "scheme://host[:port]" lower-cased, without the default port of the scheme (80 for http,
// 443 for https); "" when `origin` is not a serialized origin ("null", a path, no scheme,
// userinfo, a bad port).
std::string normalize_origin(const std::string& origin);

// Why a state change is refused, or "" when it may pass. `sec_fetch_site` and `origin` are
// the request's headers ("" when absent); `own_origin` is the request's own scheme://host[:port]
// as the server sees it. A recognised Sec-Fetch-Site decides alone: cross-site is refused,
// same-origin, same-site and none (typed by the user) pass. Without one (older browsers,
// non-browser clients), an Origin that is not the request's own is refused; no Origin passes
// (curl, servers).
std::string cross_site_refusal(const std::string& sec_fetch_site, const std::string& origin,
                               const std::string& own_origin);

}  // namespace wh::api

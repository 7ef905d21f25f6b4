// The route table of the two handlers and the matching of a path against it. A route is one
// RouteEntry (in routes(), api.cpp, next to its operation): method, pattern, operation,
// whether it takes a JSON body (and whether that body may be left out), and who may call it.
#pragma once

#include <string>
#include <vector>

#include "http.hpp"
#include "principal.hpp"

namespace wh::api {

// Who may call a route, checked before its operation runs.
enum class Access {
    principal,  // an authenticated user with a row in webhook_principals (401, 403); the body's
                // syntax is checked before the principal is looked up
    open,       // anyone: no user, no SQL (a body must still be empty or {})
    apache,     // only Apache's access control (Require ip, …); the operation reads the body
};

// The operation of a route: the request, the caller (empty unless Access::principal) and
// the path's {id} ("" when the pattern has none).
using Operation = HttpResponse (*)(const HttpRequest& req, const Principal& who, const std::string& id);

struct RouteEntry {
    Handler handler;
    const char* method;   // "GET" also answers HEAD
    const char* pattern;  // segments below the <Location>; "{id}" matches any one segment
    Operation operation;
    bool takes_body;      // a JSON body; other routes accept none (or {})
    Access access;
    bool body_optional = false;  // takes_body, and no body at all (or only blanks) is allowed too
};

// Every route, in Allow order per pattern (defined in api.cpp).
const std::vector<RouteEntry>& routes();

struct RouteMatch {
    const char* pattern = nullptr;     // the matched entries' pattern; none: 404
    bool found() const { return pattern != nullptr; }
    std::string id;                    // {id} when the route has one
    std::vector<std::string> allowed;  // methods, in Allow order
    std::vector<const RouteEntry*> entries;  // one per allowed method
};

RouteMatch match_route(Handler handler, const std::string& path);

// The entry serving method on a matched route (HEAD is served as GET), or nullptr (405).
const RouteEntry* route_entry(const RouteMatch& m, const std::string& method);

// The route of a request URI: the part below the section path that maps the handler.
// locations are candidate section paths (core's and ours; entries not starting with '/',
// such as regexes, are skipped). The first candidate under which the URI names a known route
// wins; else the first that is a path prefix; else the whole URI with an empty base.
void resolve_route(Handler handler, const std::string& uri, const std::vector<std::string>& locations,
                   std::string& route, std::string& base);

// HEAD is allowed wherever GET is.
bool method_allowed(const RouteMatch& m, const std::string& method);
// "GET, POST" (HEAD added after GET).
std::string allow_header(const RouteMatch& m);

}  // namespace wh::api

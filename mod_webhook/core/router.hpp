// Routing of the two handlers: which resource a path names and which methods it allows.
#pragma once

#include <string>
#include <vector>

#include "http.hpp"

namespace wh::api {

enum class Route {
    none,             // unknown path: 404
    event_types,      // /event-types
    endpoints,        // /endpoints
    endpoint,         // /endpoints/{id}
    endpoint_rotate,  // /endpoints/{id}/rotate-secret
    endpoint_deliveries,  // /endpoints/{id}/deliveries
    endpoint_recover,     // /endpoints/{id}/recover
    delivery,             // /deliveries/{notificationId}
    delivery_redeliver,   // /deliveries/{notificationId}/redeliver
    events,           // webhook-events: "" , "/" or "/events"
};

struct RouteMatch {
    Route route = Route::none;
    std::string id;                    // {id} when the route has one
    std::vector<std::string> allowed;  // methods, in Allow order
};

RouteMatch match_route(Handler handler, const std::string& path);

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

#include "router.hpp"

namespace wh::api {

namespace {

std::vector<std::string> split_path(const std::string& path) {
    std::vector<std::string> parts;
    size_t i = 0;
    while (i < path.size()) {
        if (path[i] == '/') {
            ++i;
            continue;
        }
        size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        parts.push_back(path.substr(i, j - i));
        i = j;
    }
    return parts;
}

}  // namespace

RouteMatch match_route(Handler handler, const std::string& path) {
    RouteMatch m;
    // Reject empty segments ("//") and dot segments instead of guessing what they mean.
    if (path.find("//") != std::string::npos) return m;
    std::vector<std::string> p = split_path(path);
    for (const auto& seg : p)
        if (seg == "." || seg == "..") return m;

    if (handler == Handler::events) {
        if (p.empty() || (p.size() == 1 && p[0] == "events")) {
            m.route = Route::events;
            m.allowed = {"POST"};
        }
        return m;
    }
    if (p.size() == 1 && p[0] == "event-types") {
        m.route = Route::event_types;
        m.allowed = {"GET"};
    } else if (p.size() == 1 && p[0] == "endpoints") {
        m.route = Route::endpoints;
        m.allowed = {"GET", "POST"};
    } else if (p.size() == 2 && p[0] == "endpoints") {
        m.route = Route::endpoint;
        m.id = p[1];
        m.allowed = {"GET", "PATCH", "DELETE"};
    } else if (p.size() == 3 && p[0] == "endpoints" && p[2] == "rotate-secret") {
        m.route = Route::endpoint_rotate;
        m.id = p[1];
        m.allowed = {"POST"};
    } else if (p.size() == 3 && p[0] == "endpoints" && p[2] == "deliveries") {
        m.route = Route::endpoint_deliveries;
        m.id = p[1];
        m.allowed = {"GET"};
    } else if (p.size() == 3 && p[0] == "endpoints" && p[2] == "recover") {
        m.route = Route::endpoint_recover;
        m.id = p[1];
        m.allowed = {"POST"};
    } else if (p.size() == 2 && p[0] == "deliveries") {
        m.route = Route::delivery;
        m.id = p[1];
        m.allowed = {"GET"};
    } else if (p.size() == 3 && p[0] == "deliveries" && p[2] == "redeliver") {
        m.route = Route::delivery_redeliver;
        m.id = p[1];
        m.allowed = {"POST"};
    }
    return m;
}

namespace {
bool strip_prefix(const std::string& uri, std::string loc, std::string& route, std::string& base) {
    if (loc.empty() || loc[0] != '/') return false;
    while (!loc.empty() && loc.back() == '/') loc.pop_back();
    if (uri.compare(0, loc.size(), loc) != 0 || (uri.size() != loc.size() && uri[loc.size()] != '/'))
        return false;
    route = uri.substr(loc.size());
    base = loc;
    return true;
}
}  // namespace

void resolve_route(Handler handler, const std::string& uri, const std::vector<std::string>& locations,
                   std::string& route, std::string& base) {
    bool have = false;
    for (const auto& loc : locations) {
        std::string rt, b;
        if (!strip_prefix(uri, loc, rt, b)) continue;
        if (match_route(handler, rt).route != Route::none) {
            route = rt;
            base = b;
            return;
        }
        if (!have) {
            route = rt;
            base = b;
            have = true;
        }
    }
    if (!have) {
        route = uri;
        base.clear();
    }
}

bool method_allowed(const RouteMatch& m, const std::string& method) {
    std::string want = method == "HEAD" ? "GET" : method;
    for (const auto& a : m.allowed)
        if (a == want) return true;
    return false;
}

std::string allow_header(const RouteMatch& m) {
    std::string out;
    for (const auto& a : m.allowed) {
        if (!out.empty()) out += ", ";
        out += a;
        if (a == "GET") out += ", HEAD";
    }
    return out;
}

}  // namespace wh::api

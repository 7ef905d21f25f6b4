#include "router.hpp"

#include <cstring>

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

// True when the segments fit the pattern; id takes the segment matched by "{id}".
bool fits(const char* pattern, const std::vector<std::string>& segments, std::string& id) {
    std::vector<std::string> want = split_path(pattern);
    if (want.size() != segments.size()) return false;
    std::string found;
    for (size_t i = 0; i < want.size(); ++i) {
        if (want[i] == "{id}") found = segments[i];
        else if (want[i] != segments[i]) return false;
    }
    id = found;
    return true;
}

}  // namespace

RouteMatch match_route(Handler handler, const std::string& path) {
    RouteMatch m;
    // Reject empty segments ("//") and dot segments instead of guessing what they mean.
    if (path.find("//") != std::string::npos) return m;
    std::vector<std::string> p = split_path(path);
    for (const auto& seg : p)
        if (seg == "." || seg == "..") return m;

    const char* matched = nullptr;  // the first pattern that fits; its entries give the methods
    for (const RouteEntry& e : routes()) {
        if (e.handler != handler) continue;
        if (matched ? std::strcmp(e.pattern, matched) != 0 : !fits(e.pattern, p, m.id)) continue;
        matched = e.pattern;
        m.pattern = e.pattern;
        m.allowed.emplace_back(e.method);
        m.entries.push_back(&e);
    }
    return m;
}

const RouteEntry* route_entry(const RouteMatch& m, const std::string& method) {
    std::string want = method == "HEAD" ? "GET" : method;
    for (const RouteEntry* e : m.entries)
        if (want == e->method) return e;
    return nullptr;
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
        if (match_route(handler, rt).found()) {
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

bool method_allowed(const RouteMatch& m, const std::string& method) { return route_entry(m, method) != nullptr; }

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

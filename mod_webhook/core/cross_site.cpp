#include "cross_site.hpp"

#include "parse.hpp"
#include "util.hpp"

namespace wh::api {

bool is_state_change(const std::string& method) {
    return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

std::string normalize_origin(const std::string& origin) {
    std::string o = ascii_lower(origin);
    size_t sep = o.find("://");
    if (sep == std::string::npos || sep == 0) return "";
    std::string scheme = o.substr(0, sep), rest = o.substr(sep + 3);
    for (char c : scheme)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')) return "";
    if (rest.empty() || rest.find_first_of("/?#@ \t") != std::string::npos) return "";
    // host, [IPv6] or host:port / [IPv6]:port
    std::string host = rest, port;
    size_t close = rest.rfind(']');
    size_t colon = rest.rfind(':');
    if (colon != std::string::npos && (close == std::string::npos || colon > close)) {
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
        unsigned long long n = 0;
        if (!wh::parse_decimal(port, 65535, n)) return "";
        port = std::to_string(n);
    }
    if (host.empty() || (host.front() == '[') != (close != std::string::npos)) return "";
    if ((scheme == "http" && port == "80") || (scheme == "https" && port == "443")) port.clear();
    return scheme + "://" + host + (port.empty() ? "" : ":" + port);
}

std::string cross_site_refusal(const std::string& sec_fetch_site, const std::string& origin,
                               const std::string& own_origin) {
    std::string site = ascii_lower(sec_fetch_site);
    if (site == "cross-site")
        return "a change sent from another site (Sec-Fetch-Site: cross-site) is refused; "
               "make it from a page of this site or from a program that is not a browser";
    if (site == "same-origin" || site == "same-site" || site == "none") return "";
    if (origin.empty()) return "";
    std::string theirs = normalize_origin(origin);
    if (!theirs.empty() && theirs == normalize_origin(own_origin)) return "";
    constexpr size_t kMaxShown = 100;  // the header may be kilobytes long
    if (theirs.empty()) theirs = "not an origin";
    else if (theirs.size() > kMaxShown) theirs = theirs.substr(0, kMaxShown) + "...";
    return "a change sent from another origin (Origin: " + theirs +
           ") is refused; make it from a page of this site or from a program that is not a browser";
}

}  // namespace wh::api

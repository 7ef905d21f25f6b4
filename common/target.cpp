#include "target.hpp"

#include "parse.hpp"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>

namespace wh {

namespace {

bool id_alphabet(const std::string& s, size_t max_length) {
    if (s.empty() || s.size() > max_length) return false;
    for (char c : s)
        if (!(isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
            return false;
    return true;
}

}  // namespace

bool valid_scope_id(const std::string& id) {
    return id_alphabet(id, 64);
}

bool valid_ordering_key(const std::string& key) {
    return id_alphabet(key, 128);
}

namespace {

std::string lower(std::string s) {
    for (auto& c : s) c = char(tolower(static_cast<unsigned char>(c)));
    return s;
}

bool in_prefix(const unsigned char* a, const unsigned char* net, unsigned bits) {
    unsigned full = bits / 8, rest = bits % 8;
    if (std::memcmp(a, net, full) != 0) return false;
    if (rest == 0) return true;
    unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

// v4 range check on an IPv4 address given as 4 bytes.
bool v4_in(const unsigned char* a, unsigned char b0, unsigned char b1, unsigned bits) {
    unsigned char net[4] = {b0, b1, 0, 0};
    return in_prefix(a, net, bits);
}

bool v4_non_public(const unsigned char* a) {
    return v4_in(a, 0, 0, 8) ||          // "this" network, unspecified
           v4_in(a, 10, 0, 8) ||         // private
           v4_in(a, 100, 64, 10) ||      // shared address space (CGNAT)
           v4_in(a, 127, 0, 8) ||        // loopback
           v4_in(a, 169, 254, 16) ||     // link-local, cloud metadata 169.254.169.254
           v4_in(a, 172, 16, 12) ||      // private
           (a[0] == 192 && a[1] == 0 && a[2] == 0) ||    // IETF protocol assignments
           (a[0] == 192 && a[1] == 0 && a[2] == 2) ||    // documentation
           (a[0] == 192 && a[1] == 88 && a[2] == 99) ||  // 6to4 relay anycast
           v4_in(a, 192, 168, 16) ||     // private
           v4_in(a, 198, 18, 15) ||      // benchmarking
           (a[0] == 198 && a[1] == 51 && a[2] == 100) ||  // documentation
           (a[0] == 203 && a[1] == 0 && a[2] == 113) ||   // documentation
           (a[0] == 168 && a[1] == 63 && a[2] == 129 && a[3] == 16) ||  // Azure host services
           a[0] >= 224;                  // multicast, reserved, broadcast
}

}  // namespace

bool IpAddr::is_v4() const {
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(b, mapped, 12) == 0;
}

std::string IpAddr::str() const {
    char buf[INET6_ADDRSTRLEN];
    if (is_v4()) inet_ntop(AF_INET, b + 12, buf, sizeof buf);
    else inet_ntop(AF_INET6, b, buf, sizeof buf);
    return buf;
}

bool parse_ip_literal(const std::string& host_in, IpAddr& out) {
    std::string host = host_in;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    in6_addr a6;
    if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
        std::memcpy(out.b, &a6, 16);
        return true;
    }
    in_addr a4;
    // inet_aton takes every legacy notation: 2130706433, 0177.0.0.1, 0x7f.1, 127.1.
    if (!host.empty() && inet_aton(host.c_str(), &a4) == 1) {
        std::memset(out.b, 0, 10);
        out.b[10] = out.b[11] = 0xff;
        std::memcpy(out.b + 12, &a4, 4);
        return true;
    }
    return false;
}

IpAddr ip_from_sockaddr(const sockaddr* sa) {
    IpAddr ip;
    if (sa->sa_family == AF_INET) {
        ip.b[10] = ip.b[11] = 0xff;
        std::memcpy(ip.b + 12, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        std::memcpy(ip.b, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
    }
    return ip;
}

bool is_non_public(const IpAddr& ip) {
    const unsigned char* b = ip.b;
    if (ip.is_v4()) return v4_non_public(b + 12);
    static const unsigned char zero[16] = {0};
    // :: and ::1, and the deprecated IPv4-compatible ::a.b.c.d
    if (std::memcmp(b, zero, 12) == 0) return true;
    if (b[0] == 0xff) return true;                          // multicast
    if ((b[0] & 0xfe) == 0xfc) return true;                 // unique-local fc00::/7
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true; // link-local fe80::/10
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return true; // site-local fec0::/10
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return true;  // doc
    if (b[0] == 0x3f && b[1] == 0xff && (b[2] & 0xf0) == 0) return true;  // documentation 3fff::/20
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0x02 && b[4] == 0 && b[5] == 0)
        return true;  // benchmarking 2001:2::/48
    // NAT64 64:ff9b::/96 and IPv4-translated ::ffff:0:a.b.c.d carry an IPv4 address.
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const unsigned char xlat[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
    if (std::memcmp(b, nat64, 12) == 0 || std::memcmp(b, xlat, 12) == 0)
        return v4_non_public(b + 12);
    if (b[0] == 0x20 && b[1] == 0x02) return v4_non_public(b + 2);  // 6to4 embeds IPv4
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) return true;  // Teredo
    if ((b[0] & 0xe0) != 0x20) return true;  // outside global unicast 2000::/3
    return false;
}

std::string AddressPolicy::parse(const std::string& spec) {
    allow_all_ = false;
    allowed_.clear();
    std::istringstream in(spec);
    std::string item;
    std::vector<std::string> items;
    while (in >> item) items.push_back(item);
    if (items.size() == 1 && parse_on_off(items[0], allow_all_).empty()) return "";
    for (const auto& it : items) {
        auto slash = it.find('/');
        std::string addr = it.substr(0, slash);
        Cidr c;
        in6_addr a6;
        in_addr a4;
        unsigned max;
        if (inet_pton(AF_INET, addr.c_str(), &a4) == 1) {
            c.family = AF_INET;
            std::memcpy(c.addr, &a4, 4);
            max = 32;
        } else if (inet_pton(AF_INET6, addr.c_str(), &a6) == 1) {
            c.family = AF_INET6;
            std::memcpy(c.addr, &a6, 16);
            max = 128;
        } else {
            return "'" + it + "' is neither On, Off nor an address/prefix";
        }
        c.prefix = max;
        if (slash != std::string::npos) {
            unsigned long long p = 0;
            if (slash + 4 < it.size() || !parse_decimal(it.substr(slash + 1), max, p))
                return "'" + it + "' has a bad prefix length";
            c.prefix = unsigned(p);
        }
        allowed_.push_back(c);
    }
    return "";
}

bool AddressPolicy::permits(const IpAddr& ip) const {
    if (allow_all_ || !is_non_public(ip)) return true;
    for (const auto& c : allowed_) {
        if (c.family == AF_INET && ip.is_v4() && in_prefix(ip.b + 12, c.addr, c.prefix))
            return true;
        if (c.family == AF_INET6 && !ip.is_v4() && in_prefix(ip.b, c.addr, c.prefix))
            return true;
    }
    return false;
}

std::string parse_url(const std::string& text, Url& out) {
    if (text.empty()) return "must not be empty";
    if (text.size() > 2048) return "must be at most 2048 bytes";
    for (unsigned char c : text)
        if (c <= 0x20 || c >= 0x7f) return "must not contain spaces, control or non-ASCII characters";
    auto colon = text.find("://");
    if (colon == std::string::npos) return "must be an absolute http or https URL";
    Url u;
    u.scheme = lower(text.substr(0, colon));
    if (u.scheme != "http" && u.scheme != "https") return "scheme must be http or https";
    if (text.find('#') != std::string::npos) return "must not have a fragment";
    std::string rest = text.substr(colon + 3);
    size_t end = rest.find_first_of("/?");
    std::string authority = rest.substr(0, end);
    u.path = end == std::string::npos ? "/" : rest.substr(end);
    if (u.path[0] == '?') u.path = "/" + u.path;
    if (authority.find('@') != std::string::npos) return "must not contain a username or password";
    if (authority.empty()) return "must have a host";
    std::string port;
    if (authority[0] == '[') {
        auto close = authority.find(']');
        if (close == std::string::npos) return "has an unterminated IPv6 address";
        u.host = authority.substr(1, close - 1);
        std::string after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') return "has a malformed host";
            port = after.substr(1);
        }
        in6_addr a6;
        if (inet_pton(AF_INET6, u.host.c_str(), &a6) != 1) return "has a malformed IPv6 address";
    } else {
        auto c = authority.find(':');
        u.host = lower(authority.substr(0, c));
        if (c != std::string::npos) port = authority.substr(c + 1);
        for (char ch : u.host)
            if (!(isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' || ch == '_'))
                return "has a malformed host";
        if (u.host.empty()) return "must have a host";
    }
    if (!port.empty()) {
        unsigned long long p = 0;
        if (port.size() > 5 || !parse_decimal(port, ~0ULL, p)) return "has a malformed port";
        if (p == 0 || p > 65535) return "has a port out of range";
        u.port = unsigned(p);
    } else {
        u.port = u.scheme == "https" ? 443 : 80;
    }
    out = u;
    return "";
}

const char* const kTargetNotAllowed = "the URL's host is not an allowed target";
const char* const kTargetResolveTimeout = "the URL's host could not be resolved in time; try again later";

namespace {

// One getaddrinfo_a request; glibc writes into cb until the lookup is done.
struct Lookup {
    std::string name;
    addrinfo hints{};
    gaicb cb{};
    ~Lookup() {
        if (cb.ar_result) freeaddrinfo(cb.ar_result);
    }
};

std::mutex parked_mu;
// Timed out, not cancellable, still being written by glibc. Never destroyed (deliberately
// leaked): at exit a glibc thread may still write into a parked lookup.
auto* const parked = new std::vector<std::unique_ptr<Lookup>>();

// Frees parked lookups glibc has finished; true when there is room for one more.
bool sweep_parked() {
    std::lock_guard<std::mutex> lock(parked_mu);
    parked->erase(std::remove_if(parked->begin(), parked->end(),
                                 [](const std::unique_ptr<Lookup>& l) { return gai_error(&l->cb) != EAI_INPROGRESS; }),
                  parked->end());
    return parked->size() < kMaxParkedLookups;
}

void park(std::unique_ptr<Lookup> l) {
    std::lock_guard<std::mutex> lock(parked_mu);
    parked->push_back(std::move(l));
}

}  // namespace

Resolved resolve_host(const std::string& host, std::chrono::milliseconds timeout, std::vector<IpAddr>& out) {
    if (!sweep_parked()) return Resolved::timed_out;  // resolution hangs for many names already
    auto l = std::make_unique<Lookup>();
    l->name = host;
    l->hints.ai_family = AF_UNSPEC;
    l->hints.ai_socktype = SOCK_STREAM;
    l->cb.ar_name = l->name.c_str();
    l->cb.ar_request = &l->hints;
    gaicb* list[1] = {&l->cb};
    if (getaddrinfo_a(GAI_NOWAIT, list, 1, nullptr) != 0) return Resolved::failed;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (gai_error(&l->cb) == EAI_INPROGRESS) {
        auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        timespec ts{time_t(left.count() / 1000000000), long(left.count() % 1000000000)};
        gai_suspend(list, 1, &ts);  // returns on completion, timeout or a signal
    }
    int rc = gai_error(&l->cb);
    if (rc == EAI_INPROGRESS) {
        if (gai_cancel(&l->cb) != EAI_CANCELED) park(std::move(l));
        return Resolved::timed_out;
    }
    if (rc != 0) return Resolved::failed;
    for (addrinfo* ai = l->cb.ar_result; ai; ai = ai->ai_next) out.push_back(ip_from_sockaddr(ai->ai_addr));
    return out.empty() ? Resolved::failed : Resolved::ok;
}

std::string check_target(const Url& url, const AddressPolicy& policy, std::vector<IpAddr>* addrs,
                         std::string* log_detail, const Resolver& resolve) {
    std::vector<IpAddr> found;
    IpAddr lit;
    if (parse_ip_literal(url.host, lit)) {
        found.push_back(lit);
    } else {
        switch (resolve(url.host, kResolveTimeout, found)) {
            case Resolved::ok: break;
            case Resolved::failed: return "host '" + url.host + "' does not resolve";
            case Resolved::timed_out:
                if (log_detail) *log_detail = "host '" + url.host + "'";
                return kTargetResolveTimeout;
        }
    }
    for (const auto& ip : found)
        if (!policy.permits(ip)) {
            if (log_detail)
                *log_detail = "host '" + url.host + "' has address " + ip.str() +
                              ", which is private, loopback, link-local or otherwise not public";
            return kTargetNotAllowed;
        }
    if (addrs) *addrs = std::move(found);
    return "";
}

}  // namespace wh

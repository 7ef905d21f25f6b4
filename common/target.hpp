// Receiver URLs and the address policy that keeps notifications off private networks
// (SSRF defence). Used at registration (module) and again at send time (worker).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace wh {

// IDs of resellers, portfolios and merchants: 1-64 of [A-Za-z0-9._-].
bool valid_scope_id(const std::string& id);
// Ordering keys of events: 1-128 of the same alphabet.
bool valid_ordering_key(const std::string& key);

struct Url {
    std::string scheme;  // "http" or "https", lower case
    std::string host;    // without brackets for IPv6
    unsigned port = 0;   // explicit or the scheme's default
    std::string path;    // path and query, "/" if empty
};

// Absolute http(s) URL, at most 2048 bytes, no userinfo, no fragment, no whitespace or
// control characters. Returns "" or what is wrong.
std::string parse_url(const std::string& text, Url& out);

struct Cidr {
    int family = AF_INET;          // AF_INET or AF_INET6
    unsigned char addr[16] = {0};  // network bytes
    unsigned prefix = 0;
};

// An IP address as 16 bytes (IPv4 as IPv4-mapped IPv6) for uniform checks.
struct IpAddr {
    unsigned char b[16] = {0};
    bool is_v4() const;
    std::string str() const;
};

// Parses any textual IP the resolver or libcurl would take: dotted quad, the legacy
// decimal/octal/hex IPv4 notations (inet_aton), IPv6 with or without brackets.
bool parse_ip_literal(const std::string& host, IpAddr& out);
IpAddr ip_from_sockaddr(const sockaddr* sa);

// True for anything that is not a public unicast address: private, loopback, link-local,
// unique-local, multicast, unspecified, shared (100.64/10), reserved, documentation,
// benchmarking, cloud metadata, and IPv4 embedded in IPv6 transition formats.
bool is_non_public(const IpAddr& ip);

class AddressPolicy {
public:
    // "Off" (default: public only), "On" (everything allowed), or a list of CIDRs that are
    // allowed although non-public ("127.0.0.0/8 ::1/128"). Returns "" or an error.
    std::string parse(const std::string& spec);
    bool permits(const IpAddr& ip) const;
    bool allow_all() const { return allow_all_; }

private:
    bool allow_all_ = false;
    std::vector<Cidr> allowed_;
};

enum class Resolved { ok, failed, timed_out };

// The longest a registration waits for the URL's host to resolve.
constexpr std::chrono::milliseconds kResolveTimeout{2000};

// Resolves host (getaddrinfo_a) waiting at most `timeout`. A lookup still running then is
// cancelled, or, when glibc cannot cancel it, parked and freed by a later call once glibc's
// own resolver thread finishes it (within resolv.conf's timeout x attempts). glibc runs
// lookups on a bounded pool of threads (at most 20) and no thread of ours outlives the call;
// parked lookups are capped (kMaxParkedLookups), beyond that a name fails at once.
Resolved resolve_host(const std::string& host, std::chrono::milliseconds timeout, std::vector<IpAddr>& out);
constexpr size_t kMaxParkedLookups = 64;

using Resolver = std::function<Resolved(const std::string& host, std::chrono::milliseconds timeout,
                                        std::vector<IpAddr>& out)>;

// Resolves the URL's host (or takes its literal) and checks every address against the
// policy. Returns "" or a reason fit for a 422 message, which never names a resolved address
// (a caller must not learn what an internal name resolves to); log_detail (if given) gets
// the refused address, or the host that did not resolve in time, for the admin's log.
// Fills addrs with what may be dialled.
std::string check_target(const Url& url, const AddressPolicy& policy, std::vector<IpAddr>* addrs = nullptr,
                         std::string* log_detail = nullptr, const Resolver& resolve = resolve_host);

// The 422 reasons of check_target, for callers and tests.
extern const char* const kTargetNotAllowed;
extern const char* const kTargetResolveTimeout;

}  // namespace wh

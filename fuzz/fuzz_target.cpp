// Receiver URL and address checks (common/target.hpp): parse_url, parse_ip_literal,
// is_non_public, AddressPolicy::parse/permits — the SSRF defence at registration and send.
// Input: "POLICY\nTEXT": the first line is a WebhookAllowPrivateTargets / allow_private_targets
// value, the rest is tried as a URL and as a host. Without a newline, the whole input is
// TEXT and the policy is "Off".
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_check.hpp"
#include "target.hpp"

namespace {

wh::AddressPolicy policy_of(const char* spec) {
    wh::AddressPolicy p;
    FUZZ_CHECK(p.parse(spec).empty());
    return p;
}

// Every address, under every policy, gets the answer the contract gives it.
void check_ip(const wh::IpAddr& ip, const wh::AddressPolicy& policy, bool policy_ok) {
    static const wh::AddressPolicy off = policy_of("Off");
    static const wh::AddressPolicy on = policy_of("On");
    static const wh::AddressPolicy loopback = policy_of("127.0.0.0/8 ::1/128");
    bool non_public = wh::is_non_public(ip);
    FUZZ_CHECK(off.permits(ip) == !non_public);
    FUZZ_CHECK(on.permits(ip));
    // the local stack's policy lets loopback through and nothing else that is not public
    bool is_loopback = ip.is_v4() ? ip.b[12] == 127
                                  : std::memcmp(ip.b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0;
    FUZZ_CHECK(loopback.permits(ip) == (!non_public || is_loopback));
    if (policy_ok && !non_public) FUZZ_CHECK(policy.permits(ip));
    // the text form names the same address
    wh::IpAddr again;
    FUZZ_CHECK(wh::parse_ip_literal(ip.str(), again));
    FUZZ_CHECK(std::memcmp(again.b, ip.b, 16) == 0);
    if (!ip.is_v4()) FUZZ_CHECK(wh::parse_ip_literal("[" + ip.str() + "]", again));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    std::string spec = "Off", text = in;
    size_t nl = in.find('\n');
    if (nl != std::string::npos) {
        spec = in.substr(0, nl);
        text = in.substr(nl + 1);
    }
    wh::AddressPolicy policy;
    bool policy_ok = policy.parse(spec).empty();
    // the whole input as a policy too (the directive takes a list)
    wh::AddressPolicy whole;
    (void)whole.parse(in);

    wh::Url u;
    std::string err = wh::parse_url(text, u);
    if (err.empty()) {
        FUZZ_CHECK(!text.empty() && text.size() <= 2048);
        FUZZ_CHECK(u.scheme == "http" || u.scheme == "https");
        FUZZ_CHECK(!u.host.empty() && u.port >= 1 && u.port <= 65535);
        FUZZ_CHECK(!u.path.empty() && u.path[0] == '/');
        FUZZ_CHECK(u.host.find_first_of("@/?#[]") == std::string::npos);
        for (unsigned char c : text) FUZZ_CHECK(c > 0x20 && c < 0x7f);
        wh::IpAddr ip;
        if (wh::parse_ip_literal(u.host, ip)) check_ip(ip, policy, policy_ok);
    }
    wh::IpAddr ip;
    if (wh::parse_ip_literal(text, ip)) check_ip(ip, policy, policy_ok);
    (void)wh::valid_scope_id(text);
    return 0;
}

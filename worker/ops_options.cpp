#include "ops_options.hpp"

#include <arpa/inet.h>

#include "schedule.hpp"

namespace wh::worker {

namespace {

std::string bad(const std::string& key, const std::string& why) {
    std::string flag = key;
    for (auto& c : flag)
        if (c == '_') c = '-';
    return "--" + flag + " (" + key + "): " + why;
}

// "off"/"0" or a duration (500ms, 30s, 5m, 1h, 5d).
bool parse_duration_or_off(const std::string& v, long long& ms) {
    if (v == "0" || v == "off" || v == "Off") {
        ms = 0;
        return true;
    }
    return parse_duration_ms(v, ms);
}

}  // namespace

const std::vector<std::string>& ops_keys() {
    static const std::vector<std::string> k = {"retention_days", "maintenance_interval",
                                               "auto_disable_after", "metrics_listen"};
    return k;
}

std::string parse_loopback_listen(const std::string& text, std::string& host, unsigned& port) {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) return "'" + text + "' is not HOST:PORT";
    std::string h = text.substr(0, colon), p = text.substr(colon + 1);
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
        return "'" + p + "' is not a port number";
    unsigned long n = std::stoul(p);
    if (n < 1 || n > 65535) return "port " + p + " is out of range";
    unsigned char buf[16];
    if (inet_pton(AF_INET, h.c_str(), buf) == 1) {
        if (buf[0] != 127) return "'" + h + "' is not a loopback address (metrics stay on 127.0.0.0/8 or ::1)";
    } else if (inet_pton(AF_INET6, h.c_str(), buf) == 1) {
        static const unsigned char loop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        for (int i = 0; i < 16; ++i)
            if (buf[i] != loop6[i]) return "'" + h + "' is not a loopback address (metrics stay on 127.0.0.0/8 or ::1)";
    } else {
        return "'" + h + "' is not an IP address (use 127.0.0.1 or [::1])";
    }
    host = h;
    port = unsigned(n);
    return "";
}

std::string resolve_ops_options(const std::map<std::string, std::string>& s, OpsOptions& out) {
    out = OpsOptions();
    if (auto it = s.find("retention_days"); it != s.end()) {
        const std::string& v = it->second;
        if (v.empty() || v.size() > 5 || v.find_first_not_of("0123456789") != std::string::npos ||
            std::stoul(v) > 36500)
            return bad("retention_days", "'" + v + "' is not a whole number of days from 0 (keep forever) to 36500");
        out.retention_days = unsigned(std::stoul(v));
    }
    if (auto it = s.find("maintenance_interval"); it != s.end()) {
        long long ms;
        if (!parse_duration_ms(it->second, ms) || ms < 1000 || ms > 86400000)
            return bad("maintenance_interval", "'" + it->second + "' is not a duration from 1s to 1d (e.g. 1m)");
        out.maintenance_interval_ms = ms;
    }
    if (auto it = s.find("auto_disable_after"); it != s.end()) {
        long long ms;
        if (!parse_duration_or_off(it->second, ms))
            return bad("auto_disable_after", "'" + it->second + "' is not a duration (e.g. 5d, 12h) or off");
        out.auto_disable_after_ms = ms;
    }
    if (auto it = s.find("metrics_listen"); it != s.end() && it->second != "off" && it->second != "Off" &&
                                            !it->second.empty()) {
        std::string host;
        unsigned port;
        if (std::string e = parse_loopback_listen(it->second, host, port); !e.empty())
            return bad("metrics_listen", e);
        out.metrics_listen = it->second;
    }
    return "";
}

const char* ops_usage_text() {
    return R"(  --retention-days N               purge delivered/failed notifications, their attempts
                                   and their finished events after N days (default 30;
                                   0 = keep forever)
  --maintenance-interval DURATION  how often a retention pass runs (default 1m)
  --auto-disable-after DURATION    disable an endpoint whose every attempt failed for this
                                   long (default 5d; off = never)
  --metrics-listen HOST:PORT       Prometheus metrics on this loopback address (default off)
)";
}

}  // namespace wh::worker

#include "parse.hpp"

#include <limits>

namespace wh {

bool parse_decimal(const std::string& text, unsigned long long max, unsigned long long& out) {
    if (text.empty()) return false;
    unsigned long long v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        unsigned d = unsigned(c - '0');
        if (v > (std::numeric_limits<unsigned long long>::max() - d) / 10) return false;
        v = v * 10 + d;
    }
    if (v > max) return false;
    out = v;
    return true;
}

std::string parse_int_min_max(const std::string& text, long long min, long long max, long long& out) {
    unsigned long long v = 0;
    if (min < 0 || max < min || !parse_decimal(text, static_cast<unsigned long long>(max), v) ||
        static_cast<long long>(v) < min)
        return "'" + text + "' is not a whole number from " + std::to_string(min) + " to " + std::to_string(max);
    out = static_cast<long long>(v);
    return "";
}

namespace {
bool equals_nocase(const std::string& text, const char* word) {
    size_t i = 0;
    for (; word[i]; ++i) {
        if (i >= text.size()) return false;
        char c = text[i];
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
        if (c != word[i]) return false;
    }
    return i == text.size();
}
}  // namespace

bool is_off(const std::string& text) { return equals_nocase(text, "off"); }

std::string parse_on_off(const std::string& text, bool& out) {
    if (equals_nocase(text, "on")) out = true;
    else if (is_off(text)) out = false;
    else return "must be On or Off";
    return "";
}

std::string split_host_port(const std::string& spec, std::string& host, std::string& port) {
    size_t colon;
    if (!spec.empty() && spec[0] == '[') {
        size_t close = spec.find(']');
        if (close == std::string::npos || close + 1 >= spec.size() || spec[close + 1] != ':')
            return "'" + spec + "' is not [IPv6]:PORT";
        host = spec.substr(1, close - 1);
        colon = close + 1;
    } else {
        colon = spec.rfind(':');
        if (colon == std::string::npos || spec.find(':') != colon)
            return "'" + spec + "' is not HOST:PORT (IPv6 addresses go in brackets: [::1]:PORT)";
        host = spec.substr(0, colon);
    }
    port = spec.substr(colon + 1);
    unsigned long long n = 0;
    if (host.empty()) return "'" + spec + "' has no host";
    if (port.size() > 5 || !parse_decimal(port, 65535, n)) return "'" + spec + "' has no valid port (0-65535)";
    return "";
}

std::string rfc3339_from_db(const std::string& t) {
    if (t.size() < 19) return t;
    std::string out = t;
    out[10] = 'T';
    if (out.size() == 19) out += ".000";
    return out + "Z";
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace wh

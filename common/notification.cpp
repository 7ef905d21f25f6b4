#include "notification.hpp"

#include <algorithm>
#include <cstdio>

namespace wh {

std::string json_quote(const std::string& s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += char(c);
                }
        }
    }
    out += '"';
    return out;
}

namespace {

bool is_integer_text(const std::string& s) {
    size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
    if (i >= s.size() || s.size() - i > 19) return false;
    for (; i < s.size(); ++i)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

}  // namespace

bool build_payload(const PayloadFields& f, Payload& out, std::string* err) {
    if (!is_integer_text(f.event_date)) {
        if (err) *err = "eventDate '" + f.event_date + "' is not an integer";
        return false;
    }
    // The database guarantees valid JSON (CHECK JSON_VALID), and valid JSON whose first
    // character is '{' is an object: no parse (a 1 MiB event went through Jansson once per
    // notification). The text itself is embedded unchanged so amounts keep every digit.
    const std::string empty;
    const std::string& data = f.data ? *f.data : empty;
    size_t b = data.find_first_not_of(" \t\r\n"), e = data.find_last_not_of(" \t\r\n");
    if (b == std::string::npos || data[b] != '{' || data[e] != '}') {
        if (err) *err = "event data is not a JSON object";
        return false;
    }
    std::string prefix;
    prefix.reserve(256);
    prefix += "{\"notificationId\":" + json_quote(f.notification_id);
    prefix += ",\"eventCode\":" + json_quote(f.event_code);
    prefix += ",\"eventDate\":" + f.event_date;
    prefix += ",\"dataType\":" + json_quote(f.data_type);
    prefix += ",\"resellerId\":" + json_quote(f.reseller_id);
    prefix += ",\"portfolioId\":" + json_quote(f.portfolio_id);
    if (f.merchant_id) prefix += ",\"merchantId\":" + json_quote(*f.merchant_id);
    prefix += ",\"data\":";
    out.prefix = std::move(prefix);
    out.data = f.data;
    out.data_begin = b;
    out.data_size = e + 1 - b;
    return true;
}

bool build_payload(const PayloadFields& f, std::string& body, std::string* err) {
    Payload p;
    if (!build_payload(f, p, err)) return false;
    body = p.str();
    return true;
}

namespace {
constexpr std::string_view kSuffix = "}";
}  // namespace

std::vector<std::string_view> Payload::parts() const {
    std::string_view d = data ? std::string_view(*data).substr(data_begin, data_size) : std::string_view();
    return {prefix, d, kSuffix};
}

size_t Payload::copy(size_t offset, char* buf, size_t n) const {
    size_t done = 0;
    for (std::string_view part : parts()) {
        if (offset >= part.size()) {
            offset -= part.size();
            continue;
        }
        size_t k = std::min(n - done, part.size() - offset);
        part.copy(buf + done, k, offset);
        done += k;
        offset = 0;
        if (done == n) break;
    }
    return done;
}

std::string Payload::str() const {
    std::string out;
    out.reserve(size());
    for (std::string_view part : parts()) out.append(part);
    return out;
}

const char* notification_user_agent() { return "mod_webhook/" WEBHOOK_VERSION; }

}  // namespace wh

#include "payload.hpp"

#include <cstdio>

#include "json.hpp"

namespace wh::worker {

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

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

bool build_payload(const PayloadFields& f, std::string& body, std::string* err) {
    if (!is_integer_text(f.event_date)) {
        if (err) *err = "eventDate '" + f.event_date + "' is not an integer";
        return false;
    }
    std::string data = trim(f.data);
    // The database guarantees valid JSON (CHECK JSON_VALID); make sure it is an object. The
    // text itself is embedded unchanged so amounts keep every digit they were given with.
    JsonPtr parsed = json_parse(data, nullptr, 0);
    if (parsed ? !json_is_object(parsed.get()) : (data.empty() || data[0] != '{')) {
        if (err) *err = "event data is not a JSON object";
        return false;
    }
    std::string out;
    out.reserve(data.size() + 256);
    out += "{\"notificationId\":" + json_quote(f.notification_id);
    out += ",\"eventCode\":" + json_quote(f.event_code);
    out += ",\"eventDate\":" + f.event_date;
    out += ",\"dataType\":" + json_quote(f.data_type);
    out += ",\"resellerId\":" + json_quote(f.reseller_id);
    out += ",\"portfolioId\":" + json_quote(f.portfolio_id);
    if (f.merchant_id) out += ",\"merchantId\":" + json_quote(*f.merchant_id);
    out += ",\"data\":" + data + "}";
    body = std::move(out);
    return true;
}

}  // namespace wh::worker

#include "util.hpp"

namespace wh::api {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if invalid.
size_t utf8_seq(const std::string& s, size_t i) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    size_t n = s.size();
    unsigned char c = p[i];
    if (c < 0x80) return 1;
    size_t len;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
    else return 0;
    if (i + len > n) return 0;
    for (size_t k = 1; k < len; ++k) {
        if ((p[i + k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

bool valid_utf8(const std::string& s) {
    for (size_t i = 0; i < s.size();) {
        size_t len = utf8_seq(s, i);
        if (!len) return false;
        i += len;
    }
    return true;
}

size_t utf8_length(const std::string& s) {
    size_t count = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++count;
    return count;
}

json_t* json_text(const std::string& s) {
    std::string clean;
    clean.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        size_t len = utf8_seq(s, i);
        if (!len) {
            clean += "\xEF\xBF\xBD";
            ++i;
        } else {
            clean.append(s, i, len);
            i += len;
        }
    }
    json_t* j = json_stringn(clean.data(), clean.size());
    return j ? j : json_string("");
}

std::string url_decode(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() &&
                   hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out += char(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::map<std::string, std::string> parse_query(const std::string& qs) {
    std::map<std::string, std::string> out;
    size_t start = 0;
    while (start <= qs.size()) {
        size_t amp = qs.find('&', start);
        if (amp == std::string::npos) amp = qs.size();
        std::string part = qs.substr(start, amp - start);
        if (!part.empty()) {
            size_t eq = part.find('=');
            std::string key = url_decode(part.substr(0, eq));
            std::string value = eq == std::string::npos ? "" : url_decode(part.substr(eq + 1));
            if (!key.empty()) out[key] = value;
        }
        start = amp + 1;
    }
    return out;
}

std::string rfc3339_from_db(const std::string& t) {
    if (t.size() < 19) return t;
    std::string out = t;
    out[10] = 'T';
    if (out.size() == 19) out += ".000";
    return out + "Z";
}

std::string ascii_lower(std::string s) {
    for (auto& c : s)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return s;
}

}  // namespace wh::api

#include "util.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

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
                   hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            out += char(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
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

bool rfc3339_to_db(const std::string& t, std::string& out) {
    // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
    auto digits = [&](size_t pos, size_t n, int& v) {
        if (pos + n > t.size()) return false;
        v = 0;
        for (size_t i = pos; i < pos + n; ++i) {
            if (t[i] < '0' || t[i] > '9') return false;
            v = v * 10 + (t[i] - '0');
        }
        return true;
    };
    int Y, M, D, h, m, sec;
    if (t.size() < 20 || !digits(0, 4, Y) || t[4] != '-' || !digits(5, 2, M) || t[7] != '-' ||
        !digits(8, 2, D) || (t[10] != 'T' && t[10] != 't') || !digits(11, 2, h) || t[13] != ':' ||
        !digits(14, 2, m) || t[16] != ':' || !digits(17, 2, sec))
        return false;
    size_t i = 19;
    int millis = 0;
    if (i < t.size() && t[i] == '.') {
        size_t start = ++i;
        while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
        if (i == start) return false;
        std::string frac = t.substr(start, std::min<size_t>(3, i - start));
        while (frac.size() < 3) frac += '0';
        millis = std::stoi(frac);
    }
    int offset_min = 0;
    if (i < t.size() && (t[i] == 'Z' || t[i] == 'z')) {
        ++i;
    } else if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
        int oh, om;
        if (!digits(i + 1, 2, oh) || i + 3 >= t.size() || t[i + 3] != ':' || !digits(i + 4, 2, om) || oh > 23 || om > 59)
            return false;
        offset_min = (oh * 60 + om) * (t[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return false;
    }
    if (i != t.size()) return false;
    static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > kDays[M - 1] || (M == 2 && D == 29 && !leap) || h > 23 ||
        m > 59 || sec > 60)
        return false;
    std::tm tm{};
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec > 59 ? 59 : sec;  // a leap second counts as :59
    time_t utc = timegm(&tm) - time_t(offset_min) * 60;
    std::tm u{};
    if (!gmtime_r(&utc, &u) || u.tm_year + 1900 > 9999) return false;
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03d", u.tm_year + 1900, u.tm_mon + 1,
                  u.tm_mday, u.tm_hour, u.tm_min, u.tm_sec, millis);
    out = buf;
    return true;
}

long long nearest_rank(const std::vector<std::pair<long long, unsigned long long>>& histogram, double p) {
    unsigned long long total = 0;
    for (const auto& [value, n] : histogram) total += n;
    // rank = ceil(p/100 * total), 1-based (the epsilon keeps p50 of 2 at the 1st)
    auto rank = (unsigned long long)std::ceil(p / 100.0 * double(total) - 1e-9);
    if (rank < 1) rank = 1;
    unsigned long long seen = 0;
    for (const auto& [value, n] : histogram) {
        seen += n;
        if (seen >= rank) return value;
    }
    return histogram.empty() ? 0 : histogram.back().first;
}

std::string ascii_lower(std::string s) {
    for (auto& c : s)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return s;
}

}  // namespace wh::api

#include "schedule.hpp"

#include <sstream>

namespace wh {

bool parse_duration_ms(const std::string& text, long long& out) {
    size_t i = 0;
    long long n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        n = n * 10 + (text[i] - '0');
        if (n > 1000000000LL) return false;
        ++i;
    }
    if (i == 0 || n == 0) return false;
    std::string unit = text.substr(i);
    long long mult;
    if (unit == "ms") mult = 1;
    else if (unit == "s") mult = 1000;
    else if (unit == "m") mult = 60000;
    else if (unit == "h") mult = 3600000;
    else if (unit == "d") mult = 86400000;
    else return false;
    if (n > 400LL * 86400000 / mult) return false;  // over 400 days is a typo
    out = n * mult;
    return true;
}

std::string parse_schedule(const std::string& text, std::vector<long long>& delays_ms) {
    std::vector<long long> out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
        item = b == std::string::npos ? "" : item.substr(b, e - b + 1);
        long long ms;
        if (!parse_duration_ms(item, ms))
            return "bad delay '" + item + "' (use e.g. 500ms, 30s, 5m, 1h, 1d)";
        out.push_back(ms);
    }
    if (out.size() > 50) return "at most 50 re-deliveries";
    delays_ms = std::move(out);
    return "";
}

}  // namespace wh

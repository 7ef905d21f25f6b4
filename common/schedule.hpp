// Re-delivery schedules: "5m,15m,1h,24h" = wait this long after failure 1, 2, 3, 4; a
// failure past the end of the list is final.
#pragma once

#include <string>
#include <vector>

namespace wh {

// Parses one duration: a positive integer followed by ms, s, m, h or d. Returns false if
// malformed; out is milliseconds.
bool parse_duration_ms(const std::string& text, long long& out);

// Parses a comma-separated schedule. Returns "" or an error message.
std::string parse_schedule(const std::string& text, std::vector<long long>& delays_ms);

// The gateway's default: 5 min, 15 min, 1 h, 24 h (five attempts in all).
inline const char* default_schedule() { return "5m,15m,1h,24h"; }

}  // namespace wh

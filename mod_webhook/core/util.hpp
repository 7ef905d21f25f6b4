// Small pure helpers shared by the core.
#pragma once

#include <jansson.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "parse.hpp"  // wh::rfc3339_from_db

namespace wh::api {

// True when s is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool valid_utf8(const std::string& s);
// Number of code points in a valid UTF-8 string.
size_t utf8_length(const std::string& s);
// A JSON string for any bytes: invalid UTF-8 sequences become U+FFFD. Never null.
json_t* json_text(const std::string& s);

// Decodes %XX and '+' of one query component.
std::string url_decode(const std::string& s);
// "a=1&b=2" -> {a:1, b:2}; later keys win; empty keys skipped.
std::map<std::string, std::string> parse_query(const std::string& qs);

// RFC 3339 to the database's UTC DATETIME(3) text (the way back is wh::rfc3339_from_db,
// common/parse.hpp). "2026-11-26T03:38:06Z" (fractions, "+02:00" offsets) ->
// "2026-11-26 03:38:06.000" (UTC); false when malformed.
bool rfc3339_to_db(const std::string& text, std::string& db_utc);

// The nearest-rank p-th percentile (0 < p <= 100) of a non-empty sample given as a histogram,
// (value, how many) in ascending order of value: the smallest value at least p % of the
// sample is at or below.
long long nearest_rank(const std::vector<std::pair<long long, unsigned long long>>& histogram, double p);

// Lower-cases ASCII.
std::string ascii_lower(std::string s);

}  // namespace wh::api

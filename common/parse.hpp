// The value parsers every configuration surface shares (the worker's options, the module's
// directives, addresses in targets and wake-ups): one meaning of a number, of On/Off and of
// HOST:PORT wherever a user types one; and the one conversion of a database time to RFC 3339.
// Pure, unit-tested (tests/unit/test_common_parse.cpp).
#pragma once

#include <string>

namespace wh {

// Strict decimal: ASCII digits only (no sign, no spaces, no "0x", no empty text), at most
// `max`. False on anything else, overflow included.
bool parse_decimal(const std::string& text, unsigned long long max, unsigned long long& out);

// A whole number from min to max (min >= 0), strict as parse_decimal. Returns "" or
// "'TEXT' is not a whole number from MIN to MAX"; `out` is set only on success.
std::string parse_int_min_max(const std::string& text, long long min, long long max, long long& out);

// True when `text` switches a feature off: "Off" in any case (the httpd convention).
bool is_off(const std::string& text);

// "On" or "Off", in any case. Returns "" or "must be On or Off".
std::string parse_on_off(const std::string& text, bool& out);

// Splits "HOST:PORT" or "[IPv6]:PORT" (PORT 0-65535; an IPv6 address needs the brackets).
// Returns "" or what is wrong; host/port are filled on success.
std::string split_host_port(const std::string& spec, std::string& host, std::string& port);

// A time as MariaDB writes a DATETIME in UTC ("2026-11-26 03:38:06[.123]") in RFC 3339
// with milliseconds ("2026-11-26T03:38:06.123Z"); text too short to be one is returned as is.
std::string rfc3339_from_db(const std::string& db_time);

// The value of one hexadecimal digit (either case), or -1.
int hex_value(char c);

}  // namespace wh

// The operations settings of webhook-worker (retention, automatic disable, metrics), parsed
// apart from options.cpp so the delivery options stay untouched. Pure, unit-tested.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace wh::worker {

struct OpsOptions {
    unsigned retention_days = 30;           // 0 = keep forever
    long long maintenance_interval_ms = 60000;  // retention pass at most this often
    long long auto_disable_after_ms = 5LL * 86400000;  // 0 = never disable automatically
    std::string metrics_listen;             // "127.0.0.1:PORT"; "" = no metrics listener
};

// The config keys (and --flags) these settings use.
const std::vector<std::string>& ops_keys();

// Fills `out` from the merged settings (file + flags, underscored keys). Returns "" or
// "--flag (key): what is wrong".
std::string resolve_ops_options(const std::map<std::string, std::string>& s, OpsOptions& out);

// Lines for --help.
const char* ops_usage_text();

// "HOST:PORT" with a loopback HOST (127.0.0.0/8 or ::1, [::1]:PORT) and PORT 1-65535.
// Returns "" or what is wrong; host/port are filled on success.
std::string parse_loopback_listen(const std::string& text, std::string& host, unsigned& port);

}  // namespace wh::worker

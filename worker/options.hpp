// webhook-worker's settings: command line and "key = value" config file (keys are the
// flag names with underscores; flags override the file). One table (option_table()) lists
// every option once: its key, which subcommands take it, its parser and bounds, its default
// and its --help line; the flags, the config file, validation and --help all read it.
// Parsing is pure and unit-tested.
#pragma once

#include <map>
#include <string>
#include <variant>
#include <vector>

#include "db.hpp"
#include "log.hpp"
#include "principal.hpp"
#include "shares.hpp"
#include "target.hpp"

namespace wh::worker {

// The operations settings (retention, automatic disable, metrics), handed to Operations.
struct OpsOptions {
    unsigned retention_days = 0;            // 0 = keep forever
    long long maintenance_interval_ms = 0;  // retention pass at most this often
    long long auto_disable_after_ms = 0;    // 0 = never disable automatically
    std::string metrics_listen;             // "127.0.0.1:PORT"; "" = no metrics listener
};

// Plain data: resolve_options fills every field from the option table's defaults, the config
// file and the flags (the initialisers below are only the zero state).
struct Options {
    std::string command = "run";  // run | migrate | principal | help | version | man
    std::string config_file;
    PrincipalRequest principal;  // the principal subcommand's action, user and scope

    std::string database;  // the spec as given (contains the password: never log it)
    DbConfig db;
    std::string secret_key_file;
    std::string retry_schedule;  // as given, for the start-up line
    std::vector<long long> schedule_ms;
    std::string allow_private_targets;
    // "v1:" values carry no associated data: a copy into another row or column opens. On for
    // a rolling upgrade; Off once migrate has re-sealed them (reseal.hpp).
    bool accept_v1_credentials = false;
    AddressPolicy policy;
    unsigned concurrency = 0;
    unsigned per_endpoint_concurrency = 0;
    unsigned max_in_flight_per_scope = 0;  // all workers together
    unsigned breaker_after_timeouts = 0;   // 0 = no breaker
    long breaker_request_timeout_ms = 0;   // an open breaker's request timeout
    long connect_timeout_ms = 0;
    long request_timeout_ms = 0;
    unsigned lease_seconds = 0;
    unsigned poll_interval_ms = 0;
    std::string worker_id;  // lease owner
    ShareMode share_work = ShareMode::automatic;  // shares.hpp
    LogLevel log_level = LogLevel::info;
    std::string sql_dir;          // migrate only; "" = the compiled-in default
    unsigned drain_seconds = 0;   // how long SIGTERM waits for in-flight transfers
    std::string ca_bundle;        // PEM file of trusted CAs; "" = the system's (libcurl's default)
    std::string wakeup_listen;    // UDP HOST:PORT for wake-up datagrams; "" = poll only
    OpsOptions ops;               // retention, auto-disable, metrics
};

// ---- the option table -------------------------------------------------------------------

// Which subcommands take an option as a flag. The config file is shared, so it may hold any
// known key whatever the subcommand.
enum OptionScope : unsigned { kRun = 1, kMigrate = 2, kPrincipal = 4 };

// The Options member an entry stores into (see option_table()); nullptr: its parser stores.
template <class T>
using Member = T& (*)(Options&);
using OptionTarget =
    std::variant<std::nullptr_t, Member<unsigned>, Member<long>, Member<long long>, Member<std::string>, Member<bool>>;

struct OptionSpec;
// Checks `value` and stores it into `out`. Returns "" or what is wrong with it.
using OptionParser = std::string (*)(const OptionSpec& spec, const std::string& value, Options& out);

struct OptionSpec {
    const char* key;          // config key; the flag is "--" + key with '-' for '_'
    unsigned scope;           // OptionScope bits
    OptionParser parse;
    long long min, max;       // bounds of a number (a duration's in milliseconds)
    const char* value;        // the default, as the config file would say it; "" = none
    OptionTarget target;
    const char* arg;          // the flag's argument in --help
    const char* help;         // one sentence for --help (the default is appended)
};

// Every option, in --help order.
const std::vector<OptionSpec>& option_table();

// The entry's --help sentence with its default appended (also the man page's).
std::string option_help(const OptionSpec& spec);

// "--per-endpoint-concurrency" for "per_endpoint_concurrency".
std::string option_flag(const std::string& key);

// ---- parsing --------------------------------------------------------------------------

// argv split into the subcommand, the config file and the flag settings (underscored keys).
struct CommandLine {
    std::string command = "run";
    std::string config_file;
    std::map<std::string, std::string> flags;
    PrincipalRequest principal;  // principal: its action, USER and scope flag
};

// Every key the config file accepts (the same names as the flags, with underscores).
const std::vector<std::string>& known_keys();

// Parses the arguments after argv[0]. Returns "" or what is wrong (usage error).
std::string parse_command_line(const std::vector<std::string>& args, CommandLine& out);

// Applies the table's defaults, the config file's settings, then the flags' (flags win),
// validates every value and derives what depends on others. Pure: reads no files. Returns ""
// or what is wrong.
std::string resolve_options(const CommandLine& cl, const std::map<std::string, std::string>& file,
                            Options& out);

// parse_command_line + read the config file (when given) + resolve_options.
std::string load_options(const std::vector<std::string>& args, Options& out);

// "host:pid:random" for lease ownership.
std::string default_worker_id();

std::string usage_text();

// help, version and man (the hidden --man: the man page in roff) read no config file and
// need no database.
bool needs_no_settings(const std::string& command);

// "HOST:PORT" with a loopback HOST (127.0.0.0/8 or ::1, [::1]:PORT) and PORT 1-65535.
// Returns "" or what is wrong; host/port are filled on success.
std::string parse_loopback_listen(const std::string& text, std::string& host, unsigned& port);

}  // namespace wh::worker

// webhook-worker's settings: command line and "key = value" config file (keys are the
// flag names with underscores; flags override the file). Parsing is pure and unit-tested.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "db.hpp"
#include "log.hpp"
#include "ops_options.hpp"
#include "target.hpp"

namespace wh::worker {

struct Options {
    std::string command = "run";  // run | migrate | help | version
    std::string config_file;

    std::string database;  // the spec as given (contains the password: never log it)
    DbConfig db;
    std::string secret_key_file;
    std::string retry_schedule;  // as given, for the start-up line
    std::vector<long long> schedule_ms;
    std::string allow_private_targets = "Off";
    // "v1:" values carry no associated data: a copy into another row or column opens. On for
    // a rolling upgrade; Off once migrate has re-sealed them (reseal.hpp).
    bool accept_v1_credentials = true;
    AddressPolicy policy;
    unsigned concurrency = 256;
    unsigned per_endpoint_concurrency = 8;
    unsigned max_in_flight_per_scope = 0;       // all workers; 0 = concurrency / 4 (resolve_options)
    unsigned breaker_after_timeouts = 5;        // 0 = no breaker
    long breaker_request_timeout_ms = 5000;     // an open breaker's request timeout
    long connect_timeout_ms = 5000;
    long request_timeout_ms = 15000;
    unsigned lease_seconds = 0;  // 0 = request timeout + 30 s (filled in by resolve_options)
    unsigned poll_interval_ms = 200;
    std::string worker_id;       // "" = host:pid:random (filled in by resolve_options)
    LogLevel log_level = LogLevel::info;
    std::string sql_dir;         // migrate only; "" = the compiled-in default
    unsigned drain_seconds = 10; // how long SIGTERM waits for in-flight transfers
    std::string ca_bundle;       // PEM file of trusted CAs; "" = the system's (libcurl's default)
    std::string wakeup_listen;   // UDP HOST:PORT for wake-up datagrams; "" = poll only
    OpsOptions ops;              // retention, auto-disable, metrics
};

// argv split into the subcommand, the config file and the flag settings (underscored keys).
struct CommandLine {
    std::string command = "run";
    std::string config_file;
    std::map<std::string, std::string> flags;
};

// Every key the config file accepts (the same names as the flags, with underscores).
const std::vector<std::string>& known_keys();

// Parses the arguments after argv[0]. Returns "" or what is wrong (usage error).
std::string parse_command_line(const std::vector<std::string>& args, CommandLine& out);

// Applies the config file's settings, then the flags' (flags win), validates every value and
// fills in the defaults. Pure: reads no files. Returns "" or what is wrong.
std::string resolve_options(const CommandLine& cl, const std::map<std::string, std::string>& file,
                            Options& out);

// parse_command_line + read the config file (when given) + resolve_options.
std::string load_options(const std::vector<std::string>& args, Options& out);

// "host:pid:random" for lease ownership.
std::string default_worker_id();

std::string usage_text();

}  // namespace wh::worker

#include "options.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <type_traits>

#include "config_file.hpp"
#include "crypto.hpp"
#include "schedule.hpp"
#include "wakeup.hpp"
#include "ops_options.hpp"

namespace wh::worker {

namespace {

// Which keys each subcommand takes as a flag. The config file is shared, so it may hold any
// known key whatever the subcommand.
const std::vector<std::string>& run_flags() {
    static const std::vector<std::string> k = [] {
        std::vector<std::string> v = {
            "database", "secret_key_file", "retry_schedule", "allow_private_targets",
            "concurrency", "per_endpoint_concurrency", "max_in_flight_per_scope", "breaker_after_timeouts",
            "breaker_request_timeout_ms", "connect_timeout_ms", "request_timeout_ms",
            "lease_seconds", "poll_interval_ms", "worker_id", "log_level", "drain_seconds", "ca_bundle",
            "wakeup_listen",  // wake-up datagrams
            "accept_v1_credentials"};
        // retention, auto-disable, metrics (ops_options.hpp)
        v.insert(v.end(), ops_keys().begin(), ops_keys().end());
        return v;
    }();
    return k;
}

const std::vector<std::string>& migrate_flags() {
    // secret_key_file: the re-seal of v1 credentials (reseal.hpp)
    static const std::vector<std::string> k = {"database", "sql_dir", "log_level", "secret_key_file"};
    return k;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

std::string to_key(std::string flag) {
    std::replace(flag.begin(), flag.end(), '-', '_');
    return flag;
}

std::string to_flag(std::string key) {
    std::replace(key.begin(), key.end(), '_', '-');
    return "--" + key;
}

// Strict decimal: digits only, within [lo, hi].
bool parse_number(const std::string& s, long long lo, long long hi, long long& out) {
    if (s.empty() || s.size() > 12 || s.find_first_not_of("0123456789") != std::string::npos)
        return false;
    long long v = std::stoll(s);
    if (v < lo || v > hi) return false;
    out = v;
    return true;
}

}  // namespace

const std::vector<std::string>& known_keys() {
    static const std::vector<std::string> k = [] {
        std::vector<std::string> all = run_flags();
        all.push_back("sql_dir");
        return all;
    }();
    return k;
}

std::string default_worker_id() {
    char host[256] = {0};
    if (gethostname(host, sizeof host - 1) != 0 || !host[0]) std::snprintf(host, sizeof host, "localhost");
    std::string rnd;
    try {
        for (unsigned char c : random_bytes(4)) {
            char hx[3];
            std::snprintf(hx, sizeof hx, "%02x", c);
            rnd += hx;
        }
    } catch (...) {
        rnd = "0";
    }
    std::string id = std::string(host).substr(0, 70) + ":" + std::to_string(getpid()) + ":" + rnd;
    return id;
}

std::string parse_command_line(const std::vector<std::string>& args, CommandLine& out) {
    out = CommandLine();
    size_t i = 0;
    if (!args.empty() && args[0] == "migrate") {
        out.command = "migrate";
        i = 1;
    }
    const auto& allowed = out.command == "migrate" ? migrate_flags() : run_flags();
    bool help = false, version = false;
    for (; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            help = true;
            continue;
        }
        if (a == "--version" || a == "-V") {
            version = true;
            continue;
        }
        if (a.size() < 3 || a.compare(0, 2, "--") != 0)
            return "unexpected argument '" + a + "'";
        std::string name = a.substr(2), value;
        bool has_value = false;
        auto eq = name.find('=');
        if (eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            has_value = true;
        }
        std::string key = to_key(name);
        if (key != "config" && !contains(allowed, key))
            return "unknown option '--" + name + "'" +
                   (out.command == "migrate" ? " for 'migrate'" : "");
        if (!has_value) {
            if (i + 1 >= args.size()) return "option '--" + name + "' needs a value";
            value = args[++i];
        }
        if (key == "config") out.config_file = value;
        else out.flags[key] = value;
    }
    if (help) out.command = "help";
    else if (version) out.command = "version";
    return "";
}

std::string resolve_options(const CommandLine& cl, const std::map<std::string, std::string>& file,
                            Options& out) {
    out = Options();
    out.command = cl.command;
    out.config_file = cl.config_file;
    if (cl.command == "help" || cl.command == "version") return "";

    std::map<std::string, std::string> s;
    for (const auto& kv : file) {
        if (!contains(known_keys(), kv.first))
            return "unknown key '" + kv.first + "' in the config file";
        s[kv.first] = kv.second;
    }
    for (const auto& kv : cl.flags) s[kv.first] = kv.second;  // flags win

    auto bad = [](const std::string& key, const std::string& why) {
        return to_flag(key) + " (" + key + "): " + why;
    };
    auto number = [&](const std::string& key, long long lo, long long hi, auto& field) -> std::string {
        auto it = s.find(key);
        if (it == s.end()) return "";
        long long v;
        if (!parse_number(it->second, lo, hi, v))
            return bad(key, "'" + it->second + "' is not a whole number from " + std::to_string(lo) +
                                " to " + std::to_string(hi));
        field = static_cast<std::remove_reference_t<decltype(field)>>(v);
        return "";
    };

    // database: required by every subcommand.
    auto db = s.find("database");
    if (db == s.end() || db->second.empty())
        return "database is required (--database \"host=… port=… user=… password=… database=…\" "
               "or 'database = …' in the config file)";
    out.database = db->second;
    if (std::string e = parse_db_config(out.database, out.db); !e.empty()) return bad("database", e);

    if (auto it = s.find("log_level"); it != s.end()) {
        const std::string& v = it->second;
        if (v == "error") out.log_level = LogLevel::error;
        else if (v == "warn" || v == "warning") out.log_level = LogLevel::warn;
        else if (v == "info") out.log_level = LogLevel::info;
        else if (v == "debug") out.log_level = LogLevel::debug;
        else return bad("log_level", "'" + v + "' is not one of error, warn, info, debug");
    }
    if (auto it = s.find("sql_dir"); it != s.end()) out.sql_dir = it->second;
    if (auto it = s.find("secret_key_file"); it != s.end()) out.secret_key_file = it->second;
    if (cl.command == "migrate") return "";  // its secret_key_file is optional

    if (out.secret_key_file.empty())
        return "secret_key_file is required (--secret-key-file PATH: the same 64-hex-character key "
               "file as the module's WebhookSecretKeyFile)";

    out.retry_schedule = default_schedule();
    if (auto it = s.find("retry_schedule"); it != s.end()) out.retry_schedule = it->second;
    if (std::string e = parse_schedule(out.retry_schedule, out.schedule_ms); !e.empty())
        return bad("retry_schedule", e);

    if (auto it = s.find("allow_private_targets"); it != s.end()) {
        out.allow_private_targets = it->second;
        std::replace(out.allow_private_targets.begin(), out.allow_private_targets.end(), ',', ' ');
    }
    if (out.allow_private_targets.find_first_not_of(" \t") == std::string::npos)
        return bad("allow_private_targets", "must be Off, On or a list of CIDRs");
    if (std::string e = out.policy.parse(out.allow_private_targets); !e.empty())
        return bad("allow_private_targets", e);

    if (auto it = s.find("accept_v1_credentials"); it != s.end()) {
        if (it->second == "On" || it->second == "on") out.accept_v1_credentials = true;
        else if (it->second == "Off" || it->second == "off") out.accept_v1_credentials = false;
        else return bad("accept_v1_credentials", "must be On or Off");
    }

    std::string e;
    if (!(e = number("concurrency", 1, 10000, out.concurrency)).empty()) return e;
    if (!(e = number("per_endpoint_concurrency", 1, 10000, out.per_endpoint_concurrency)).empty()) return e;
    if (!(e = number("max_in_flight_per_scope", 1, 10000, out.max_in_flight_per_scope)).empty()) return e;
    if (out.max_in_flight_per_scope == 0) out.max_in_flight_per_scope = std::max(1u, out.concurrency / 4);
    if (!(e = number("breaker_after_timeouts", 0, 1000, out.breaker_after_timeouts)).empty()) return e;
    if (!(e = number("breaker_request_timeout_ms", 1, 3600000, out.breaker_request_timeout_ms)).empty()) return e;
    if (!(e = number("connect_timeout_ms", 1, 600000, out.connect_timeout_ms)).empty()) return e;
    if (!(e = number("request_timeout_ms", 1, 3600000, out.request_timeout_ms)).empty()) return e;
    if (!(e = number("lease_seconds", 1, 86400 * 7, out.lease_seconds)).empty()) return e;
    if (!(e = number("poll_interval_ms", 10, 600000, out.poll_interval_ms)).empty()) return e;
    if (!(e = number("drain_seconds", 0, 3600, out.drain_seconds)).empty()) return e;
    if (auto it = s.find("ca_bundle"); it != s.end()) {
        if (it->second.empty()) return bad("ca_bundle", "must name a PEM file of CA certificates");
        out.ca_bundle = it->second;
    }

    // Wake-up datagrams from the module (WebhookNotifyWorker); "" = poll only.
    if (auto it = s.find("wakeup_listen"); it != s.end() && it->second != "off" && it->second != "Off") {
        std::string host, port;
        if (std::string e2 = split_host_port(it->second, host, port); !e2.empty()) return bad("wakeup_listen", e2);
        out.wakeup_listen = it->second;
    }

    // retention_days, maintenance_interval, auto_disable_after, metrics_listen
    if (!(e = resolve_ops_options(s, out.ops)).empty()) return e;

    // The lease must outlive the longest transfer, so no renewal is ever needed.
    unsigned request_s = unsigned((out.request_timeout_ms + 999) / 1000);
    if (out.lease_seconds == 0) out.lease_seconds = request_s + 30;
    else if (out.lease_seconds <= request_s)
        return bad("lease_seconds", std::to_string(out.lease_seconds) +
                                        " must be longer than the request timeout (" +
                                        std::to_string(request_s) + " s)");

    if (auto it = s.find("worker_id"); it != s.end()) {
        const std::string& w = it->second;
        if (w.empty() || w.size() > 100)
            return bad("worker_id", "must be 1 to 100 characters");
        for (unsigned char c : w)
            if (c <= 0x20 || c >= 0x7f) return bad("worker_id", "must be printable ASCII without spaces");
        out.worker_id = w;
    } else {
        out.worker_id = default_worker_id();
    }
    return "";
}

std::string load_options(const std::vector<std::string>& args, Options& out) {
    CommandLine cl;
    if (std::string e = parse_command_line(args, cl); !e.empty()) return e;
    std::map<std::string, std::string> file;
    if (!cl.config_file.empty() && cl.command != "help" && cl.command != "version")
        if (std::string e = read_config_file(cl.config_file, file); !e.empty()) return e;
    return resolve_options(cl, file, out);
}

std::string usage_text() {
    return R"(Usage:
  webhook-worker [--config FILE] [options]        run the delivery loop (until SIGTERM/SIGINT)
  webhook-worker migrate [--config FILE] [--database SPEC] [--sql-dir DIR] [--secret-key-file PATH]
                                                  apply the SQL migrations, re-seal v1
                                                  credentials as v2 (with the key file), exit

Options (config file keys are the same names with underscores: "database = host=…"):
  --config FILE                    key = value file; flags override it
  --database SPEC                  "host=H port=P user=U password=PW database=D" (or socket=PATH)
  --secret-key-file PATH           64 hex chars, the module's WebhookSecretKeyFile (required;
                                   for migrate: needed to re-seal v1 credentials)
  --retry-schedule LIST            delays after each failure (default 5m,15m,1h,24h)
  --allow-private-targets SPEC     Off (default), On, or CIDRs allowed although non-public
  --accept-v1-credentials On|Off   open credentials sealed by a release before v2 (default On;
                                   Off once `migrate --secret-key-file` re-sealed them all)
  --concurrency N                  deliveries in flight at once (default 256)
  --per-endpoint-concurrency N     in flight to one endpoint at once (default 8)
  --max-in-flight-per-scope N      in flight to the endpoints of one reseller or portfolio,
                                   all workers together (default concurrency / 4)
  --breaker-after-timeouts N       an endpoint whose last N attempts timed out gets one
                                   delivery in flight and the shorter timeout below, until
                                   it replies again (default 5; 0 = never)
  --breaker-request-timeout-ms N   request timeout while that lasts (default 5000)
  --connect-timeout-ms N           default 5000
  --request-timeout-ms N           whole attempt, default 15000 (connect included)
  --lease-seconds N                claim lease (default request timeout + 30 s)
  --poll-interval-ms N             database poll when idle (default 200)
  --worker-id ID                   lease owner name (default host:pid:random)
  --drain-seconds N                SIGTERM: wait this long for transfers in flight, then give
                                   the rest back to pending (default 10)
  --ca-bundle FILE                 PEM CA certificates for https receivers (default: the
                                   system's store)
  --wakeup-listen HOST:PORT        UDP address for the module's wake-up datagrams
                                   (WebhookNotifyWorker): poll at once on each (default off)
  --log-level LEVEL                error, warn, info (default) or debug
  --sql-dir DIR                    migrate: where the NNN_name.sql files are
  --help, --version
)" + std::string(ops_usage_text()) + R"(
Exit status: 0 normal stop, 2 usage or configuration error, 1 fatal runtime error.
)";
}

}  // namespace wh::worker

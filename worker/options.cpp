#include "options.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <type_traits>

#include "config_file.hpp"
#include "crypto.hpp"
#include "lifecycle.hpp"  // format_period
#include "parse.hpp"
#include "schedule.hpp"

namespace wh::worker {

namespace {

std::string bad(const std::string& key, const std::string& why) { return option_flag(key) + " (" + key + "): " + why; }

// ---- where a value goes ------------------------------------------------------------------

template <auto M>
auto& member(Options& o) {
    return o.*M;
}
template <auto M, auto N>
auto& member(Options& o) {
    return (o.*M).*N;
}

// Stores a checked number into the entry's member, whatever its integer type.
void store_number(const OptionSpec& spec, long long v, Options& out) {
    std::visit(
        [&](auto field) {
            using F = decltype(field);
            if constexpr (!std::is_same_v<F, std::nullptr_t> && !std::is_same_v<F, Member<std::string>> &&
                          !std::is_same_v<F, Member<bool>>)
                field(out) = static_cast<std::remove_reference_t<decltype(field(out))>>(v);
        },
        spec.target);
}

void store_text(const OptionSpec& spec, const std::string& v, Options& out) {
    if (auto field = std::get_if<Member<std::string>>(&spec.target)) (*field)(out) = v;
}

// ---- the parsers the table names -----------------------------------------------------------

std::string text(const OptionSpec& spec, const std::string& v, Options& out) {
    store_text(spec, v, out);
    return "";
}

std::string number(const OptionSpec& spec, const std::string& v, Options& out) {
    long long n = 0;
    if (std::string e = parse_int_min_max(v, spec.min, spec.max, n); !e.empty()) return e;
    store_number(spec, n, out);
    return "";
}

std::string duration(const OptionSpec& spec, const std::string& v, Options& out) {
    long long ms = 0;
    if (!parse_duration_ms(v, ms) || ms < spec.min || ms > spec.max)
        return "'" + v + "' is not a duration from " + format_period(spec.min) + " to " + format_period(spec.max) +
               " (e.g. 1m)";
    store_number(spec, ms, out);
    return "";
}

// A duration, or "0"/"off": never.
std::string duration_or_off(const OptionSpec& spec, const std::string& v, Options& out) {
    long long ms = 0;
    if (v != "0" && !is_off(v) && !parse_duration_ms(v, ms))
        return "'" + v + "' is not a duration (e.g. 5d, 12h) or off";
    store_number(spec, ms, out);
    return "";
}

std::string on_off(const OptionSpec& spec, const std::string& v, Options& out) {
    bool on = false;
    if (std::string e = parse_on_off(v, on); !e.empty()) return e;
    if (auto field = std::get_if<Member<bool>>(&spec.target)) (*field)(out) = on;
    return "";
}

std::string not_empty(const OptionSpec& spec, const std::string& v, Options& out) {
    if (v.empty()) return "must name a PEM file of CA certificates";
    store_text(spec, v, out);
    return "";
}

std::string database(const OptionSpec&, const std::string& v, Options& out) {
    out.database = v;
    return parse_db_config(v, out.db);
}

std::string retry_schedule(const OptionSpec&, const std::string& v, Options& out) {
    out.retry_schedule = v;
    return parse_schedule(v, out.schedule_ms);
}

std::string private_targets(const OptionSpec&, const std::string& v, Options& out) {
    out.allow_private_targets = v;
    std::replace(out.allow_private_targets.begin(), out.allow_private_targets.end(), ',', ' ');
    if (out.allow_private_targets.find_first_not_of(" \t") == std::string::npos)
        return "must be Off, On or a list of CIDRs";
    return out.policy.parse(out.allow_private_targets);
}

std::string share_work(const OptionSpec&, const std::string& v, Options& out) {
    bool on = false;
    if (v == "auto") out.share_work = ShareMode::automatic;
    else if (parse_on_off(v, on).empty()) out.share_work = on ? ShareMode::on : ShareMode::off;
    else return "'" + v + "' is not one of auto, on, off";
    return "";
}

std::string log_level(const OptionSpec&, const std::string& v, Options& out) {
    if (v == "error") out.log_level = LogLevel::error;
    else if (v == "warn" || v == "warning") out.log_level = LogLevel::warn;
    else if (v == "info") out.log_level = LogLevel::info;
    else if (v == "debug") out.log_level = LogLevel::debug;
    else return "'" + v + "' is not one of error, warn, info, debug";
    return "";
}

std::string worker_id(const OptionSpec& spec, const std::string& v, Options& out) {
    if (v.empty() || v.size() > 100) return "must be 1 to 100 characters";
    for (unsigned char c : v)
        if (c <= 0x20 || c >= 0x7f) return "must be printable ASCII without spaces";
    store_text(spec, v, out);
    return "";
}

// Off, or a UDP HOST:PORT to bind.
std::string udp_listen(const OptionSpec& spec, const std::string& v, Options& out) {
    std::string host, port;
    if (is_off(v)) store_text(spec, "", out);
    else if (std::string e = split_host_port(v, host, port); !e.empty()) return e;
    else store_text(spec, v, out);
    return "";
}

// Off (or nothing), or a loopback TCP HOST:PORT.
std::string loopback_listen(const OptionSpec& spec, const std::string& v, Options& out) {
    std::string host;
    unsigned port = 0;
    if (v.empty() || is_off(v)) store_text(spec, "", out);
    else if (std::string e = parse_loopback_listen(v, host, port); !e.empty()) return e;
    else store_text(spec, v, out);
    return "";
}

constexpr unsigned kBoth = kRun | kMigrate;
constexpr unsigned kAll = kRun | kMigrate | kPrincipal;
constexpr long long kDay = 86400000;

std::vector<OptionSpec> make_table() {
    using O = Options;
    using P = OpsOptions;
    return {
        {"database", kAll, database, 0, 0, "", nullptr, "SPEC",
         "\"host=H port=P user=U password=PW database=D\" (or socket=PATH); required"},
        {"secret_key_file", kBoth, text, 0, 0, "", member<&O::secret_key_file>, "PATH",
         "64 hex chars, the module's WebhookSecretKeyFile (required; for migrate: needed to re-seal v1 "
         "credentials)"},
        {"retry_schedule", kRun, retry_schedule, 0, 0, default_schedule(), nullptr, "LIST",
         "delays after each failure"},
        {"allow_private_targets", kRun, private_targets, 0, 0, "Off", nullptr, "SPEC",
         "Off, On, or CIDRs allowed although non-public"},
        {"accept_v1_credentials", kRun, on_off, 0, 0, "On", member<&O::accept_v1_credentials>, "On|Off",
         "open credentials sealed by a release before v2 (Off once `migrate --secret-key-file` re-sealed "
         "them all)"},
        {"concurrency", kRun, number, 1, 10000, "256", member<&O::concurrency>, "N",
         "deliveries in flight at once"},
        {"per_endpoint_concurrency", kRun, number, 1, 10000, "8", member<&O::per_endpoint_concurrency>, "N",
         "in flight to one endpoint at once"},
        {"max_in_flight_per_scope", kRun, number, 1, 10000, "", member<&O::max_in_flight_per_scope>, "N",
         "in flight to the endpoints of one reseller or portfolio, all workers together (default "
         "concurrency / 4)"},
        {"breaker_after_timeouts", kRun, number, 0, 1000, "5", member<&O::breaker_after_timeouts>, "N",
         "an endpoint whose last N attempts timed out gets one delivery in flight and the shorter "
         "timeout below, until it replies again (0 = never)"},
        {"breaker_request_timeout_ms", kRun, number, 1, 3600000, "5000", member<&O::breaker_request_timeout_ms>,
         "N", "request timeout while that lasts"},
        {"connect_timeout_ms", kRun, number, 1, 600000, "5000", member<&O::connect_timeout_ms>, "N",
         "connect timeout"},
        {"request_timeout_ms", kRun, number, 1, 3600000, "15000", member<&O::request_timeout_ms>, "N",
         "whole attempt (connect included)"},
        {"lease_seconds", kRun, number, 1, 86400 * 7, "", member<&O::lease_seconds>, "N",
         "claim lease (default request timeout + 30 s)"},
        {"poll_interval_ms", kRun, number, 10, 600000, "200", member<&O::poll_interval_ms>, "N",
         "database poll when idle"},
        {"worker_id", kRun, worker_id, 0, 0, "", member<&O::worker_id>, "ID",
         "lease owner name (default host:pid:random)"},
        {"share_work", kRun, share_work, 0, 0, "auto", nullptr, "auto|on|off",
         "share the scopes out among the workers alive (webhook_workers), so that workers on different Galera "
         "nodes do not write the same rows; auto: on when the database is a Galera node"},
        {"drain_seconds", kRun, number, 0, 3600, "10", member<&O::drain_seconds>, "N",
         "SIGTERM: wait this long for transfers in flight, then give the rest back to pending"},
        {"ca_bundle", kRun, not_empty, 0, 0, "", member<&O::ca_bundle>, "FILE",
         "PEM CA certificates for https receivers (default: the system's store)"},
        {"wakeup_listen", kRun, udp_listen, 0, 0, "Off", member<&O::wakeup_listen>, "HOST:PORT",
         "UDP address for the module's wake-up datagrams (WebhookNotifyWorker): poll at once on each"},
        {"log_level", kAll, log_level, 0, 0, "info", nullptr, "LEVEL", "error, warn, info or debug"},
        {"sql_dir", kMigrate, text, 0, 0, "", member<&O::sql_dir>, "DIR",
         "migrate: where the NNN_name.sql files are"},
        {"retention_days", kRun, number, 0, 36500, "30", member<&O::ops, &P::retention_days>, "N",
         "purge delivered/failed notifications, their attempts and their finished events after N days "
         "(0 = keep forever)"},
        {"maintenance_interval", kRun, duration, 1000, kDay, "1m", member<&O::ops, &P::maintenance_interval_ms>,
         "DURATION", "how often a retention pass runs"},
        {"auto_disable_after", kRun, duration_or_off, 0, 0, "5d", member<&O::ops, &P::auto_disable_after_ms>,
         "DURATION", "disable an endpoint whose every attempt failed for this long (off = never)"},
        {"metrics_listen", kRun, loopback_listen, 0, 0, "Off", member<&O::ops, &P::metrics_listen>, "HOST:PORT",
         "Prometheus metrics on this loopback address"},
    };
}

// ---- resolve_options' steps ---------------------------------------------------------------

const OptionSpec* find_option(const std::string& key) {
    for (const auto& spec : option_table())
        if (key == spec.key) return &spec;
    return nullptr;
}

// The file's settings, then the flags' over them. Returns "" or the unknown key.
std::string merge_settings(const CommandLine& cl, const std::map<std::string, std::string>& file,
                           std::map<std::string, std::string>& s) {
    for (const auto& kv : file) {
        if (!find_option(kv.first)) return "unknown key '" + kv.first + "' in the config file";
        s[kv.first] = kv.second;
    }
    for (const auto& kv : cl.flags) s[kv.first] = kv.second;  // flags win
    return "";
}

// Every table default, then every setting of an option the subcommand takes, in table order.
std::string apply_settings(const std::map<std::string, std::string>& s, unsigned scope, Options& out) {
    for (const auto& spec : option_table())
        if (*spec.value) spec.parse(spec, spec.value, out);  // the table test checks they parse
    for (const auto& spec : option_table()) {
        auto it = s.find(spec.key);
        if (it == s.end() || !(spec.scope & scope)) continue;
        if (std::string e = spec.parse(spec, it->second, out); !e.empty()) return bad(spec.key, e);
    }
    return "";
}

std::string require_database(const std::map<std::string, std::string>& s) {
    auto db = s.find("database");
    if (db == s.end() || db->second.empty())
        return "database is required (--database \"host=… port=… user=… password=… database=…\" "
               "or 'database = …' in the config file)";
    return "";
}

// The values that default to a function of others.
std::string derive_defaults(const std::map<std::string, std::string>& s, Options& out) {
    if (!s.count("max_in_flight_per_scope")) out.max_in_flight_per_scope = std::max(1u, out.concurrency / 4);
    // The lease must outlive the longest transfer, so no renewal is ever needed.
    unsigned request_s = unsigned((out.request_timeout_ms + 999) / 1000);
    if (!s.count("lease_seconds")) out.lease_seconds = request_s + 30;
    else if (out.lease_seconds <= request_s)
        return bad("lease_seconds", std::to_string(out.lease_seconds) +
                                        " must be longer than the request timeout (" +
                                        std::to_string(request_s) + " s)");
    if (!s.count("worker_id")) out.worker_id = default_worker_id();
    return "";
}

// ---- parse_command_line's steps -------------------------------------------------------------

// The subcommand words at the front ("migrate", "principal ACTION"); returns where the rest
// starts.
size_t subcommand(const std::vector<std::string>& args, CommandLine& out) {
    if (args.empty() || (args[0] != "migrate" && args[0] != "principal")) return 0;
    out.command = args[0];
    if (out.command == "migrate" || args.size() < 2 || args[1].compare(0, 1, "-") == 0) return 1;
    out.principal.action = args[1];
    return 2;
}

unsigned subcommand_scope(const std::string& command) {
    if (command == "migrate") return kMigrate;
    if (command == "principal") return kPrincipal;
    return kRun;
}

std::string set_principal_kind(PrincipalRequest& p, const std::string& kind, const std::string& id) {
    if (!p.kind.empty()) return "give one of --reseller ID, --portfolio ID or --admin";
    p.kind = kind;
    p.scope_id = id;
    return "";
}

// The principal subcommand's own arguments: USER and the scope flags (not config keys, so not
// in the option table). Returns true when args[i] is one of them (i then moves past its value);
// `err` says what is wrong with it.
bool principal_arg(const std::vector<std::string>& args, size_t& i, PrincipalRequest& p, std::string& err) {
    const std::string& a = args[i];
    if (a == "--admin") {
        err = set_principal_kind(p, "admin", "");
        return true;
    }
    for (const char* kind : {"reseller", "portfolio"}) {
        const std::string flag = std::string("--") + kind;
        if (a == flag) {
            if (i + 1 >= args.size()) err = "option '" + flag + "' needs an ID";
            else err = set_principal_kind(p, kind, args[++i]);
            return true;
        }
        if (a.compare(0, flag.size() + 1, flag + "=") == 0) {
            err = set_principal_kind(p, kind, a.substr(flag.size() + 1));
            return true;
        }
    }
    if (!a.empty() && a[0] == '-') return false;
    if (!p.user.empty()) err = "unexpected argument '" + a + "'";
    else p.user = a;
    return true;
}

// One "--name value" or "--name=value" of the option table (or --config) at args[i].
std::string option_arg(const std::vector<std::string>& args, size_t& i, unsigned scope, CommandLine& out) {
    const std::string& a = args[i];
    if (a.size() < 3 || a.compare(0, 2, "--") != 0) return "unexpected argument '" + a + "'";
    std::string name = a.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
    }
    std::string key = name;
    std::replace(key.begin(), key.end(), '-', '_');
    const OptionSpec* spec = find_option(key);
    if (key != "config" && !(spec && (spec->scope & scope)))
        return "unknown option '--" + name + "'" + (out.command != "run" ? " for '" + out.command + "'" : "");
    if (!has_value) {
        if (i + 1 >= args.size()) return "option '--" + name + "' needs a value";
        value = args[++i];
    }
    if (key == "config") out.config_file = value;
    else out.flags[key] = value;
    return "";
}

// "  --flag ARG" and the help (with its default), wrapped to 96 columns.
std::string usage_entry(const OptionSpec& spec) {
    const size_t indent = 35, width = 96;
    const std::string help = option_help(spec);
    std::string out = "  " + option_flag(spec.key) + " " + spec.arg;
    out += std::string(out.size() < indent ? indent - out.size() : 1, ' ');
    size_t col = out.size();
    std::istringstream words(help);
    bool first = true;
    for (std::string word; words >> word; first = false) {
        if (!first && col + 1 + word.size() > width) {
            out += "\n" + std::string(indent, ' ');
            col = indent;
        } else if (!first) {
            out += ' ';
            ++col;
        }
        out += word;
        col += word.size();
    }
    return out + "\n";
}

}  // namespace

std::string option_help(const OptionSpec& spec) {
    std::string help = spec.help;
    if (*spec.value && !help.empty() && help.back() == ')') help.insert(help.size() - 1, std::string("; default ") + spec.value);
    else if (*spec.value) help += " (default " + std::string(spec.value) + ")";
    return help;
}

bool needs_no_settings(const std::string& command) {
    return command == "help" || command == "version" || command == "man";
}

const std::vector<OptionSpec>& option_table() {
    static const std::vector<OptionSpec> table = make_table();
    return table;
}

std::string option_flag(const std::string& key) {
    std::string flag = key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    return "--" + flag;
}

const std::vector<std::string>& known_keys() {
    static const std::vector<std::string> k = [] {
        std::vector<std::string> all;
        for (const auto& spec : option_table()) all.push_back(spec.key);
        return all;
    }();
    return k;
}

std::string default_worker_id() {
    char host[256] = {0};
    if (gethostname(host, sizeof host - 1) != 0 || !host[0]) std::snprintf(host, sizeof host, "localhost");
    std::string rnd;
    try {
        rnd = random_hex(4);
    } catch (...) {
        rnd = "0";
    }
    std::string id = std::string(host).substr(0, 70) + ":" + std::to_string(getpid()) + ":" + rnd;
    return id;
}

std::string parse_command_line(const std::vector<std::string>& args, CommandLine& out) {
    out = CommandLine();
    size_t i = subcommand(args, out);
    const unsigned scope = subcommand_scope(out.command);
    bool help = false, version = false, man = false;
    for (; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            help = true;
            continue;
        }
        if (a == "--version" || a == "-V" || a == "--man") {
            (a == "--man" ? man : version) = true;
            continue;
        }
        std::string err;
        if (out.command == "principal" && principal_arg(args, i, out.principal, err)) {
            if (!err.empty()) return err;
            continue;
        }
        if (std::string e = option_arg(args, i, scope, out); !e.empty()) return e;
    }
    if (help) out.command = "help";
    else if (version) out.command = "version";
    else if (man) out.command = "man";
    else if (out.command == "principal") return check_principal_request(out.principal);
    return "";
}

std::string resolve_options(const CommandLine& cl, const std::map<std::string, std::string>& file,
                            Options& out) {
    out = Options();
    out.command = cl.command;
    out.config_file = cl.config_file;
    if (needs_no_settings(cl.command)) return "";
    std::map<std::string, std::string> s;
    if (std::string e = merge_settings(cl, file, s); !e.empty()) return e;
    if (std::string e = require_database(s); !e.empty()) return e;
    if (cl.command == "migrate") return apply_settings(s, kMigrate, out);  // its secret_key_file is optional
    if (cl.command == "principal") {
        out.principal = cl.principal;
        return apply_settings(s, kPrincipal, out);
    }
    if (std::string e = apply_settings(s, kRun | kMigrate, out); !e.empty()) return e;
    if (out.secret_key_file.empty())
        return "secret_key_file is required (--secret-key-file PATH: the same 64-hex-character key "
               "file as the module's WebhookSecretKeyFile)";
    return derive_defaults(s, out);
}

std::string load_options(const std::vector<std::string>& args, Options& out) {
    CommandLine cl;
    if (std::string e = parse_command_line(args, cl); !e.empty()) return e;
    std::map<std::string, std::string> file;
    if (!cl.config_file.empty() && !needs_no_settings(cl.command))
        if (std::string e = read_config_file(cl.config_file, file); !e.empty()) return e;
    return resolve_options(cl, file, out);
}

std::string usage_text() {
    std::string text = R"(Usage:
  webhook-worker [--config FILE] [options]        run the delivery loop (until SIGTERM/SIGINT)
  webhook-worker migrate [--config FILE] [--database SPEC] [--sql-dir DIR] [--secret-key-file PATH]
                                                  apply the SQL migrations, re-seal v1
                                                  credentials as v2 (with the key file), exit
  webhook-worker principal add USER (--reseller ID | --portfolio ID | --admin) [--config FILE]
                                                  [--database SPEC]
  webhook-worker principal list [USER] [--config FILE] [--database SPEC]
  webhook-worker principal remove USER [--reseller ID | --portfolio ID | --admin]
                                                  [--config FILE] [--database SPEC]
                                                  map a user name to the scopes it may use in
                                                  the registration API (webhook_principals),
                                                  list them, remove one (or all of the user's);
                                                  Apache authenticates the user (htpasswd, LDAP,
                                                  ...): this table holds no passwords

Options (config file keys are the same names with underscores: "database = host=…"):
  --config FILE                    key = value file; flags override it
)";
    for (const auto& spec : option_table()) text += usage_entry(spec);
    return text + R"(  --help, --version

Exit status: 0 normal stop, 2 usage or configuration error, 1 fatal runtime error.
)";
}

std::string parse_loopback_listen(const std::string& text, std::string& host, unsigned& port) {
    std::string h, p;
    if (std::string e = split_host_port(text, h, p); !e.empty()) return e;
    unsigned long long n = 0;
    if (!parse_decimal(p, 65535, n) || n < 1) return "port " + p + " is out of range";
    unsigned char buf[16];
    const std::string not_loopback = "'" + h + "' is not a loopback address (metrics stay on 127.0.0.0/8 or ::1)";
    if (inet_pton(AF_INET, h.c_str(), buf) == 1) {
        if (buf[0] != 127) return not_loopback;
    } else if (inet_pton(AF_INET6, h.c_str(), buf) == 1) {
        static const unsigned char loop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        if (std::memcmp(buf, loop6, 16) != 0) return not_loopback;
    } else {
        return "'" + h + "' is not an IP address (use 127.0.0.1 or [::1])";
    }
    host = h;
    port = unsigned(n);
    return "";
}

}  // namespace wh::worker

// webhook-worker's command line and config file: defaults, override order, bad values.
#include <cppunit/extensions/HelperMacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <set>

#include "config_file.hpp"
#include "options.hpp"

using namespace wh::worker;

class WorkerOptionsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WorkerOptionsTest);
    CPPUNIT_TEST(defaults);
    CPPUNIT_TEST(flags_override_the_file);
    CPPUNIT_TEST(flag_forms);
    CPPUNIT_TEST(lease_follows_the_request_timeout);
    CPPUNIT_TEST(bad_values_are_errors);
    CPPUNIT_TEST(unknown_names_are_errors);
    CPPUNIT_TEST(required_settings);
    CPPUNIT_TEST(migrate_subcommand);
    CPPUNIT_TEST(help_and_version_need_nothing);
    CPPUNIT_TEST(load_reads_the_config_file);
    CPPUNIT_TEST(drain_and_ca_bundle);
    CPPUNIT_TEST(v1_credentials_switch);
    CPPUNIT_TEST(share_work_modes);
    CPPUNIT_TEST(database_password_with_a_space);
    CPPUNIT_TEST(scope_cap_and_breaker);
    CPPUNIT_TEST(table_entries_are_complete);
    CPPUNIT_TEST(table_defaults_are_valid_values);
    CPPUNIT_TEST(table_bounds_are_enforced);
    CPPUNIT_TEST(off_in_any_case);
    CPPUNIT_TEST(every_option_is_documented);
    CPPUNIT_TEST_SUITE_END();

    static const char* db() { return "host=127.0.0.1 port=3306 user=u password=p database=d"; }

    static std::map<std::string, std::string> base_file() {
        return {{"database", db()}, {"secret_key_file", "/etc/wh/key"}};
    }

    static std::string resolve(const std::vector<std::string>& args,
                               const std::map<std::string, std::string>& file, Options& o) {
        CommandLine cl;
        std::string e = parse_command_line(args, cl);
        if (!e.empty()) return e;
        return resolve_options(cl, file, o);
    }

    static void assert_error(const std::vector<std::string>& args, const std::string& needle,
                             std::map<std::string, std::string> file = base_file()) {
        Options o;
        std::string e = resolve(args, file, o);
        CPPUNIT_ASSERT_MESSAGE("expected an error mentioning " + needle, !e.empty());
        CPPUNIT_ASSERT_MESSAGE(e, e.find(needle) != std::string::npos);
    }

public:
    void defaults() {
        Options o;
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({}, base_file(), o));
        CPPUNIT_ASSERT_EQUAL(std::string("run"), o.command);
        CPPUNIT_ASSERT_EQUAL(256u, o.concurrency);
        CPPUNIT_ASSERT_EQUAL(8u, o.per_endpoint_concurrency);
        CPPUNIT_ASSERT_EQUAL(5000L, o.connect_timeout_ms);
        CPPUNIT_ASSERT_EQUAL(15000L, o.request_timeout_ms);
        CPPUNIT_ASSERT_EQUAL(45u, o.lease_seconds);
        CPPUNIT_ASSERT_EQUAL(200u, o.poll_interval_ms);
        CPPUNIT_ASSERT_EQUAL(10u, o.drain_seconds);
        CPPUNIT_ASSERT_EQUAL(std::string(), o.ca_bundle);  // the system's store
        CPPUNIT_ASSERT(o.log_level == wh::LogLevel::info);
        CPPUNIT_ASSERT_EQUAL(size_t(4), o.schedule_ms.size());
        CPPUNIT_ASSERT_EQUAL(5 * 60000LL, o.schedule_ms[0]);
        CPPUNIT_ASSERT_EQUAL(24 * 3600000LL, o.schedule_ms[3]);
        CPPUNIT_ASSERT_EQUAL(std::string("u"), o.db.user);
        CPPUNIT_ASSERT_EQUAL(std::string("d"), o.db.database);
        CPPUNIT_ASSERT_EQUAL(std::string("/etc/wh/key"), o.secret_key_file);
        // default policy: public addresses only
        wh::IpAddr lo;
        CPPUNIT_ASSERT(wh::parse_ip_literal("127.0.0.1", lo));
        CPPUNIT_ASSERT(!o.policy.permits(lo));
        // host:pid:random
        CPPUNIT_ASSERT_EQUAL(size_t(2), size_t(std::count(o.worker_id.begin(), o.worker_id.end(), ':')));
        CPPUNIT_ASSERT(o.worker_id.find(":" + std::to_string(getpid()) + ":") != std::string::npos);
        Options o2;
        resolve({}, base_file(), o2);
        CPPUNIT_ASSERT(o.worker_id != o2.worker_id);  // the random part differs
    }

    void flags_override_the_file() {
        auto file = base_file();
        file["concurrency"] = "10";
        file["retry_schedule"] = "1m";
        file["poll_interval_ms"] = "500";
        file["worker_id"] = "from-file";
        Options o;
        CPPUNIT_ASSERT_EQUAL(std::string(),
                             resolve({"--concurrency", "20", "--worker-id=from-flag",
                                      "--database", "user=x database=y port=3307"},
                                     file, o));
        CPPUNIT_ASSERT_EQUAL(20u, o.concurrency);              // flag wins
        CPPUNIT_ASSERT_EQUAL(std::string("from-flag"), o.worker_id);
        CPPUNIT_ASSERT_EQUAL(500u, o.poll_interval_ms);        // file value kept
        CPPUNIT_ASSERT_EQUAL(size_t(1), o.schedule_ms.size());
        CPPUNIT_ASSERT_EQUAL(60000LL, o.schedule_ms[0]);
        CPPUNIT_ASSERT_EQUAL(std::string("x"), o.db.user);     // the whole spec comes from the flag
        CPPUNIT_ASSERT_EQUAL(3307u, o.db.port);
        CPPUNIT_ASSERT_EQUAL(std::string(), o.db.password);
    }

    void flag_forms() {
        Options o;
        CPPUNIT_ASSERT_EQUAL(std::string(),
                             resolve({"--retry-schedule=5s,10s", "--allow-private-targets", "127.0.0.0/8,::1/128",
                                      "--log-level", "debug", "--per-endpoint-concurrency", "2",
                                      "--connect-timeout-ms", "100", "--request-timeout-ms", "2500",
                                      "--lease-seconds", "60", "--poll-interval-ms", "50"},
                                     base_file(), o));
        CPPUNIT_ASSERT_EQUAL(size_t(2), o.schedule_ms.size());
        CPPUNIT_ASSERT_EQUAL(10000LL, o.schedule_ms[1]);
        wh::IpAddr lo, ten, v6;
        wh::parse_ip_literal("127.0.0.1", lo);
        wh::parse_ip_literal("10.0.0.1", ten);
        wh::parse_ip_literal("::1", v6);
        CPPUNIT_ASSERT(o.policy.permits(lo));
        CPPUNIT_ASSERT(o.policy.permits(v6));
        CPPUNIT_ASSERT(!o.policy.permits(ten));
        CPPUNIT_ASSERT(o.log_level == wh::LogLevel::debug);
        CPPUNIT_ASSERT_EQUAL(2u, o.per_endpoint_concurrency);
        CPPUNIT_ASSERT_EQUAL(100L, o.connect_timeout_ms);
        CPPUNIT_ASSERT_EQUAL(2500L, o.request_timeout_ms);
        CPPUNIT_ASSERT_EQUAL(60u, o.lease_seconds);
        CPPUNIT_ASSERT_EQUAL(50u, o.poll_interval_ms);
        Options on;
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({"--allow-private-targets", "On"}, base_file(), on));
        CPPUNIT_ASSERT(on.policy.permits(ten));
    }

    void lease_follows_the_request_timeout() {
        Options o;
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({"--request-timeout-ms", "60001"}, base_file(), o));
        CPPUNIT_ASSERT_EQUAL(91u, o.lease_seconds);  // ceil(60.001) + 30
        assert_error({"--request-timeout-ms", "60000", "--lease-seconds", "60"}, "lease_seconds");
        Options ok;
        CPPUNIT_ASSERT_EQUAL(std::string(),
                             resolve({"--request-timeout-ms", "60000", "--lease-seconds", "61"}, base_file(), ok));
    }

    void bad_values_are_errors() {
        assert_error({"--concurrency", "0"}, "concurrency");
        assert_error({"--concurrency", "-5"}, "concurrency");
        assert_error({"--concurrency", "12x"}, "concurrency");
        assert_error({"--concurrency", ""}, "concurrency");
        assert_error({"--concurrency", "99999999"}, "concurrency");
        assert_error({"--poll-interval-ms", "1"}, "poll_interval_ms");
        assert_error({"--connect-timeout-ms", "abc"}, "connect_timeout_ms");
        assert_error({"--retry-schedule", "5m,soon"}, "retry_schedule");
        assert_error({"--retry-schedule", "5x"}, "retry_schedule");
        assert_error({"--allow-private-targets", "maybe"}, "allow_private_targets");
        assert_error({"--allow-private-targets", "10.0.0.0/99"}, "allow_private_targets");
        assert_error({"--allow-private-targets", ""}, "allow_private_targets");
        assert_error({"--log-level", "verbose"}, "log_level");
        assert_error({"--worker-id", "has space"}, "worker_id");
        assert_error({"--worker-id", std::string(101, 'w')}, "worker_id");
        assert_error({"--database", "user=u"}, "database");
        assert_error({"--database", "user=u database=d port=zero"}, "port");
        // bad values in the file are errors too (flags not given)
        auto file = base_file();
        file["concurrency"] = "lots";
        assert_error({}, "concurrency", file);
        // ... unless a flag overrides them
        Options o;
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({"--concurrency", "3"}, file, o));
        CPPUNIT_ASSERT_EQUAL(3u, o.concurrency);
    }

    void unknown_names_are_errors() {
        assert_error({"--concurency", "3"}, "--concurency");
        assert_error({"stray"}, "stray");
        assert_error({"--concurrency"}, "needs a value");
        assert_error({"--sql-dir", "/x"}, "--sql-dir");  // a migrate-only flag
        auto file = base_file();
        file["concurency"] = "3";
        assert_error({}, "concurency", file);
    }

    void required_settings() {
        assert_error({}, "database is required", {{"secret_key_file", "/k"}});
        assert_error({}, "secret_key_file is required", {{"database", db()}});
        Options o;
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({"--database", db(), "--secret-key-file", "/k"}, {}, o));
    }

    void migrate_subcommand() {
        Options o;
        // migrate needs no key file and takes --sql-dir
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({"migrate", "--database", db(), "--sql-dir", "/srv/sql"}, {}, o));
        CPPUNIT_ASSERT_EQUAL(std::string("migrate"), o.command);
        CPPUNIT_ASSERT_EQUAL(std::string("/srv/sql"), o.sql_dir);
        CPPUNIT_ASSERT_EQUAL(std::string("d"), o.db.database);
        // the shared config file may hold the run-time keys
        auto file = base_file();
        file["concurrency"] = "4";
        file["sql_dir"] = "/from/file";
        Options m;
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({"migrate"}, file, m));
        CPPUNIT_ASSERT_EQUAL(std::string("/from/file"), m.sql_dir);
        // but run-time flags are not migrate flags
        assert_error({"migrate", "--concurrency", "4"}, "--concurrency");
        assert_error({"migrate"}, "database is required", {});
        // the re-seal step's key file, optional for migrate
        Options k;
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({"migrate", "--database", db(), "--secret-key-file", "/k"}, {}, k));
        CPPUNIT_ASSERT_EQUAL(std::string("/k"), k.secret_key_file);
        Options none;
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({"migrate", "--database", db()}, {}, none));
        CPPUNIT_ASSERT_EQUAL(std::string(), none.secret_key_file);
    }

    void v1_credentials_switch() {
        Options o;
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({}, base_file(), o));
        CPPUNIT_ASSERT(o.accept_v1_credentials);  // a rolling upgrade works out of the box
        Options off;
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({"--accept-v1-credentials", "Off"}, base_file(), off));
        CPPUNIT_ASSERT(!off.accept_v1_credentials);
        auto file = base_file();
        file["accept_v1_credentials"] = "off";
        Options from_file;
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({}, file, from_file));
        CPPUNIT_ASSERT(!from_file.accept_v1_credentials);
        assert_error({"--accept-v1-credentials", "maybe"}, "accept_v1_credentials");
    }

    void share_work_modes() {
        Options o;
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({}, base_file(), o));
        CPPUNIT_ASSERT(o.share_work == ShareMode::automatic);
        const std::pair<const char*, ShareMode> cases[] = {
            {"auto", ShareMode::automatic}, {"on", ShareMode::on}, {"Off", ShareMode::off}};
        for (const auto& [text, mode] : cases) {
            Options set;
            CPPUNIT_ASSERT_EQUAL(std::string(), resolve({"--share-work", text}, base_file(), set));
            CPPUNIT_ASSERT_MESSAGE(text, set.share_work == mode);
        }
        assert_error({"--share-work", "sometimes"}, "share_work");
    }

    void help_and_version_need_nothing() {
        Options o;
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({"--help"}, {}, o));
        CPPUNIT_ASSERT_EQUAL(std::string("help"), o.command);
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({"--version"}, {}, o));
        CPPUNIT_ASSERT_EQUAL(std::string("version"), o.command);
        CPPUNIT_ASSERT(usage_text().find("--retry-schedule") != std::string::npos);
    }

    void load_reads_the_config_file() {
        char path[] = "/tmp/test_worker_options_XXXXXX";
        int fd = mkstemp(path);
        CPPUNIT_ASSERT(fd >= 0);
        close(fd);
        {
            std::ofstream f(path);
            f << "# worker\ndatabase = host=db.example port=3310 user=w password=a=b database=wh\n"
                 "secret_key_file = /etc/wh/secret.key\nconcurrency = 12\n\nlog_level = warn\n";
        }
        Options o;
        CPPUNIT_ASSERT_EQUAL(std::string(), load_options({"--config", path, "--concurrency", "13"}, o));
        CPPUNIT_ASSERT_EQUAL(13u, o.concurrency);
        CPPUNIT_ASSERT_EQUAL(std::string("db.example"), o.db.hosts.at(0).name);
        CPPUNIT_ASSERT_EQUAL(3310u, o.db.port);
        CPPUNIT_ASSERT_EQUAL(std::string("a=b"), o.db.password);
        CPPUNIT_ASSERT(o.log_level == wh::LogLevel::warn);
        CPPUNIT_ASSERT_EQUAL(std::string(path), o.config_file);
        {
            std::ofstream f(path);
            f << "database = " << db() << "\nsecret_key_file = /k\nthis line has no equals sign\n";
        }
        std::string e = load_options({"--config", path}, o);
        CPPUNIT_ASSERT(e.find("line 3") != std::string::npos);
        std::remove(path);
        CPPUNIT_ASSERT(!load_options({"--config", path}, o).empty());  // missing file
    }

    void drain_and_ca_bundle() {
        Options o;
        auto file = base_file();
        file["drain_seconds"] = "3";
        file["ca_bundle"] = "/etc/ssl/mine.pem";
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({"--drain-seconds", "0"}, file, o));
        CPPUNIT_ASSERT_EQUAL(0u, o.drain_seconds);  // flag wins; 0 = release at once
        CPPUNIT_ASSERT_EQUAL(std::string("/etc/ssl/mine.pem"), o.ca_bundle);
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({"--ca-bundle=/x.pem"}, file, o));
        CPPUNIT_ASSERT_EQUAL(std::string("/x.pem"), o.ca_bundle);
        assert_error({"--drain-seconds", "3601"}, "drain_seconds");
        assert_error({"--drain-seconds", "-1"}, "drain_seconds");
        assert_error({"--ca-bundle="}, "ca_bundle");
    }

    void database_password_with_a_space() {
        auto file = base_file();  // as written in worker.conf: database = … password='top secret'
        std::map<std::string, std::string> parsed;
        CPPUNIT_ASSERT_EQUAL(std::string(),
                             wh::parse_config_text("database = user=u database=d password='top secret'\n", parsed));
        file["database"] = parsed["database"];
        Options o;
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({}, file, o));
        CPPUNIT_ASSERT_EQUAL(std::string("top secret"), o.db.password);
        file["database"] = "user=u database=d password=top secretTail";  // unquoted: refused, not echoed
        Options bad;
        std::string e = resolve({}, file, bad);
        CPPUNIT_ASSERT_MESSAGE(e, !e.empty() && e.find("secretTail") == std::string::npos &&
                                      e.find("top") == std::string::npos);
    }

    void scope_cap_and_breaker() {
        Options o;
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({}, base_file(), o));
        CPPUNIT_ASSERT_EQUAL(64u, o.max_in_flight_per_scope);  // a quarter of concurrency 256
        CPPUNIT_ASSERT_EQUAL(5u, o.breaker_after_timeouts);
        CPPUNIT_ASSERT_EQUAL(5000L, o.breaker_request_timeout_ms);
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({"--concurrency", "3"}, base_file(), o));
        CPPUNIT_ASSERT_EQUAL(1u, o.max_in_flight_per_scope);  // never 0
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({"--max-in-flight-per-scope", "10", "--breaker-after-timeouts",
                                                     "0", "--breaker-request-timeout-ms", "700"},
                                                    base_file(), o));
        CPPUNIT_ASSERT_EQUAL(10u, o.max_in_flight_per_scope);
        CPPUNIT_ASSERT_EQUAL(0u, o.breaker_after_timeouts);
        CPPUNIT_ASSERT_EQUAL(700L, o.breaker_request_timeout_ms);
        auto file = base_file();
        file["max_in_flight_per_scope"] = "20";
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({}, file, o));
        CPPUNIT_ASSERT_EQUAL(20u, o.max_in_flight_per_scope);
        assert_error({"--max-in-flight-per-scope", "0"}, "max_in_flight_per_scope");
        assert_error({"--breaker-request-timeout-ms", "0"}, "breaker_request_timeout_ms");
    }

    // Every option has a unique key, a flag, an argument and a help line in --help.
    void table_entries_are_complete() {
        std::set<std::string> keys;
        std::string usage = usage_text();
        for (const auto& spec : option_table()) {
            std::string key = spec.key;
            CPPUNIT_ASSERT_MESSAGE(key, keys.insert(key).second);
            CPPUNIT_ASSERT_MESSAGE(key, spec.parse != nullptr);
            CPPUNIT_ASSERT_MESSAGE(key, spec.scope != 0);
            CPPUNIT_ASSERT_MESSAGE(key, spec.arg && *spec.arg && spec.help && *spec.help);
            CPPUNIT_ASSERT_MESSAGE(key, key.find_first_not_of("abcdefghijklmnopqrstuvwxyz_0123456789") ==
                                            std::string::npos);
            CPPUNIT_ASSERT_MESSAGE(key, usage.find("\n  " + option_flag(key) + " " + spec.arg + " ") !=
                                            std::string::npos);
            CPPUNIT_ASSERT_MESSAGE(key, spec.min <= spec.max);
        }
        CPPUNIT_ASSERT_EQUAL(keys.size(), known_keys().size());
    }

    // A default is a value its own parser accepts (so within the bounds), and it is the value
    // an empty config resolves to.
    void table_defaults_are_valid_values() {
        Options resolved;
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({}, base_file(), resolved));
        for (const auto& spec : option_table()) {
            if (!*spec.value) continue;
            Options o;
            CPPUNIT_ASSERT_EQUAL_MESSAGE(spec.key, std::string(), spec.parse(spec, spec.value, o));
            Options given;
            auto file = base_file();
            file[spec.key] = spec.value;
            CPPUNIT_ASSERT_EQUAL_MESSAGE(spec.key, std::string(), resolve({}, file, given));
            given.worker_id = resolved.worker_id;  // random per call
            CPPUNIT_ASSERT_EQUAL_MESSAGE(spec.key, usage_of(resolved), usage_of(given));
        }
    }

    // A number option takes its bounds and refuses one past each.
    void table_bounds_are_enforced() {
        for (const auto& spec : option_table()) {
            if (spec.min == spec.max) continue;  // not a bounded value
            bool ms = std::string(spec.arg) == "DURATION";
            auto text = [&](long long v) { return ms ? std::to_string(v) + "ms" : std::to_string(v); };
            std::vector<std::string> flags = {"--request-timeout-ms", "1000"};  // lease_seconds' floor: 1 s
            auto with = [&](const std::string& v) {
                std::vector<std::string> args = flags;
                args.push_back(option_flag(spec.key));
                args.push_back(v);
                return args;
            };
            Options o;
            if (std::string(spec.key) != "request_timeout_ms" && std::string(spec.key) != "lease_seconds")
                CPPUNIT_ASSERT_EQUAL_MESSAGE(spec.key, std::string(), resolve(with(text(spec.min)), base_file(), o));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(spec.key, std::string(), resolve(with(text(spec.max)), base_file(), o));
            assert_error(with(text(spec.max + 1)), spec.key);
            if (spec.min > 0) assert_error(with(text(spec.min - 1)), spec.key);
        }
        assert_error({"--concurrency", "0"}, "'0' is not a whole number from 1 to 10000");
    }

    // "Off" switches a feature off whatever its case, as On/Off does everywhere.
    void off_in_any_case() {
        Options o;
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({"--wakeup-listen", "OFF", "--metrics-listen", "off",
                                                     "--accept-v1-credentials", "OFF", "--auto-disable-after",
                                                     "oFF", "--allow-private-targets", "OFF"},
                                                    base_file(), o));
        CPPUNIT_ASSERT_EQUAL(std::string(), o.wakeup_listen);
        CPPUNIT_ASSERT_EQUAL(std::string(), o.ops.metrics_listen);
        CPPUNIT_ASSERT(!o.accept_v1_credentials);
        CPPUNIT_ASSERT_EQUAL(0LL, o.ops.auto_disable_after_ms);
        CPPUNIT_ASSERT(!o.policy.allow_all());
        CPPUNIT_ASSERT_EQUAL(std::string(), resolve({"--wakeup-listen", "127.0.0.1:8499"}, base_file(), o));
        CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1:8499"), o.wakeup_listen);
    }

    // worker/README.md's settings table and packaging/worker.conf.sample list every option.
    void every_option_is_documented() {
        std::string src = __FILE__;  // …/tests/unit/test_worker_options.cpp
        std::string root = src.substr(0, src.rfind("/tests/unit/"));
        auto read = [&](const std::string& rel) {
            std::ifstream in(root + "/" + rel);
            CPPUNIT_ASSERT_MESSAGE("cannot read " + root + "/" + rel, bool(in));
            return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        };
        const std::string readme = read("worker/README.md"), sample = read("packaging/worker.conf.sample");
        for (const auto& spec : option_table()) {
            std::string key = spec.key;
            CPPUNIT_ASSERT_MESSAGE("worker/README.md lacks | `" + key + "` |",
                                   readme.find("| `" + key + "` |") != std::string::npos);
            bool in_sample = sample.find("\n" + key + " = ") != std::string::npos ||
                             sample.find("\n# " + key + " = ") != std::string::npos;
            CPPUNIT_ASSERT_MESSAGE("packaging/worker.conf.sample lacks " + key, in_sample);
        }
    }

    // The resolved values as text, to compare two Options.
    static std::string usage_of(const Options& o) {
        std::string s = o.database + "|" + o.secret_key_file + "|" + o.retry_schedule + "|" +
                        o.allow_private_targets + "|" + std::to_string(o.accept_v1_credentials) + "|" +
                        o.worker_id + "|" + o.ca_bundle + "|" + o.wakeup_listen + "|" + o.sql_dir + "|" +
                        std::to_string(int(o.log_level)) + "|" + o.ops.metrics_listen;
        for (long long v : {(long long)o.concurrency, (long long)o.per_endpoint_concurrency,
                            (long long)o.max_in_flight_per_scope, (long long)o.breaker_after_timeouts,
                            (long long)o.breaker_request_timeout_ms, (long long)o.connect_timeout_ms,
                            (long long)o.request_timeout_ms, (long long)o.lease_seconds,
                            (long long)o.poll_interval_ms, (long long)o.drain_seconds,
                            (long long)o.ops.retention_days, o.ops.maintenance_interval_ms,
                            o.ops.auto_disable_after_ms})
            s += "|" + std::to_string(v);
        return s;
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(WorkerOptionsTest, "worker_options");

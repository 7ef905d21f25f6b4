// webhook-worker: the delivery daemon of mod_webhook (see docs/internals.md).
#include <curl/curl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "crypto.hpp"
#include "db.hpp"
#include "delivery_loop.hpp"
#include "man_page.hpp"
#include "migrate.hpp"
#include "options.hpp"
#include "principal.hpp"
#include "reseal.hpp"
#include "worker_log.hpp"

#ifndef WEBHOOK_VERSION
#define WEBHOOK_VERSION "0.0.0"
#endif
#ifndef WEBHOOK_SQL_DIR
#define WEBHOOK_SQL_DIR "/usr/local/share/mod_webhook/sql"
#endif

using namespace wh;
using namespace wh::worker;

namespace {

// Help and the man page in one write(2) where the pipe takes it: stdout's 4 KiB buffer would
// split them, and `webhook-worker --help | grep -q …` would then kill the second write with
// SIGPIPE (exit 141 under pipefail).
int print_text(const std::string& text) {
    for (size_t done = 0; done < text.size();) {
        ssize_t n = write(STDOUT_FILENO, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 1;
        done += size_t(n);
    }
    return 0;
}

// After the SQL files: credentials still sealed as v1 become v2 (reseal.hpp). Without the
// key file it only says how many are left. Returns the exit code.
int reseal_step(const Options& opt, Db& db) {
    if (opt.secret_key_file.empty()) {
        if (size_t n = count_v1_credentials(db))
            log_warn("WH00156: " + std::to_string(n) +
                         " endpoints still hold credentials sealed as v1 (not bound to their row); "
                         "run 'webhook-worker migrate' again with --secret-key-file (or "
                         "secret_key_file in --config) to re-seal them as v2");
        return 0;
    }
    SecretBox::Key key;
    if (std::string e = SecretBox::load_key_file(opt.secret_key_file, key); !e.empty()) {
        log_error("WH00157: " + e + ": the re-seal of v1 credentials needs the module's "
                                    "WebhookSecretKeyFile; the SQL migrations are applied, run again");
        return 2;
    }
    ResealResult r = reseal_v1_credentials(db, SecretBox(key));
    std::cout << "re-sealed " << r.resealed << " credentials as v2";
    if (r.unreadable) std::cout << "; " << r.unreadable << " could not be opened and stay v1 (WH00155)";
    std::cout << "\n";
    return r.unreadable ? 1 : 0;
}

constexpr unsigned kMigrateReadTimeout = 24 * 3600;  // seconds

int run_migrate(const Options& opt) {
    std::string dir = opt.sql_dir.empty() ? std::string(WEBHOOK_SQL_DIR) : opt.sql_dir;
    try {
        // A migration's ALTER may rebuild a big table for hours; the server goes on with it
        // whatever the client does, so a read timeout would only make migrate fail halfway.
        DbConfig cfg = opt.db;
        cfg.read_timeout = std::max(cfg.read_timeout, kMigrateReadTimeout);
        Db db(cfg);
        db.connect();
        MigrationResult r = migrate(db, dir);
        for (const auto& f : r.applied) std::cout << "applied " << f << "\n";
        if (r.applied.empty()) std::cout << "nothing to apply\n";
        std::cout << "schema version " << r.version << "\n";
        return reseal_step(opt, db);
    } catch (const DbError& e) {
        log_error("WH00102: migration failed: " + std::string(e.what()) +
                      " (MariaDB error " + std::to_string(e.code()) +
                      "); check the 'database' setting, that the server runs and that the user "
                      "may create tables; it is safe to run again");
    } catch (const MigrationLockError& e) {
        log_error("WH00108: migration stopped: " + std::string(e.what()) +
                  " (the row of webhook_migration_lock names the other run's host and pid)");
    } catch (const std::exception& e) {
        log_error("WH00103: migration failed: " + std::string(e.what()) +
                      "; check --sql-dir (now '" + dir + "')");
    }
    return 1;
}

// One statement on webhook_principals; what it did goes to stdout. Returns the exit code.
int principal_action(const PrincipalRequest& p, Db& db) {
    const std::string what = p.user + (p.kind.empty() ? "" : " (" + p.kind + (p.scope_id.empty() ? "" : " " + p.scope_id) + ")");
    if (p.action == "add") {
        std::cout << (add_principal(db, p) ? "added " : "already there: ") << what << "\n";
        return 0;
    }
    if (p.action == "list") {
        std::cout << format_principals(list_principals(db, p.user));
        return 0;
    }
    if (uint64_t n = remove_principals(db, p)) {
        std::cout << "removed " << n << (n == 1 ? " row" : " rows") << " of " << what << "\n";
        return 0;
    }
    log_error("WH00184: no principal " + what + " to remove (see 'webhook-worker principal list " + p.user + "')");
    return 1;
}

int run_principal(const Options& opt) {
    try {
        Db db(opt.db);
        db.connect();
        return principal_action(opt.principal, db);
    } catch (const DbError& e) {
        log_error("WH00183: principal " + opt.principal.action + " failed: " + std::string(e.what()) +
                  " (MariaDB error " + std::to_string(e.code()) +
                  "); check the 'database' setting, that the server runs, that the schema is migrated "
                  "and that the user may read and write webhook_principals");
    }
    return 1;
}

int run_worker(const Options& opt) {
    SecretBox::Key key;
    if (std::string e = SecretBox::load_key_file(opt.secret_key_file, key); !e.empty()) {
        log_error("WH00101: " + e + ": secret_key_file must name the module's "
                                    "WebhookSecretKeyFile (64 hex characters), readable by this user");
        return 2;
    }
    if (!opt.ca_bundle.empty() && access(opt.ca_bundle.c_str(), R_OK) != 0) {
        log_error("WH00130: ca_bundle '" + opt.ca_bundle +
                      "' is not a readable file: give a PEM file of CA certificates, or leave "
                      "ca_bundle unset for the system's store");
        return 2;
    }
    // Signals are read from a signalfd in the loop; block them before any thread exists
    // (libcurl's resolver threads inherit the mask).
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) {
        log_error("WH00104: cannot block SIGTERM/SIGINT; the worker cannot stop cleanly, so it does not start");
        return 1;
    }
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        log_error("WH00105: signalfd failed; the worker cannot stop cleanly, so it does not start");
        return 1;
    }
    std::signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("WH00106: curl_global_init failed; check the libcurl and OpenSSL installation");
        close(sfd);
        return 1;
    }
    int rc;
    try {
        DeliveryLoop loop(opt, key, sfd);
        rc = loop.run();
    } catch (const std::exception& e) {
        log_error(std::string("WH00107: fatal: ") + e.what() + "; restart the worker");
        rc = 1;
    }
    curl_global_cleanup();
    close(sfd);
    return rc;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    Options opt;
    std::string err = load_options(args, opt);
    if (!err.empty()) {
        log_error("WH00100: webhook-worker: " + err + " (see webhook-worker --help)");
        return 2;
    }
    if (opt.command == "help") {
        return print_text(usage_text());
    }
    if (opt.command == "man") {
        return print_text(man_page(WEBHOOK_VERSION, WEBHOOK_SQL_DIR));
    }
    if (opt.command == "version") {
        std::cout << "webhook-worker " WEBHOOK_VERSION "\n";
        return 0;
    }
    set_log_level(opt.log_level);
    db_library_init();
    int rc = opt.command == "migrate" ? run_migrate(opt) : opt.command == "principal" ? run_principal(opt) : run_worker(opt);
    mysql_library_end();
    return rc;
}

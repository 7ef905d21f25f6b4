// The MariaDB layer's error classes (what a caller does about an error number), the conflict
// retry pause and counter, the host walk against refusing loopback ports, and the log throttle
// the module uses per cause.
#include <cppunit/extensions/HelperMacros.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "db.hpp"
#include "throttle.hpp"
#include "worker_metrics.hpp"

using wh::DbError;

namespace {

using Clock = std::chrono::steady_clock;

long long ms_since(Clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// Nothing listens on ports 1 and 2 of loopback: each refuses at once.
wh::DbConfig refusing(const std::string& hosts) {
    wh::DbConfig c;
    CPPUNIT_ASSERT_EQUAL(std::string(), wh::parse_db_config("host=" + hosts + " user=u database=d connect_timeout=2", c));
    return c;
}

// A loopback port whose listener takes one connection and closes it before any greeting: a
// server that is reached but does not serve (as a stalled or failing one).
class Hangup {
public:
    Hangup() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        CPPUNIT_ASSERT(fd_ >= 0 && bind(fd_, (sockaddr*)&a, len) == 0 && listen(fd_, 4) == 0);
        CPPUNIT_ASSERT(getsockname(fd_, (sockaddr*)&a, &len) == 0);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] {
            int c = accept(fd_, nullptr, nullptr);
            if (c >= 0) close(c);
        });
    }
    ~Hangup() {
        shutdown(fd_, SHUT_RDWR);  // wakes accept() if nothing connected
        thread_.join();
        close(fd_);
    }
    unsigned port() const { return port_; }

private:
    int fd_;
    unsigned port_ = 0;
    std::thread thread_;
};

}  // namespace

class DbErrorsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(DbErrorsTest);
    CPPUNIT_TEST(galera_and_connection_errors_are_unavailable);
    CPPUNIT_TEST(conflicts_are_retryable_not_unavailable);
    CPPUNIT_TEST(causes_name_the_real_problem);
    CPPUNIT_TEST(backoff_grows_and_counts_retries);
    CPPUNIT_TEST(walk_tries_every_host_then_reports_each);
    CPPUNIT_TEST(walk_reports_the_host_that_was_reached);
    CPPUNIT_TEST(a_transaction_is_not_retried_when_the_server_is_unreachable);
    CPPUNIT_TEST(throttle_counts_what_it_held_back);
    CPPUNIT_TEST(worker_metrics_export_the_retries);
    CPPUNIT_TEST_SUITE_END();

public:
    void galera_and_connection_errors_are_unavailable() {
        for (unsigned code : {1047u, 1180u, 2006u, 2013u, 2002u, 2003u, 1040u, 1053u, 1927u}) {
            CPPUNIT_ASSERT_MESSAGE(std::to_string(code), DbError(code, "x").unavailable());
            CPPUNIT_ASSERT_MESSAGE(std::to_string(code), !DbError(code, "x").retryable());
        }
        for (unsigned code : {0u, 1045u, 1062u, 1146u, 1213u, 1205u})
            CPPUNIT_ASSERT_MESSAGE(std::to_string(code), !DbError(code, "x").unavailable());
    }

    void conflicts_are_retryable_not_unavailable() {
        CPPUNIT_ASSERT(DbError(1213, "Deadlock found").retryable());  // also Galera's certification failure
        CPPUNIT_ASSERT(DbError(1205, "Lock wait timeout").retryable());
        CPPUNIT_ASSERT(!DbError(1062, "Duplicate").retryable());
        CPPUNIT_ASSERT(DbError(1062, "Duplicate").duplicate_key());
    }

    void causes_name_the_real_problem() {
        DbError np(1047, "query: WSREP has not yet prepared node for application use");
        CPPUNIT_ASSERT(np.cause().find("primary component") != std::string::npos);
        CPPUNIT_ASSERT(np.cause().find("error 1047") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(np.cause() + ": " + np.what(), np.explain());
        CPPUNIT_ASSERT(DbError(1180, "x").cause().find("commit") != std::string::npos);
        CPPUNIT_ASSERT(DbError(2013, "x").cause().find("lost") != std::string::npos);
        CPPUNIT_ASSERT(DbError(2006, "x").cause().find("gone away") != std::string::npos);
        CPPUNIT_ASSERT(DbError(2003, "x").cause().find("unreachable (error 2003)") != std::string::npos);
        CPPUNIT_ASSERT(DbError(1213, "x").cause().find("certification conflict") != std::string::npos);
        // no cause of its own: the message says it, and no schema hint is made up
        CPPUNIT_ASSERT_EQUAL(std::string(), DbError(1146, "x").cause());
        CPPUNIT_ASSERT_EQUAL(std::string("Table 'd.t' doesn't exist"), DbError(1146, "Table 'd.t' doesn't exist").explain());
    }

    void backoff_grows_and_counts_retries() {
        uint64_t before = wh::db_conflict_retries();
        auto t0 = Clock::now();
        wh::deadlock_backoff(2);  // 1-2 ms
        long long first = ms_since(t0);
        t0 = Clock::now();
        wh::deadlock_backoff(8);  // 64-128 ms
        long long last = ms_since(t0);
        CPPUNIT_ASSERT_EQUAL(before + 2, wh::db_conflict_retries());
        CPPUNIT_ASSERT_MESSAGE(std::to_string(first), first < 60);
        CPPUNIT_ASSERT_MESSAGE(std::to_string(last), last >= 64 && last < 1000);
        t0 = Clock::now();
        wh::deadlock_backoff(100);  // capped
        CPPUNIT_ASSERT(ms_since(t0) < 1000);
        // kTransactionAttempts retries sleep well inside the retry budget
        CPPUNIT_ASSERT(wh::kTransactionAttempts > 3);
        CPPUNIT_ASSERT(2 * 128 * (wh::kTransactionAttempts - 1) < wh::kTransactionRetryBudget.count());
    }

    void walk_tries_every_host_then_reports_each() {
        wh::Db db(refusing("127.0.0.1:1,127.0.0.1:2"));
        auto t0 = Clock::now();
        try {
            db.connect();
            CPPUNIT_FAIL("expected DbError");
        } catch (const DbError& e) {
            std::string what = e.what();
            CPPUNIT_ASSERT_MESSAGE(what, e.unavailable());
            CPPUNIT_ASSERT_MESSAGE(what, e.no_server());
            CPPUNIT_ASSERT_MESSAGE(what, what.find("127.0.0.1:1:") != std::string::npos);
            CPPUNIT_ASSERT_MESSAGE(what, what.find("127.0.0.1:2:") != std::string::npos);
        }
        CPPUNIT_ASSERT(ms_since(t0) < 2000);  // refused at once: no timeout spent
        CPPUNIT_ASSERT(!db.connected());
        CPPUNIT_ASSERT_EQUAL(std::string(), db.host());
        // asking for synced reads without a connection only remembers it
        db.sync_reads(true);
        CPPUNIT_ASSERT(!db.connected());
    }

    // A refusing first host and a second that takes the connection and drops it: the error
    // is the second's (a server is there), so a caller can tell a stall from no server.
    void walk_reports_the_host_that_was_reached() {
        Hangup reached;
        wh::Db db(refusing("127.0.0.1:1,127.0.0.1:" + std::to_string(reached.port())));
        try {
            db.connect();
            CPPUNIT_FAIL("expected DbError");
        } catch (const DbError& e) {
            CPPUNIT_ASSERT_MESSAGE(e.what(), e.unavailable());
            CPPUNIT_ASSERT_MESSAGE(e.what(), !e.no_server());
        }
    }

    void a_transaction_is_not_retried_when_the_server_is_unreachable() {
        wh::Db db(refusing("127.0.0.1:1"));
        uint64_t before = wh::db_conflict_retries();
        int runs = 0;
        try {
            wh::with_transaction(db, [&](wh::Db&) { ++runs; });
            CPPUNIT_FAIL("expected DbError");
        } catch (const DbError& e) {
            CPPUNIT_ASSERT(e.unavailable());
        }
        CPPUNIT_ASSERT_EQUAL(0, runs);
        CPPUNIT_ASSERT_EQUAL(before, wh::db_conflict_retries());
    }

    void throttle_counts_what_it_held_back() {
        wh::Throttle<unsigned> t(std::chrono::seconds(10));
        auto t0 = wh::Throttle<unsigned>::Clock::time_point{} + std::chrono::seconds(100);
        uint64_t skipped = 99;
        CPPUNIT_ASSERT(t.allow(1047, t0, &skipped));
        CPPUNIT_ASSERT_EQUAL(uint64_t(0), skipped);
        CPPUNIT_ASSERT(!t.allow(1047, t0 + std::chrono::seconds(1)));
        CPPUNIT_ASSERT(!t.allow(1047, t0 + std::chrono::seconds(2)));
        CPPUNIT_ASSERT(t.allow(2013, t0 + std::chrono::seconds(2)));  // another cause: its own line
        CPPUNIT_ASSERT(t.allow(1047, t0 + std::chrono::seconds(10), &skipped));
        CPPUNIT_ASSERT_EQUAL(uint64_t(2), skipped);
    }

    void worker_metrics_export_the_retries() {
        wh::deadlock_backoff(2);
        std::string t = wh::worker::WorkerMetrics().render();
        std::string line = "\nwebhook_worker_db_conflict_retries_total " + std::to_string(wh::db_conflict_retries()) + "\n";
        CPPUNIT_ASSERT_MESSAGE(t, t.find(line) != std::string::npos);
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(DbErrorsTest, "db_errors");

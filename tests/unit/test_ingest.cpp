// Event ingestion pieces that need no server: the data nesting limit and echo cap of the
// events validator, the wake-up datagram (sender -> listener over loopback UDP; the
// coalescer that merges them under load), and the
// prepared-statement path's failure handling when MariaDB is unreachable, and what a lost
// commit needs: public ids made before the INSERT, and which errors leave its outcome unknown.
#include <cppunit/extensions/HelperMacros.h>

#include <poll.h>

#include <chrono>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "db.hpp"
#include "store.hpp"
#include "validate.hpp"
#include "wakeup.hpp"

using namespace wh::api;

namespace {

wh::JsonPtr parse(const std::string& text) {
    std::string err;
    wh::JsonPtr j = parse_json_body(text, err);
    if (!j) throw std::runtime_error("test JSON does not parse: " + err);
    return j;
}

std::string nested(size_t levels) {  // data object with `levels` levels in total
    std::string open, close;
    for (size_t i = 1; i < levels; ++i) {
        open += i % 2 ? "{\"a\":" : "[";
        close = (i % 2 ? "}" : "]") + close;
    }
    return "{\"x\":" + open + "1" + close + "}";
}

FieldErrors events(const std::string& data, std::vector<EventInput>& out) {
    bool is_array = false;
    wh::JsonPtr j = parse("{\"eventCode\":\"billing.subscription-created\",\"resellerId\":\"r-1\","
                          "\"portfolioId\":\"p-1\",\"data\":" + data + "}");
    return validate_events(j.get(), "", {"billing.subscription-created"}, out, is_array);
}

}  // namespace

class IngestTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(IngestTest);
    CPPUNIT_TEST(data_nesting_limit_is_32_levels);
    CPPUNIT_TEST(unknown_code_is_echoed_shortened);
    CPPUNIT_TEST(data_is_stored_compact_with_short_reals);
    CPPUNIT_TEST(host_port_parsing);
    CPPUNIT_TEST(datagram_reaches_the_listener);
    CPPUNIT_TEST(sender_to_nobody_does_not_fail);
    CPPUNIT_TEST(coalescer_merges_bursts_and_sends_after_the_last);
    CPPUNIT_TEST(coalescer_sends_what_is_pending_when_stopped);
    CPPUNIT_TEST(prepared_path_reports_unreachable_server);
    CPPUNIT_TEST(event_ids_are_made_before_the_insert);
    CPPUNIT_TEST(only_a_broken_connection_leaves_a_commit_unknown);
    CPPUNIT_TEST(refused_connection_is_not_a_lost_commit);
    CPPUNIT_TEST_SUITE_END();

public:
    void data_nesting_limit_is_32_levels() {
        std::vector<EventInput> out;
        CPPUNIT_ASSERT(events(nested(kMaxDataDepth), out).empty());
        CPPUNIT_ASSERT_EQUAL(size_t(1), out.size());
        FieldErrors errs = events(nested(kMaxDataDepth + 1), out);
        CPPUNIT_ASSERT_EQUAL(size_t(1), errs.size());
        CPPUNIT_ASSERT_EQUAL(std::string("data"), errs[0].field);
        CPPUNIT_ASSERT(out.empty());
        CPPUNIT_ASSERT_EQUAL(size_t(1), events(nested(500), out).size());
    }

    void data_is_stored_compact_with_short_reals() {
        std::vector<EventInput> out;
        CPPUNIT_ASSERT(events("{ \"b\" : 0.1, \"a\": [1e2, -2.5e-7, 12345678901234567, 0.30000000000000004],"
                              " \"s\": \"\u00e9\\n'; DROP TABLE x;--\", \"n\": null, \"t\": true}",
                              out).empty());
        CPPUNIT_ASSERT_EQUAL(std::string("{\"b\":0.1,\"a\":[100.0,-2.5e-07,12345678901234567,"
                                         "0.30000000000000004],\"s\":\"\xc3\xa9\\n'; DROP TABLE x;--\","
                                         "\"n\":null,\"t\":true}"),
                             out.at(0).data_json);
    }

    void unknown_code_is_echoed_shortened() {
        std::vector<EventInput> out;
        bool is_array;
        std::string code(5000, 'x');
        code += "\xc3\xa9";
        wh::JsonPtr j = parse("{\"eventCode\":\"" + std::string(63, 'y') + "\xc3\xa9" + code +
                              "\",\"resellerId\":\"r\",\"portfolioId\":\"p\",\"data\":{}}");
        FieldErrors errs = validate_events(j.get(), "", {"a.b"}, out, is_array);
        CPPUNIT_ASSERT_EQUAL(size_t(1), errs.size());
        CPPUNIT_ASSERT(errs[0].message.size() < 200);
        // cut before the two-byte character, not inside it
        CPPUNIT_ASSERT(errs[0].message.find(std::string(63, 'y') + "...") != std::string::npos);
    }

    void host_port_parsing() {
        std::string h, p;
        CPPUNIT_ASSERT_EQUAL(std::string(), wh::split_host_port("127.0.0.1:8499", h, p));
        CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1"), h);
        CPPUNIT_ASSERT_EQUAL(std::string("8499"), p);
        CPPUNIT_ASSERT_EQUAL(std::string(), wh::split_host_port("[::1]:1", h, p));
        CPPUNIT_ASSERT_EQUAL(std::string("::1"), h);
        CPPUNIT_ASSERT_EQUAL(std::string(), wh::split_host_port("worker.internal:9", h, p));
        for (const char* bad : {"127.0.0.1", ":80", "h:", "h:65536", "h:8x", "::1:80", "[::1]80", ""})
            CPPUNIT_ASSERT_MESSAGE(bad, !wh::split_host_port(bad, h, p).empty());
    }

    void datagram_reaches_the_listener() {
        wh::WakeupListener l;
        CPPUNIT_ASSERT_EQUAL(std::string(), l.open("127.0.0.1:0"));
        CPPUNIT_ASSERT(l.fd() >= 0 && l.port() > 0);
        CPPUNIT_ASSERT_EQUAL(size_t(0), l.drain());
        wh::WakeupSender s;
        CPPUNIT_ASSERT_EQUAL(std::string(), s.open({"127.0.0.1:" + std::to_string(l.port())}));
        CPPUNIT_ASSERT_EQUAL(size_t(1), s.send());
        CPPUNIT_ASSERT_EQUAL(size_t(1), s.send());
        pollfd pfd{l.fd(), POLLIN, 0};
        CPPUNIT_ASSERT_EQUAL(1, poll(&pfd, 1, 2000));
        size_t got = 0;
        for (int i = 0; i < 20 && got < 2; ++i) {
            got += l.drain();
            if (got < 2) poll(&pfd, 1, 100);
        }
        CPPUNIT_ASSERT_EQUAL(size_t(2), got);
        // A second listener on the same port is refused (the worker then warns WH00160).
        wh::WakeupListener twice;
        CPPUNIT_ASSERT(!twice.open("127.0.0.1:" + std::to_string(l.port())).empty());
    }

    void sender_to_nobody_does_not_fail() {
        wh::WakeupSender s;
        CPPUNIT_ASSERT(!s.open({"no-such-host.invalid:9", "127.0.0.1:9"}).empty());  // the name fails
        CPPUNIT_ASSERT(!s.empty());                                                     // the address stays
        s.send();  // nobody listens on 9/udp: no exception, no block
        s.send();
    }

    // Datagrams that reach l within timeout_ms (0 when none).
    static size_t await_datagrams(wh::WakeupListener& l, int timeout_ms) {
        pollfd pfd{l.fd(), POLLIN, 0};
        if (poll(&pfd, 1, timeout_ms) != 1) return 0;
        return l.drain();
    }

    static std::unique_ptr<wh::WakeupSender> sender_to(const wh::WakeupListener& l) {
        auto s = std::make_unique<wh::WakeupSender>();
        CPPUNIT_ASSERT_EQUAL(std::string(), s->open({"127.0.0.1:" + std::to_string(l.port())}));
        return s;
    }

    void coalescer_merges_bursts_and_sends_after_the_last() {
        wh::WakeupListener l;
        CPPUNIT_ASSERT_EQUAL(std::string(), l.open("127.0.0.1:0"));
        wh::WakeupCoalescer c(sender_to(l), std::chrono::milliseconds(200));
        // After a quiet spell the first notify goes out at once (well before the gap ends).
        auto t0 = std::chrono::steady_clock::now();
        c.notify();
        CPPUNIT_ASSERT_EQUAL(size_t(1), await_datagrams(l, 150));
        CPPUNIT_ASSERT(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(150));
        // A burst inside the gap, from several threads: one more datagram, when the gap ends.
        std::vector<std::thread> ts;
        for (int t = 0; t < 4; ++t)
            ts.emplace_back([&c] {
                for (int i = 0; i < 5000; ++i) c.notify();
            });
        for (auto& t : ts) t.join();
        size_t got = await_datagrams(l, 2000);
        CPPUNIT_ASSERT(got >= 1);
        for (size_t more; (more = await_datagrams(l, 400)) > 0;) got += more;  // a burst that spanned a gap
        CPPUNIT_ASSERT_MESSAGE("20000 notifies must share a few datagrams", got <= 3);
        CPPUNIT_ASSERT_EQUAL(c.rounds(), got + 1);
        // Quiet again: nothing pending, nothing sent.
        CPPUNIT_ASSERT_EQUAL(size_t(0), await_datagrams(l, 300));
        c.notify();
        CPPUNIT_ASSERT_EQUAL(size_t(1), await_datagrams(l, 2000));
    }

    void coalescer_sends_what_is_pending_when_stopped() {
        wh::WakeupListener l;
        CPPUNIT_ASSERT_EQUAL(std::string(), l.open("127.0.0.1:0"));
        auto t0 = std::chrono::steady_clock::now();
        {
            wh::WakeupCoalescer c(sender_to(l), std::chrono::seconds(30));
            c.notify();
            CPPUNIT_ASSERT_EQUAL(size_t(1), await_datagrams(l, 2000));
            c.notify();  // inside the 30 s gap: pending
        }  // the destructor sends it and does not wait for the gap
        CPPUNIT_ASSERT_EQUAL(size_t(1), await_datagrams(l, 2000));
        CPPUNIT_ASSERT(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
    }

    void prepared_path_reports_unreachable_server() {
        wh::DbConfig cfg;
        cfg.port = 1;  // nothing listens: connection refused at once
        cfg.user = "u";
        cfg.database = "d";
        cfg.connect_timeout = 1;
        wh::Db db(cfg);
        try {
            db.query_prepared("SELECT ?", {std::string("x")});
            CPPUNIT_FAIL("expected DbError");
        } catch (const wh::DbError& e) {
            CPPUNIT_ASSERT(e.unavailable());
        }
        CPPUNIT_ASSERT(!db.connected());
        CPPUNIT_ASSERT_EQUAL(size_t(0), db.prepared_count());
    }

    // The column default's format (sql/001_schema.sql), 96 random bits: never the same twice.
    void event_ids_are_made_before_the_insert() {
        const std::regex format("evt_[0-9a-f]{24}");
        std::set<std::string> seen;
        for (int i = 0; i < 1000; ++i) {
            std::string id = new_event_id();
            CPPUNIT_ASSERT_MESSAGE(id, std::regex_match(id, format));
            seen.insert(id);
        }
        CPPUNIT_ASSERT_EQUAL(size_t(1000), seen.size());
    }

    void only_a_broken_connection_leaves_a_commit_unknown() {
        for (unsigned code : {2013u, 2006u, 2055u})
            CPPUNIT_ASSERT_MESSAGE(std::to_string(code), commit_outcome_unknown(wh::DbError(code, "lost")));
        // answers from the server, and connections that never carried the statement
        for (unsigned code : {1062u, 1213u, 1205u, 1047u, 2002u, 2003u, 1040u})
            CPPUNIT_ASSERT_MESSAGE(std::to_string(code), !commit_outcome_unknown(wh::DbError(code, "answer")));
    }

    // No connection: the statement never left, so the error is passed on as it is (503).
    void refused_connection_is_not_a_lost_commit() {
        wh::DbConfig cfg;
        cfg.host = "127.0.0.1";
        cfg.port = 1;
        cfg.user = "u";
        cfg.database = "d";
        cfg.connect_timeout = 1;
        wh::Db db(cfg);
        EventInput e;
        e.event_code = "billing.subscription-created";
        e.reseller_id = "r-1";
        e.portfolio_id = "p-1";
        e.data_json = "{}";
        for (size_t n : {size_t(1), size_t(3)}) {
            try {
                insert_events(db, std::vector<EventInput>(n, e));
                CPPUNIT_FAIL("expected DbError");
            } catch (const wh::DbError& err) {
                CPPUNIT_ASSERT(err.unavailable() && !commit_outcome_unknown(err));
            }
        }
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(IngestTest, "ingest");

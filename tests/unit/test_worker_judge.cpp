// Judging receiver replies (docs/contract.md §5: what counts as an acknowledgement).
#include <cppunit/extensions/HelperMacros.h>
#include <curl/curl.h>

#include "judge.hpp"

using namespace wh::worker;

class WorkerJudgeTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WorkerJudgeTest);
    CPPUNIT_TEST(right_id_as_string);
    CPPUNIT_TEST(right_id_as_number);
    CPPUNIT_TEST(wrong_id);
    CPPUNIT_TEST(no_body);
    CPPUNIT_TEST(not_json);
    CPPUNIT_TEST(json_but_not_an_object);
    CPPUNIT_TEST(object_without_notification_id);
    CPPUNIT_TEST(every_2xx_counts_with_the_ack);
    CPPUNIT_TEST(status_mode_takes_any_2xx);
    CPPUNIT_TEST(redirects_fail_in_both_modes);
    CPPUNIT_TEST(client_and_server_errors_fail_even_with_the_ack);
    CPPUNIT_TEST(transport_errors_are_classified);
    CPPUNIT_TEST(ack_mode_parsing);
    CPPUNIT_TEST(sanitize_keeps_columns_safe);
    CPPUNIT_TEST(breaker_opens_after_n_timeouts);
    CPPUNIT_TEST(breaker_never_lengthens_the_timeout);
    CPPUNIT_TEST(timeout_count_follows_the_attempts);
    CPPUNIT_TEST_SUITE_END();

    static const std::string id() { return "ntf_0123456789abcdef01234567"; }

    static void assert_fails(const Verdict& v, const std::string& cls) {
        CPPUNIT_ASSERT(!v.success);
        CPPUNIT_ASSERT_EQUAL(cls, v.error_class);
        CPPUNIT_ASSERT(!v.message.empty());
    }

public:
    void right_id_as_string() {
        Verdict v = judge_response(AckMode::notification_id, id(), 200,
                                   "{\"notificationId\":\"" + id() + "\"}");
        CPPUNIT_ASSERT(v.success);
        CPPUNIT_ASSERT(v.error_class.empty());
        // whitespace, other members and a trailing newline do not matter
        CPPUNIT_ASSERT(judge_response(AckMode::notification_id, id(), 200,
                                      " {\"ok\": true,\n \"notificationId\" : \"" + id() + "\"}\n")
                           .success);
    }

    void right_id_as_number() {
        CPPUNIT_ASSERT(judge_response(AckMode::notification_id, "272638", 200, "{\"notificationId\":272638}").success);
        CPPUNIT_ASSERT(judge_response(AckMode::notification_id, "272638", 200, "{\"notificationId\":\"272638\"}").success);
        CPPUNIT_ASSERT(judge_response(AckMode::notification_id, "272638", 200, "{\"notificationId\":272638.0}").success);
        assert_fails(judge_response(AckMode::notification_id, "272638", 200, "{\"notificationId\":272639}"), "wrong-ack");
        assert_fails(judge_response(AckMode::notification_id, "272638", 200, "{\"notificationId\":272638.5}"), "wrong-ack");
    }

    void wrong_id() {
        Verdict v = judge_response(AckMode::notification_id, id(), 200, "{\"notificationId\":\"ntf_other\"}");
        assert_fails(v, "wrong-ack");
        CPPUNIT_ASSERT(v.message.find("ntf_other") != std::string::npos);
        // a prefix or different case is not the id
        assert_fails(judge_response(AckMode::notification_id, id(), 200,
                                    "{\"notificationId\":\"" + id().substr(0, 10) + "\"}"), "wrong-ack");
        assert_fails(judge_response(AckMode::notification_id, "ntf_ab", 200, "{\"notificationId\":\"NTF_AB\"}"),
                     "wrong-ack");
        assert_fails(judge_response(AckMode::notification_id, id(), 200, "{\"notificationId\":null}"), "wrong-ack");
        assert_fails(judge_response(AckMode::notification_id, id(), 200, "{\"notificationId\":true}"), "wrong-ack");
    }

    void no_body() {
        assert_fails(judge_response(AckMode::notification_id, id(), 200, ""), "no-ack");
        assert_fails(judge_response(AckMode::notification_id, id(), 204, ""), "no-ack");
        assert_fails(judge_response(AckMode::notification_id, id(), 200, " \r\n"), "no-ack");
    }

    void not_json() {
        assert_fails(judge_response(AckMode::notification_id, id(), 200, "OK"), "no-ack");
        assert_fails(judge_response(AckMode::notification_id, id(), 200, "{\"notificationId\":\"" + id() + "\""),
                     "no-ack");  // truncated
        assert_fails(judge_response(AckMode::notification_id, id(), 200, "<html>" + id() + "</html>"), "no-ack");
    }

    void json_but_not_an_object() {
        assert_fails(judge_response(AckMode::notification_id, id(), 200, "\"" + id() + "\""), "no-ack");
        assert_fails(judge_response(AckMode::notification_id, id(), 200, "[{\"notificationId\":\"" + id() + "\"}]"),
                     "no-ack");
        assert_fails(judge_response(AckMode::notification_id, "1", 200, "1"), "no-ack");
    }

    void object_without_notification_id() {
        assert_fails(judge_response(AckMode::notification_id, id(), 200, "{}"), "no-ack");
        assert_fails(judge_response(AckMode::notification_id, id(), 200, "{\"received\":true}"), "no-ack");
        // the id nested deeper is not an acknowledgement
        assert_fails(judge_response(AckMode::notification_id, id(), 200,
                                    "{\"data\":{\"notificationId\":\"" + id() + "\"}}"), "no-ack");
    }

    void every_2xx_counts_with_the_ack() {
        std::string ack = "{\"notificationId\":\"" + id() + "\"}";
        for (long s : {200L, 201L, 202L, 299L})
            CPPUNIT_ASSERT(judge_response(AckMode::notification_id, id(), s, ack).success);
    }

    void status_mode_takes_any_2xx() {
        for (long s : {200L, 202L, 204L, 299L}) {
            Verdict v = judge_response(AckMode::status, id(), s, "");
            CPPUNIT_ASSERT(v.success);
            CPPUNIT_ASSERT(judge_response(AckMode::status, id(), s, "not json at all").success);
            CPPUNIT_ASSERT(judge_response(AckMode::status, id(), s, "{\"notificationId\":\"x\"}").success);
        }
        assert_fails(judge_response(AckMode::status, id(), 199, ""), "http-status");
        assert_fails(judge_response(AckMode::status, id(), 500, ""), "http-status");
    }

    void redirects_fail_in_both_modes() {
        std::string ack = "{\"notificationId\":\"" + id() + "\"}";
        for (long s : {300L, 301L, 302L, 303L, 307L, 308L}) {
            assert_fails(judge_response(AckMode::notification_id, id(), s, ack), "redirect");
            assert_fails(judge_response(AckMode::status, id(), s, ""), "redirect");
        }
    }

    void client_and_server_errors_fail_even_with_the_ack() {
        std::string ack = "{\"notificationId\":\"" + id() + "\"}";
        for (long s : {400L, 401L, 404L, 409L, 410L, 429L, 500L, 502L, 503L, 504L}) {
            Verdict v = judge_response(AckMode::notification_id, id(), s, ack);
            assert_fails(v, "http-status");
            CPPUNIT_ASSERT(v.message.find(std::to_string(s)) != std::string::npos);
            assert_fails(judge_response(AckMode::status, id(), s, ack), "http-status");
        }
        assert_fails(judge_response(AckMode::notification_id, id(), 100, ack), "http-status");
    }

    void transport_errors_are_classified() {
        assert_fails(judge_transport_error(CURLE_OPERATION_TIMEDOUT, "Operation timed out after 15000 ms", false),
                     "timeout");
        assert_fails(judge_transport_error(CURLE_COULDNT_CONNECT, "", false), "connect");
        assert_fails(judge_transport_error(CURLE_COULDNT_RESOLVE_HOST, "", false), "connect");
        assert_fails(judge_transport_error(CURLE_PEER_FAILED_VERIFICATION, "", false), "tls");
        assert_fails(judge_transport_error(CURLE_SSL_CONNECT_ERROR, "", false), "tls");
        assert_fails(judge_transport_error(CURLE_GOT_NOTHING, "", false), "network");
        assert_fails(judge_transport_error(CURLE_UNSUPPORTED_PROTOCOL, "", false), "bad-url");
        assert_fails(judge_transport_error(CURLE_URL_MALFORMAT, "", false), "bad-url");
        // a reply without a status line (what libcurl 7.88 says for it), and a malformed one
        assert_fails(judge_transport_error(CURLE_UNSUPPORTED_PROTOCOL, "Received HTTP/0.9 when not allowed", false),
                     "bad-reply");
        assert_fails(judge_transport_error(CURLE_WEIRD_SERVER_REPLY, "Unsupported HTTP version in response", false),
                     "bad-reply");
        // reply headers over libcurl's 100 KiB cap: "Out of memory" before libcurl 8.6
        Verdict big = judge_transport_error(CURLE_OUT_OF_MEMORY, "", false);
        assert_fails(big, "header-too-large");
        CPPUNIT_ASSERT(big.message.find("headers are larger") != std::string::npos);
        CPPUNIT_ASSERT(big.message.find("Out of memory") == std::string::npos);
        // many headers over 300 KiB in all (libcurl 7.88+)
        Verdict many = judge_transport_error(CURLE_RECV_ERROR, "Too large response headers: 307957 > 307200", false);
        assert_fails(many, "header-too-large");
        assert_fails(judge_transport_error(CURLE_RECV_ERROR, "Connection reset by peer", false), "network");
        CPPUNIT_ASSERT(judge_transport_error(CURLE_UNSUPPORTED_PROTOCOL, "Received HTTP/0.9 when not allowed", false)
                           .message.find("no HTTP status line") != std::string::npos);
        // the policy's refusal wins over the connect error libcurl reports for it; the
        // address is the worker log's (WH00120), not the integrator's
        Verdict b = judge_transport_error(CURLE_COULDNT_CONNECT, "", true);
        assert_fails(b, "blocked-target");
        CPPUNIT_ASSERT(b.message.find("not an allowed target") != std::string::npos);
        // curl's own text is used when there is no error buffer
        CPPUNIT_ASSERT(!judge_transport_error(CURLE_COULDNT_CONNECT, "", false).message.empty());
        CPPUNIT_ASSERT_EQUAL(std::string("boom"), judge_transport_error(CURLE_RECV_ERROR, "boom", false).message);
        // a code outside the CURLcode enum (found by fuzz/fuzz_judge: UB before) is "other"
        assert_fails(judge_transport_error(229, "", false), "other");
        assert_fails(judge_transport_error(-1, "", false), "other");
        CPPUNIT_ASSERT_EQUAL(std::string("libcurl error 229"), judge_transport_error(229, "", false).message);
    }

    void ack_mode_parsing() {
        CPPUNIT_ASSERT(parse_ack_mode("status") == AckMode::status);
        CPPUNIT_ASSERT(parse_ack_mode("notification-id") == AckMode::notification_id);
        CPPUNIT_ASSERT(parse_ack_mode("") == AckMode::notification_id);
        CPPUNIT_ASSERT(parse_ack_mode("STATUS") == AckMode::notification_id);
    }

    void sanitize_keeps_columns_safe() {
        CPPUNIT_ASSERT_EQUAL(std::string("a?b?c"), sanitize_text("a\nb\xff" "c", 100));
        CPPUNIT_ASSERT_EQUAL(std::string("abc"), sanitize_text("abcdef", 3));
        CPPUNIT_ASSERT_EQUAL(size_t(512), sanitize_text(std::string(2000, 'x'), 512).size());
        // a wrong-ack message quoting a huge reply stays within the column
        Verdict v = judge_response(AckMode::notification_id, id(), 200,
                                   "{\"notificationId\":\"" + std::string(5000, 'z') + "\"}");
        CPPUNIT_ASSERT(v.message.size() <= 512);
    }

    void breaker_opens_after_n_timeouts() {
        Breaker b;  // defaults: 5 timeouts in a row, then 5 s
        CPPUNIT_ASSERT_EQUAL(5u, b.after);
        CPPUNIT_ASSERT(!b.open(4));
        CPPUNIT_ASSERT(b.open(5));
        CPPUNIT_ASSERT(b.open(500));
        CPPUNIT_ASSERT_EQUAL(8u, b.cap(8, 4));
        CPPUNIT_ASSERT_EQUAL(1u, b.cap(8, 5));
        CPPUNIT_ASSERT_EQUAL(15000L, b.request_timeout_ms(15000, 4));
        CPPUNIT_ASSERT_EQUAL(5000L, b.request_timeout_ms(15000, 5));
        b.after = 0;  // off
        CPPUNIT_ASSERT(!b.open(1000000));
        CPPUNIT_ASSERT_EQUAL(8u, b.cap(8, 1000000));
        CPPUNIT_ASSERT_EQUAL(15000L, b.request_timeout_ms(15000, 1000000));
    }

    void breaker_never_lengthens_the_timeout() {
        Breaker b;
        b.after = 2;
        b.timeout_ms = 5000;
        CPPUNIT_ASSERT_EQUAL(3000L, b.request_timeout_ms(3000, 2));
        CPPUNIT_ASSERT_EQUAL(1u, b.cap(1, 2));
    }

    void timeout_count_follows_the_attempts() {
        TimeoutCount t;
        t.attempt(true, false);
        t.attempt(true, false);
        CPPUNIT_ASSERT(!t.reset);
        CPPUNIT_ASSERT_EQUAL(2u, t.add);
        CPPUNIT_ASSERT(t.changes(0));
        t.attempt(false, false);  // refused, TLS, …: no slot time spent, no change
        CPPUNIT_ASSERT_EQUAL(2u, t.add);
        t.attempt(false, true);  // any HTTP reply: back to 0
        CPPUNIT_ASSERT(t.reset);
        CPPUNIT_ASSERT_EQUAL(0u, t.add);
        CPPUNIT_ASSERT(t.changes(7));
        CPPUNIT_ASSERT(!t.changes(0));  // already 0: nothing to write
        t.attempt(true, false);  // a timeout after the reply counts from 0
        CPPUNIT_ASSERT(t.reset);
        CPPUNIT_ASSERT_EQUAL(1u, t.add);
        CPPUNIT_ASSERT(t.changes(0));
        TimeoutCount none;
        none.attempt(false, false);
        CPPUNIT_ASSERT(!none.changes(3));
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(WorkerJudgeTest, "worker_judge");

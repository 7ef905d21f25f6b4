// Keeping the credentials the worker sent out of the stored reply excerpt (redact.hpp).
#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>

#include "crypto.hpp"
#include "redact.hpp"

using namespace wh::worker;

class WorkerRedactTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WorkerRedactTest);
    CPPUNIT_TEST(forms_cover_every_credential_sent);
    CPPUNIT_TEST(echoed_request_headers_keep_no_credential);
    CPPUNIT_TEST(escaped_forms_are_redacted);
    CPPUNIT_TEST(overlapping_credentials_leave_no_piece);
    CPPUNIT_TEST(a_cut_leaves_no_start_of_a_credential);
    CPPUNIT_TEST(replies_without_credentials_are_only_cut);
    CPPUNIT_TEST_SUITE_END();

    const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const std::string user = "hook-user", password = "pa/ss\"word-42";

    std::vector<std::string> forms() const { return credential_forms({secret}, user, password); }

    static bool has(const std::vector<std::string>& v, const std::string& s) {
        return std::find(v.begin(), v.end(), s) != v.end();
    }

    static void assert_absent(const std::string& text, const std::string& needle) {
        CPPUNIT_ASSERT_MESSAGE(needle + " in " + text, text.find(needle) == std::string::npos);
    }

public:
    void forms_cover_every_credential_sent() {
        auto f = forms();
        CPPUNIT_ASSERT(has(f, secret));
        CPPUNIT_ASSERT(has(f, secret.substr(6)));  // the key's base64, without the prefix
        CPPUNIT_ASSERT(has(f, password));
        CPPUNIT_ASSERT(has(f, user + ":" + password));
        CPPUNIT_ASSERT(has(f, wh::base64_encode(user + ":" + password)));  // the Basic value
        CPPUNIT_ASSERT(!has(f, ""));
        CPPUNIT_ASSERT(!has(f, user));  // a user name alone is no credential
        for (size_t i = 1; i < f.size(); ++i) CPPUNIT_ASSERT(f[i - 1].size() >= f[i].size() && f[i - 1] != f[i]);
        // without Basic auth: the secrets only (the former one too, during a rotation)
        auto s = credential_forms({secret, "whsec_b2xkb2xkb2xkb2xk"}, std::nullopt, std::nullopt);
        CPPUNIT_ASSERT(has(s, "whsec_b2xkb2xkb2xkb2xk") && has(s, "b2xkb2xkb2xkb2xk") && !has(s, password));
    }

    void echoed_request_headers_keep_no_credential() {
        std::string basic = wh::base64_encode(user + ":" + password);
        std::string reply = "POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic " + basic +
                            "\r\nwebhook-id: ntf_1\r\nX-Debug-Secret: " + secret + "\r\nX-Password: " + password +
                            "\r\n\r\n{\"key\":\"" + secret.substr(6) + "\"}";
        std::string out = redact_excerpt(reply, forms(), 4096, false);
        for (const auto& f : forms()) assert_absent(out, f);
        CPPUNIT_ASSERT(out.find("Authorization: Basic [redacted]\r\n") != std::string::npos);
        CPPUNIT_ASSERT(out.find("X-Debug-Secret: [redacted]\r\n") != std::string::npos);
        CPPUNIT_ASSERT(out.find("{\"key\":\"[redacted]\"}") != std::string::npos);
        CPPUNIT_ASSERT(out.find("webhook-id: ntf_1") != std::string::npos);  // the rest stays
    }

    void escaped_forms_are_redacted() {
        std::string json = "{\"password\": \"pa\\/ss\\\"word-42\", \"p2\": \"pa/ss\\\"word-42\"}";
        std::string out = redact_excerpt(json, forms(), 4096, false);
        CPPUNIT_ASSERT_EQUAL(std::string("{\"password\": \"[redacted]\", \"p2\": \"[redacted]\"}"), out);
        std::string query = "echo?pw=pa%2Fss%22word-42&x=1";
        CPPUNIT_ASSERT_EQUAL(std::string("echo?pw=[redacted]&x=1"), redact_excerpt(query, forms(), 4096, false));
        // a password with a line break, echoed as JSON serializers write it ("\n")
        auto nl = credential_forms({}, std::string("u"), std::string("line1\nline2"));
        CPPUNIT_ASSERT_EQUAL(std::string("{\"pw\": \"[redacted]\"}"),
                             redact_excerpt("{\"pw\": \"line1\\nline2\"}", nl, 4096, false));
    }

    void overlapping_credentials_leave_no_piece() {
        // "user:password" contains the password: one mark for the whole run
        std::string out = redact_excerpt("<" + user + ":" + password + ">", forms(), 4096, false);
        CPPUNIT_ASSERT_EQUAL(std::string("<[redacted]>"), out);
        auto f = credential_forms({}, std::string("u"), std::string("abcab"));
        CPPUNIT_ASSERT_EQUAL(std::string("x[redacted]y"), redact_excerpt("xabcabcaby", f, 4096, false));
    }

    void a_cut_leaves_no_start_of_a_credential() {
        std::string head(100, 'a');
        // cut inside the secret by max: the whole occurrence was seen, so it is marked
        std::string out = redact_excerpt(head + secret + "tail", forms(), 110, false);
        CPPUNIT_ASSERT_EQUAL(head + std::string("[redacted]"), out);
        // the reply itself was cut (64 KiB) inside a credential: its start is dropped
        out = redact_excerpt(head + secret.substr(0, 20), forms(), 4096, true);
        CPPUNIT_ASSERT_EQUAL(head, out);
        out = redact_excerpt(head + password.substr(0, 5), forms(), 4096, true);
        CPPUNIT_ASSERT_EQUAL(head, out);
        // a cut by max just before a credential's first bytes
        out = redact_excerpt(head + wh::base64_encode(user + ":" + password), forms(), 104, false);
        CPPUNIT_ASSERT_EQUAL(head.substr(0, 100) + "[red", out);
    }

    void replies_without_credentials_are_only_cut() {
        std::string reply = "{\"notificationId\": \"ntf_1\"}";
        CPPUNIT_ASSERT_EQUAL(reply, redact_excerpt(reply, forms(), 4096, false));
        CPPUNIT_ASSERT_EQUAL(reply.substr(0, 9), redact_excerpt(reply, forms(), 9, false));
        // a cut ending in what could start a credential ("a…": the Basic value) drops it
        CPPUNIT_ASSERT_EQUAL(reply.substr(0, 9), redact_excerpt(reply, forms(), 10, false));
        CPPUNIT_ASSERT_EQUAL(reply.substr(0, 10), redact_excerpt(reply, {}, 10, true));
        CPPUNIT_ASSERT_EQUAL(std::string(), redact_excerpt("", forms(), 4096, false));
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(WorkerRedactTest, "worker_redact");

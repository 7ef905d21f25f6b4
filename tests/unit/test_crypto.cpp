#include <cppunit/extensions/HelperMacros.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>

#include "crypto.hpp"

using namespace wh;

class CryptoTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(CryptoTest);
    CPPUNIT_TEST(standard_webhooks_test_vector);
    CPPUNIT_TEST(signature_header_lists_every_secret);
    CPPUNIT_TEST(signing_in_parts_equals_signing_the_whole);
    CPPUNIT_TEST(malformed_secret_throws);
    CPPUNIT_TEST(base64_round_trip_and_rejects_garbage);
    CPPUNIT_TEST(hex_of_every_byte);
    CPPUNIT_TEST(generated_secrets_are_32_random_bytes);
    CPPUNIT_TEST(secret_box_round_trip);
    CPPUNIT_TEST(secret_box_v2_is_bound_to_row_and_column);
    CPPUNIT_TEST(secret_box_reads_v1);
    CPPUNIT_TEST(secret_box_rejects_tampering_and_wrong_key);
    CPPUNIT_TEST(key_file_validation);
    CPPUNIT_TEST_SUITE_END();

    static SecretBox::Key key(unsigned char fill) {
        SecretBox::Key k;
        k.fill(fill);
        return k;
    }

public:
    // The Standard Webhooks specification's published vector: any receiver library that
    // verifies it verifies us.
    void standard_webhooks_test_vector() {
        CPPUNIT_ASSERT_EQUAL(std::string("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
                             sign_webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                          "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                          "{\"test\": 2432232314}"));
    }

    void signature_header_lists_every_secret() {
        std::string a = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        std::string b = generate_signing_secret();
        std::string h = signature_header({a, b}, "msg_1", 1700000000, "{}");
        CPPUNIT_ASSERT_EQUAL(sign_webhook(a, "msg_1", 1700000000, "{}") + " " +
                                 sign_webhook(b, "msg_1", 1700000000, "{}"),
                             h);
        CPPUNIT_ASSERT(sign_webhook(a, "msg_1", 1700000000, "{}") !=
                       sign_webhook(a, "msg_1", 1700000001, "{}"));
    }

    // RFC 4231 test case 2, and the body given in parts (as the worker signs it) signs the
    // same as the body in one piece.
    void signing_in_parts_equals_signing_the_whole() {
        std::string mac = hmac_sha256("Jefe", "what do ya want for nothing?");
        std::string hex;
        for (unsigned char c : mac) hex += "0123456789abcdef"[c >> 4], hex += "0123456789abcdef"[c & 15];
        CPPUNIT_ASSERT_EQUAL(std::string("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"), hex);
        CPPUNIT_ASSERT(mac == hmac_sha256("Jefe", std::vector<std::string_view>{"what do ", "", "ya want for nothing?"}));

        const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        CPPUNIT_ASSERT_EQUAL(std::string("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
                             sign_webhook(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                          std::vector<std::string_view>{"{\"test\"", ": 2432", "232314}"}));
        std::string big(1 << 20, 'x');
        std::string whole = "{\"a\":\"" + big + "\"}";
        std::string other = generate_signing_secret();
        CPPUNIT_ASSERT_EQUAL(signature_header({secret, other}, "msg_2", 1700000000, whole),
                             signature_header({secret, other}, "msg_2", 1700000000,
                                              std::vector<std::string_view>{"{\"a\":\"", big, "\"}"}));
    }

    void malformed_secret_throws() {
        CPPUNIT_ASSERT_THROW(sign_webhook("whsec_not*base64", "m", 1, "{}"), std::runtime_error);
    }

    void base64_round_trip_and_rejects_garbage() {
        for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
            std::string back;
            CPPUNIT_ASSERT(base64_decode(base64_encode(s), back));
            CPPUNIT_ASSERT(back == s);
        }
        CPPUNIT_ASSERT_EQUAL(std::string("YWJj"), base64_encode("abc"));
        std::string out;
        CPPUNIT_ASSERT(!base64_decode("YWJ", out));
        CPPUNIT_ASSERT(!base64_decode("YW J", out));
    }

    void hex_of_every_byte() {
        CPPUNIT_ASSERT_EQUAL(std::string(), wh::to_hex(""));
        CPPUNIT_ASSERT_EQUAL(std::string("00ff7c61"), wh::to_hex(std::string("\x00\xff|a", 4)));
        std::string h = wh::random_hex(12);
        CPPUNIT_ASSERT_EQUAL(size_t(24), h.size());
        CPPUNIT_ASSERT(h.find_first_not_of("0123456789abcdef") == std::string::npos);
    }

    void generated_secrets_are_32_random_bytes() {
        std::string s1 = generate_signing_secret(), s2 = generate_signing_secret();
        CPPUNIT_ASSERT(s1.rfind("whsec_", 0) == 0);
        std::string raw;
        CPPUNIT_ASSERT(base64_decode(s1.substr(6), raw));
        CPPUNIT_ASSERT_EQUAL(size_t(32), raw.size());
        CPPUNIT_ASSERT(s1 != s2);
    }

    void secret_box_round_trip() {
        SecretBox box(key(7));
        const std::string aad = credential_aad("password_enc", 42);
        CPPUNIT_ASSERT_EQUAL(std::string("webhook_endpoints.password_enc:42"), aad);
        std::string sealed = box.seal("p@ss:word", aad), back;
        CPPUNIT_ASSERT(sealed.rfind("v2:", 0) == 0);
        CPPUNIT_ASSERT(!SecretBox::is_v1(sealed));
        CPPUNIT_ASSERT(sealed.find("p@ss") == std::string::npos);
        CPPUNIT_ASSERT(box.open(sealed, aad, back));
        CPPUNIT_ASSERT_EQUAL(std::string("p@ss:word"), back);
        CPPUNIT_ASSERT(box.seal("x", aad) != box.seal("x", aad));  // fresh nonce every time
        CPPUNIT_ASSERT(box.open(box.seal("", aad), aad, back));
        CPPUNIT_ASSERT_EQUAL(std::string(), back);
        CPPUNIT_ASSERT_THROW(box.seal("x", ""), std::invalid_argument);
    }

    // A value sealed for one row and column does not open as another: copying secret_enc into
    // another endpoint's password_enc (or its own) gives nothing to send.
    void secret_box_v2_is_bound_to_row_and_column() {
        SecretBox box(key(7));
        std::string secret = box.seal("whsec_abc", credential_aad("secret_enc", 5)), out = "untouched";
        CPPUNIT_ASSERT(!box.open(secret, credential_aad("password_enc", 6), out));
        CPPUNIT_ASSERT(!box.open(secret, credential_aad("password_enc", 5), out));
        CPPUNIT_ASSERT(!box.open(secret, credential_aad("secret_enc", 6), out));
        CPPUNIT_ASSERT(!box.open(secret, credential_aad("secret_enc", 50), out));
        CPPUNIT_ASSERT(!box.open(secret, "", out));
        // relabelled as v1 (no associated data) it does not open either: no downgrade
        CPPUNIT_ASSERT(!box.open("v1:" + secret.substr(3), credential_aad("secret_enc", 5), out));
        CPPUNIT_ASSERT(box.open(secret, credential_aad("secret_enc", 5), out));
        CPPUNIT_ASSERT_EQUAL(std::string("whsec_abc"), out);
    }

    // Rows sealed by the previous release stay readable until the re-seal (rolling upgrade).
    void secret_box_reads_v1() {
        SecretBox box(key(7)), other(key(8));
        std::string v1 = box.seal_v1("old-password"), out;
        CPPUNIT_ASSERT(v1.rfind("v1:", 0) == 0);
        CPPUNIT_ASSERT(SecretBox::is_v1(v1));
        CPPUNIT_ASSERT(box.open(v1, credential_aad("password_enc", 9), out));
        CPPUNIT_ASSERT_EQUAL(std::string("old-password"), out);
        CPPUNIT_ASSERT(!other.open(v1, credential_aad("password_enc", 9), out));
        // relabelled as v2 it does not open: v2 authenticates the associated data
        CPPUNIT_ASSERT(!box.open("v2:" + v1.substr(3), credential_aad("password_enc", 9), out));
    }

    void secret_box_rejects_tampering_and_wrong_key() {
        SecretBox box(key(7)), other(key(8));
        const std::string aad = credential_aad("secret_enc", 1);
        std::string sealed = box.seal("secret", aad), out;
        CPPUNIT_ASSERT(!other.open(sealed, aad, out));
        std::string raw;
        CPPUNIT_ASSERT(base64_decode(sealed.substr(3), raw));
        raw[13] ^= 1;
        CPPUNIT_ASSERT(!box.open("v2:" + base64_encode(raw), aad, out));
        CPPUNIT_ASSERT(!box.open("secret", aad, out));
        CPPUNIT_ASSERT(!box.open("v1:", aad, out));
        CPPUNIT_ASSERT(!box.open("v2:", aad, out));
        CPPUNIT_ASSERT(!box.open("v3:" + sealed.substr(3), aad, out));
    }

    void key_file_validation() {
        char path[] = "/tmp/whkeyXXXXXX";
        int fd = mkstemp(path);
        CPPUNIT_ASSERT(fd >= 0);
        std::string hex(64, 'a');
        CPPUNIT_ASSERT(write(fd, (hex + "\n").data(), 65) == 65);
        close(fd);
        SecretBox::Key k;
        CPPUNIT_ASSERT_EQUAL(std::string(), SecretBox::load_key_file(path, k));
        CPPUNIT_ASSERT_EQUAL((unsigned char)0xaa, k[31]);
        FILE* f = fopen(path, "w");
        fputs("abcd", f);
        fclose(f);
        CPPUNIT_ASSERT(SecretBox::load_key_file(path, k).find("64 hex") != std::string::npos);
        unlink(path);
        CPPUNIT_ASSERT(SecretBox::load_key_file(path, k).find("cannot read") != std::string::npos);
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(CryptoTest, "crypto");

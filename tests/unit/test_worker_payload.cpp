// The notification body on the wire (docs/contract.md §5): exact bytes and field order.
#include <cppunit/extensions/HelperMacros.h>

#include "crypto.hpp"
#include "json.hpp"
#include "payload.hpp"

using namespace wh::worker;

namespace {
std::shared_ptr<const std::string> text(const char* s) { return std::make_shared<const std::string>(s); }
}  // namespace

class WorkerPayloadTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WorkerPayloadTest);
    CPPUNIT_TEST(exact_bytes_with_merchant);
    CPPUNIT_TEST(exact_bytes_without_merchant);
    CPPUNIT_TEST(data_is_embedded_unchanged);
    CPPUNIT_TEST(strings_are_escaped);
    CPPUNIT_TEST(result_parses_as_the_contract_says);
    CPPUNIT_TEST(bad_event_rows_are_refused);
    CPPUNIT_TEST(parts_make_the_same_body);
    CPPUNIT_TEST(notifications_share_the_data);
    CPPUNIT_TEST(parts_sign_like_the_whole_body);
    CPPUNIT_TEST(read_in_chunks_is_the_signed_body);
    CPPUNIT_TEST(later_claims_share_the_copy_in_flight);
    CPPUNIT_TEST_SUITE_END();

    static PayloadFields fields() {
        PayloadFields f;
        f.notification_id = "ntf_1";
        f.event_code = "processing.chargeback-processed";
        f.event_date = "1764115200123";
        f.data_type = "transaction";
        f.reseller_id = "r-1";
        f.portfolio_id = "p.1";
        f.data = text("{\"amount\":\"12.30\"}");
        return f;
    }

public:
    void exact_bytes_with_merchant() {
        PayloadFields f = fields();
        f.merchant_id = "m_9";
        std::string body;
        CPPUNIT_ASSERT(build_payload(f, body));
        CPPUNIT_ASSERT_EQUAL(std::string("{\"notificationId\":\"ntf_1\",\"eventCode\":\"processing.chargeback-processed\","
                                         "\"eventDate\":1764115200123,\"dataType\":\"transaction\",\"resellerId\":\"r-1\","
                                         "\"portfolioId\":\"p.1\",\"merchantId\":\"m_9\",\"data\":{\"amount\":\"12.30\"}}"),
                             body);
    }

    void exact_bytes_without_merchant() {
        std::string body;
        CPPUNIT_ASSERT(build_payload(fields(), body));
        CPPUNIT_ASSERT_EQUAL(std::string("{\"notificationId\":\"ntf_1\",\"eventCode\":\"processing.chargeback-processed\","
                                         "\"eventDate\":1764115200123,\"dataType\":\"transaction\",\"resellerId\":\"r-1\","
                                         "\"portfolioId\":\"p.1\",\"data\":{\"amount\":\"12.30\"}}"),
                             body);
        CPPUNIT_ASSERT(body.find("merchantId") == std::string::npos);
    }

    void data_is_embedded_unchanged() {
        PayloadFields f = fields();
        // numbers keep their digits (a double round trip would turn 12.30 into 12.3 or worse)
        f.data = text("  {\"amount\":12.30,\"big\":123456789012345678901234567890,\"nested\":{\"a\":[1,2]}}\n");
        std::string body;
        CPPUNIT_ASSERT(build_payload(f, body));
        CPPUNIT_ASSERT(body.find(",\"data\":{\"amount\":12.30,\"big\":123456789012345678901234567890,"
                                 "\"nested\":{\"a\":[1,2]}}}") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL('}', body.back());
        f.data = text("{}");
        CPPUNIT_ASSERT(build_payload(f, body));
        const std::string tail = ",\"data\":{}}";
        CPPUNIT_ASSERT(body.size() > tail.size() && body.compare(body.size() - tail.size(), tail.size(), tail) == 0);
    }

    void strings_are_escaped() {
        CPPUNIT_ASSERT_EQUAL(std::string("\"a\\\"b\\\\c\\n\\u0001\""), json_quote("a\"b\\c\n\x01"));
        CPPUNIT_ASSERT_EQUAL(std::string("\"caf\xc3\xa9/x\""), json_quote("caf\xc3\xa9/x"));
        PayloadFields f = fields();
        f.merchant_id = "m\"1";
        std::string body;
        CPPUNIT_ASSERT(build_payload(f, body));
        CPPUNIT_ASSERT(body.find("\"merchantId\":\"m\\\"1\"") != std::string::npos);
    }

    void result_parses_as_the_contract_says() {
        PayloadFields f = fields();
        f.merchant_id = "m1";
        f.data = text("{\"x\":{\"y\":[true,null]}}");
        std::string body;
        CPPUNIT_ASSERT(build_payload(f, body));
        wh::JsonPtr j = wh::json_parse(body);
        CPPUNIT_ASSERT(j && json_is_object(j.get()));
        CPPUNIT_ASSERT_EQUAL(size_t(8), json_object_size(j.get()));
        CPPUNIT_ASSERT_EQUAL(std::string("ntf_1"), wh::json_str(j.get(), "notificationId"));
        json_t* date = json_object_get(j.get(), "eventDate");
        CPPUNIT_ASSERT(json_is_integer(date));
        CPPUNIT_ASSERT_EQUAL(json_int_t(1764115200123LL), json_integer_value(date));
        CPPUNIT_ASSERT(json_is_object(json_object_get(j.get(), "data")));
        // key order is part of "exactly"
        const char* order[] = {"notificationId", "eventCode", "eventDate", "dataType",
                               "resellerId", "portfolioId", "merchantId", "data"};
        size_t pos = 0;
        for (const char* k : order) {
            size_t at = body.find(std::string("\"") + k + "\":");
            CPPUNIT_ASSERT(at != std::string::npos && at >= pos);
            pos = at;
        }
    }

    void bad_event_rows_are_refused() {
        std::string body = "unchanged", err;
        PayloadFields f = fields();
        f.data = text("[1,2]");
        CPPUNIT_ASSERT(!build_payload(f, body, &err));
        CPPUNIT_ASSERT(err.find("object") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(std::string("unchanged"), body);
        f.data = text("\"str\"");
        CPPUNIT_ASSERT(!build_payload(f, body));
        f.data = text("");
        CPPUNIT_ASSERT(!build_payload(f, body));
        f = fields();
        f.event_date = "12.5";
        CPPUNIT_ASSERT(!build_payload(f, body, &err));
        CPPUNIT_ASSERT(err.find("eventDate") != std::string::npos);
        f.event_date = "";
        CPPUNIT_ASSERT(!build_payload(f, body));
        f.event_date = "1,2";
        CPPUNIT_ASSERT(!build_payload(f, body));
    }

    // The parts, read in chunks of any size from any offset (as libcurl's read callback
    // does), are exactly the bytes of the whole body.
    void parts_make_the_same_body() {
        PayloadFields f = fields();
        f.merchant_id = "m_9";
        f.data = text("\n {\"amount\":\"12.30\",\"n\":[1,2,3]} \t");
        std::string whole;
        CPPUNIT_ASSERT(build_payload(f, whole));
        Payload p;
        CPPUNIT_ASSERT(build_payload(f, p));
        CPPUNIT_ASSERT_EQUAL(whole, p.str());
        CPPUNIT_ASSERT_EQUAL(whole.size(), p.size());
        CPPUNIT_ASSERT(whole.find("\"data\":{\"amount\"") != std::string::npos);  // trimmed
        for (size_t chunk : {size_t(1), size_t(3), size_t(7), size_t(64), size_t(4096)}) {
            std::string read;
            char buf[4096];
            size_t n;
            while ((n = p.copy(read.size(), buf, chunk)) > 0) read.append(buf, n);
            CPPUNIT_ASSERT_EQUAL(whole, read);
        }
        char buf[16];
        for (size_t off = 0; off <= whole.size(); ++off) {
            size_t n = p.copy(off, buf, sizeof buf);
            CPPUNIT_ASSERT_EQUAL(whole.substr(off, sizeof buf), std::string(buf, n));
        }
    }

    // One copy of an event's data however many notifications are built from it.
    void notifications_share_the_data() {
        PayloadFields f = fields();
        f.data = std::make_shared<const std::string>("{\"blob\":\"" + std::string(1 << 20, 'b') + "\"}");
        std::vector<Payload> bodies(64);
        for (size_t i = 0; i < bodies.size(); ++i) {
            f.notification_id = "ntf_" + std::to_string(i);
            CPPUNIT_ASSERT(build_payload(f, bodies[i]));
            CPPUNIT_ASSERT(bodies[i].data.get() == f.data.get());
            CPPUNIT_ASSERT(bodies[i].prefix.size() < 512);
        }
        CPPUNIT_ASSERT_EQUAL(long(bodies.size() + 1), f.data.use_count());
        const std::string head = "{\"notificationId\":\"ntf_3\",";
        CPPUNIT_ASSERT(bodies[3].str().compare(0, head.size(), head) == 0);
    }

    // What libcurl's read callback hands out (Payload::copy, chunk by chunk) is the body the
    // worker sent before it read bodies in parts, and the signature is over exactly those
    // bytes (the expected value is an HMAC computed outside this code).
    void read_in_chunks_is_the_signed_body() {
        PayloadFields f = fields();
        f.merchant_id = "m_9";
        f.data = text(" {\"amount\":\"12.30\"}\n");
        Payload p;
        CPPUNIT_ASSERT(build_payload(f, p));
        const std::string sent_before = "{\"notificationId\":\"ntf_1\",\"eventCode\":\"processing.chargeback-processed\","
                                        "\"eventDate\":1764115200123,\"dataType\":\"transaction\",\"resellerId\":\"r-1\","
                                        "\"portfolioId\":\"p.1\",\"merchantId\":\"m_9\",\"data\":{\"amount\":\"12.30\"}}";
        std::string read;
        char buf[5];
        for (size_t n; (n = p.copy(read.size(), buf, sizeof buf)) > 0;) read.append(buf, n);
        CPPUNIT_ASSERT_EQUAL(sent_before, read);
        CPPUNIT_ASSERT_EQUAL(sent_before.size(), p.size());
        CPPUNIT_ASSERT_EQUAL(std::string("v1,24rMdhPFTRrf3ruoGRoqJBZzqi6uxgoLIX/Gua+ggIc="),
                             wh::signature_header({"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "ntf_1", 1764115200,
                                                  p.parts()));
    }

    // An event claimed again while its first notifications are in flight: one copy.
    void later_claims_share_the_copy_in_flight() {
        SharedEventData shared;
        auto first = shared.share(7, text("{\"a\":1}"));
        auto again = shared.share(7, text("{\"a\":1}"));  // loaded by a later claim
        CPPUNIT_ASSERT(first.get() == again.get());
        auto other = shared.share(8, text("{\"b\":2}"));
        CPPUNIT_ASSERT(other.get() != first.get());
        first.reset();
        again.reset();  // no notification of event 7 in flight any more: the next load is used
        auto fresh = text("{\"a\":1}");
        CPPUNIT_ASSERT(shared.share(7, fresh).get() == fresh.get());
        // entries of events no longer in flight are dropped as more arrive
        for (uint64_t id = 100; id < 1100; ++id) shared.share(id, text("{}"));
        CPPUNIT_ASSERT(shared.tracked() < 200);
    }

    void parts_sign_like_the_whole_body() {
        PayloadFields f = fields();
        Payload p;
        CPPUNIT_ASSERT(build_payload(f, p));
        const std::vector<std::string> secrets = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", wh::generate_signing_secret()};
        CPPUNIT_ASSERT_EQUAL(wh::signature_header(secrets, "ntf_1", 1764115200, p.str()),
                             wh::signature_header(secrets, "ntf_1", 1764115200, p.parts()));
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(WorkerPayloadTest, "worker_payload");

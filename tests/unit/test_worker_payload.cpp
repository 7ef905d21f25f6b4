// The notification body on the wire (DESIGN.md section 5): exact bytes and field order.
#include <cppunit/extensions/HelperMacros.h>

#include "json.hpp"
#include "payload.hpp"

using namespace wh::worker;

class WorkerPayloadTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WorkerPayloadTest);
    CPPUNIT_TEST(exact_bytes_with_merchant);
    CPPUNIT_TEST(exact_bytes_without_merchant);
    CPPUNIT_TEST(data_is_embedded_unchanged);
    CPPUNIT_TEST(strings_are_escaped);
    CPPUNIT_TEST(result_parses_as_the_contract_says);
    CPPUNIT_TEST(bad_event_rows_are_refused);
    CPPUNIT_TEST_SUITE_END();

    static PayloadFields fields() {
        PayloadFields f;
        f.notification_id = "ntf_1";
        f.event_code = "processing.chargeback-processed";
        f.event_date = "1764115200123";
        f.data_type = "transaction";
        f.reseller_id = "r-1";
        f.portfolio_id = "p.1";
        f.data = "{\"amount\":\"12.30\"}";
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
        f.data = "  {\"amount\":12.30,\"big\":123456789012345678901234567890,\"nested\":{\"a\":[1,2]}}\n";
        std::string body;
        CPPUNIT_ASSERT(build_payload(f, body));
        CPPUNIT_ASSERT(body.find(",\"data\":{\"amount\":12.30,\"big\":123456789012345678901234567890,"
                                 "\"nested\":{\"a\":[1,2]}}}") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL('}', body.back());
        f.data = "{}";
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
        f.data = "{\"x\":{\"y\":[true,null]}}";
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
        f.data = "[1,2]";
        CPPUNIT_ASSERT(!build_payload(f, body, &err));
        CPPUNIT_ASSERT(err.find("object") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(std::string("unchanged"), body);
        f.data = "\"str\"";
        CPPUNIT_ASSERT(!build_payload(f, body));
        f.data = "";
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
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(WorkerPayloadTest, "worker_payload");

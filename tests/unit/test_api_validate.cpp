// Pure validation of the webhook-api and webhook-events bodies (no DB, no DNS).
#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>

#include "validate.hpp"

using namespace wh::api;

namespace {

Catalogue catalogue() {
    return {"billing.subscription-created", "management.merchant-created",
            "processing.chargeback-processed"};
}

// A config whose target check never resolves names: hosts ending in ".bad" are refused.
ApiConfig test_config() {
    ApiConfig c;
    c.policy.parse("Off");
    c.check_target = [](const wh::Url& u, const wh::AddressPolicy&) -> std::string {
        return u.host.size() > 4 && u.host.substr(u.host.size() - 4) == ".bad" ? "target refused" : "";
    };
    return c;
}

wh::JsonPtr parse(const std::string& text) {
    std::string err;
    wh::JsonPtr j = parse_json_body(text, err);
    if (!j) throw std::runtime_error("test JSON does not parse: " + err);
    return j;
}

bool has_field(const FieldErrors& errs, const std::string& field) {
    return std::any_of(errs.begin(), errs.end(), [&](const FieldError& e) { return e.field == field; });
}

std::string fields(const FieldErrors& errs) {
    std::string out;
    for (const auto& e : errs) out += "[" + e.field + ": " + e.message + "]";
    return out;
}

}  // namespace

class ApiValidateTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ApiValidateTest);
    CPPUNIT_TEST(content_type);
    CPPUNIT_TEST(malformed_json);
    CPPUNIT_TEST(endpoint_valid_minimal_defaults);
    CPPUNIT_TEST(endpoint_valid_full);
    CPPUNIT_TEST(endpoint_lists_every_bad_field);
    CPPUNIT_TEST(endpoint_scope_exactly_one);
    CPPUNIT_TEST(endpoint_event_types_rules);
    CPPUNIT_TEST(endpoint_event_types_longer_than_catalogue);
    CPPUNIT_TEST(endpoint_credentials_together);
    CPPUNIT_TEST(endpoint_url_rules);
    CPPUNIT_TEST(endpoint_url_policy_real_check);
    CPPUNIT_TEST(endpoint_not_object);
    CPPUNIT_TEST(description_refuses_control_chars);
    CPPUNIT_TEST(patch_rules);
    CPPUNIT_TEST(patch_remove_credentials);
    CPPUNIT_TEST(list_query_rules);
    CPPUNIT_TEST(delivery_query_rules);
    CPPUNIT_TEST(delivery_query_filters);
    CPPUNIT_TEST(rfc3339_parsing);
    CPPUNIT_TEST(recover_body);
    CPPUNIT_TEST(test_request_body);
    CPPUNIT_TEST(event_single_valid);
    CPPUNIT_TEST(event_header_key);
    CPPUNIT_TEST(event_ordering_key);
    CPPUNIT_TEST(event_every_bad_field);
    CPPUNIT_TEST(event_batch_index_in_field);
    CPPUNIT_TEST(event_batch_limits);
    CPPUNIT_TEST(event_batch_rejects_header_key);
    CPPUNIT_TEST(event_top_level_type);
    CPPUNIT_TEST(errors_stop_at_fifty);
    CPPUNIT_TEST_SUITE_END();

public:
    void content_type() {
        CPPUNIT_ASSERT(is_json_content_type("application/json"));
        CPPUNIT_ASSERT(is_json_content_type("Application/JSON; charset=utf-8"));
        CPPUNIT_ASSERT(is_json_content_type(" application/json ;charset=UTF-8"));
        CPPUNIT_ASSERT(!is_json_content_type(""));
        CPPUNIT_ASSERT(!is_json_content_type("text/plain"));
        CPPUNIT_ASSERT(!is_json_content_type("application/jsonx"));
        CPPUNIT_ASSERT(!is_json_content_type("application/x-www-form-urlencoded"));
        CPPUNIT_ASSERT(!is_json_content_type("application/problem+json"));
    }

    void malformed_json() {
        std::string err;
        CPPUNIT_ASSERT(!parse_json_body("", err));
        CPPUNIT_ASSERT(!err.empty());
        CPPUNIT_ASSERT(!parse_json_body("{\"a\":", err));
        CPPUNIT_ASSERT(!parse_json_body("{\"a\":1,\"a\":2}", err));      // duplicate keys
        CPPUNIT_ASSERT(!parse_json_body("{\"a\":\"\xff\"}", err));        // invalid UTF-8
        CPPUNIT_ASSERT(!parse_json_body("{\"a\":\"\xc0\xaf\"}", err));    // overlong
        CPPUNIT_ASSERT(!parse_json_body("\"just a string\"", err));       // not object/array
        CPPUNIT_ASSERT(parse_json_body("{\"a\":\"\xc3\xa9\"}", err));      // valid UTF-8
        CPPUNIT_ASSERT(parse_json_body("[1]", err));
    }

    void endpoint_valid_minimal_defaults() {
        auto j = parse(R"({"url":"https://hooks.example.com/x","portfolioId":"P-1","eventTypes":["billing.subscription-created"]})");
        EndpointInput in;
        FieldErrors errs = validate_endpoint_create(j.get(), catalogue(), test_config(), in);
        CPPUNIT_ASSERT_MESSAGE(fields(errs), errs.empty());
        CPPUNIT_ASSERT_EQUAL(std::string("portfolio"), in.scope_kind);
        CPPUNIT_ASSERT_EQUAL(std::string("P-1"), in.scope_id);
        CPPUNIT_ASSERT_EQUAL(std::string("notification-id"), in.ack_mode);
        CPPUNIT_ASSERT(in.enabled);
        CPPUNIT_ASSERT(!in.username && !in.password && !in.description);
        CPPUNIT_ASSERT_EQUAL(size_t(1), in.event_types.size());
    }

    void endpoint_valid_full() {
        auto j = parse(R"({"url":"http://hooks.example.com:8080/a?b=c","resellerId":"R.1_x","eventTypes":["billing.subscription-created","management.merchant-created"],
            "username":"user","password":"s3cret","description":"d","ackMode":"status","enabled":false})");
        EndpointInput in;
        FieldErrors errs = validate_endpoint_create(j.get(), catalogue(), test_config(), in);
        CPPUNIT_ASSERT_MESSAGE(fields(errs), errs.empty());
        CPPUNIT_ASSERT_EQUAL(std::string("reseller"), in.scope_kind);
        CPPUNIT_ASSERT_EQUAL(std::string("user"), *in.username);
        CPPUNIT_ASSERT_EQUAL(std::string("s3cret"), *in.password);
        CPPUNIT_ASSERT_EQUAL(std::string("status"), in.ack_mode);
        CPPUNIT_ASSERT(!in.enabled);
        CPPUNIT_ASSERT_EQUAL(std::string("d"), *in.description);
    }

    void endpoint_lists_every_bad_field() {
        auto j = parse(R"({"url":"ftp://x","resellerId":"bad id","eventTypes":[],"username":"u",
            "description":5,"ackMode":"always","enabled":"yes","colour":"red"})");
        EndpointInput in;
        FieldErrors errs = validate_endpoint_create(j.get(), catalogue(), test_config(), in);
        for (const char* f : {"url", "resellerId", "eventTypes", "password", "description", "ackMode",
                              "enabled", "colour"})
            CPPUNIT_ASSERT_MESSAGE(std::string(f) + " missing in " + fields(errs), has_field(errs, f));
    }

    void endpoint_scope_exactly_one() {
        EndpointInput in;
        auto both = parse(R"({"url":"https://a.example/","resellerId":"R","portfolioId":"P","eventTypes":["billing.subscription-created"]})");
        FieldErrors errs = validate_endpoint_create(both.get(), catalogue(), test_config(), in);
        CPPUNIT_ASSERT(has_field(errs, "resellerId") && has_field(errs, "portfolioId"));
        auto none = parse(R"({"url":"https://a.example/","eventTypes":["billing.subscription-created"]})");
        errs = validate_endpoint_create(none.get(), catalogue(), test_config(), in);
        CPPUNIT_ASSERT(has_field(errs, "resellerId"));
        auto long_id = parse("{\"url\":\"https://a.example/\",\"resellerId\":\"" + std::string(65, 'a') +
                             "\",\"eventTypes\":[\"billing.subscription-created\"]}");
        errs = validate_endpoint_create(long_id.get(), catalogue(), test_config(), in);
        CPPUNIT_ASSERT(has_field(errs, "resellerId"));
        auto num = parse(R"({"url":"https://a.example/","portfolioId":7,"eventTypes":["billing.subscription-created"]})");
        errs = validate_endpoint_create(num.get(), catalogue(), test_config(), in);
        CPPUNIT_ASSERT(has_field(errs, "portfolioId"));
    }

    void endpoint_event_types_rules() {
        EndpointInput in;
        // (no more items than the catalogue's 3 codes: a longer array is refused whole)
        auto j = parse(R"({"url":"https://a.example/","resellerId":"R","eventTypes":["billing.subscription-created","nope","billing.subscription-created"]})");
        FieldErrors errs = validate_endpoint_create(j.get(), catalogue(), test_config(), in);
        CPPUNIT_ASSERT_MESSAGE(fields(errs), has_field(errs, "eventTypes[1]"));  // unknown
        CPPUNIT_ASSERT(has_field(errs, "eventTypes[2]"));                       // duplicate
        CPPUNIT_ASSERT(!has_field(errs, "eventTypes[0]"));
        auto num = parse(R"({"url":"https://a.example/","resellerId":"R","eventTypes":["billing.subscription-created",3]})");
        errs = validate_endpoint_create(num.get(), catalogue(), test_config(), in);
        CPPUNIT_ASSERT(has_field(errs, "eventTypes[1]"));                       // not a string
        auto missing = parse(R"({"url":"https://a.example/","resellerId":"R"})");
        errs = validate_endpoint_create(missing.get(), catalogue(), test_config(), in);
        CPPUNIT_ASSERT(has_field(errs, "eventTypes"));
        auto notarr = parse(R"({"url":"https://a.example/","resellerId":"R","eventTypes":"billing.subscription-created"})");
        errs = validate_endpoint_create(notarr.get(), catalogue(), test_config(), in);
        CPPUNIT_ASSERT(has_field(errs, "eventTypes"));
    }

    // More items than the catalogue has codes: one error for the array, none per item (a
    // 976 KiB body of 200,000 items answered 200,000 errors).
    void endpoint_event_types_longer_than_catalogue() {
        EndpointInput in;
        std::string items = "\"a\"";
        for (int i = 1; i < 200000; ++i) items += ",\"a\"";
        auto j = parse(R"({"url":"https://a.example/","resellerId":"R","eventTypes":[)" + items + "]}");
        FieldErrors errs = validate_endpoint_create(j.get(), catalogue(), test_config(), in);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(fields(errs), size_t(1), errs.size());
        CPPUNIT_ASSERT_EQUAL(size_t(0), errs.more());
        CPPUNIT_ASSERT_EQUAL(std::string("eventTypes"), errs[0].field);
        CPPUNIT_ASSERT(errs[0].message.find("200000") != std::string::npos);
        CPPUNIT_ASSERT(errs[0].message.find("only 3") != std::string::npos);
        // one more than the catalogue, all known: still refused (one must repeat)
        auto four = parse(R"({"url":"https://a.example/","resellerId":"R","eventTypes":["billing.subscription-created",)"
                          R"("management.merchant-created","processing.chargeback-processed","billing.subscription-created"]})");
        errs = validate_endpoint_create(four.get(), catalogue(), test_config(), in);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(fields(errs), size_t(1), errs.size());
        CPPUNIT_ASSERT_EQUAL(std::string("eventTypes"), errs[0].field);
        // as many as the catalogue: every item checked, as before
        auto three = parse(R"({"url":"https://a.example/","resellerId":"R","eventTypes":["billing.subscription-created",)"
                           R"("management.merchant-created","processing.chargeback-processed"]})");
        CPPUNIT_ASSERT(validate_endpoint_create(three.get(), catalogue(), test_config(), in).empty());
        EndpointPatch p;
        auto patch = parse(R"({"eventTypes":[)" + items + "]}");
        errs = validate_endpoint_patch(patch.get(), catalogue(), test_config(), p);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(fields(errs), size_t(1), errs.size());
    }

    void endpoint_credentials_together() {
        EndpointInput in;
        auto only_pw = parse(R"({"url":"https://a.example/","resellerId":"R","eventTypes":["billing.subscription-created"],"password":"x"})");
        FieldErrors errs = validate_endpoint_create(only_pw.get(), catalogue(), test_config(), in);
        CPPUNIT_ASSERT(has_field(errs, "username"));
        auto colon = parse(R"({"url":"https://a.example/","resellerId":"R","eventTypes":["billing.subscription-created"],"username":"a:b","password":"x"})");
        errs = validate_endpoint_create(colon.get(), catalogue(), test_config(), in);
        CPPUNIT_ASSERT(has_field(errs, "username"));
        auto empty_pw = parse(R"({"url":"https://a.example/","resellerId":"R","eventTypes":["billing.subscription-created"],"username":"a","password":""})");
        errs = validate_endpoint_create(empty_pw.get(), catalogue(), test_config(), in);
        CPPUNIT_ASSERT(has_field(errs, "password"));
        auto long_pw = parse("{\"url\":\"https://a.example/\",\"resellerId\":\"R\",\"eventTypes\":[\"billing.subscription-created\"],"
                             "\"username\":\"a\",\"password\":\"" + std::string(kMaxPassword + 1, 'p') + "\"}");
        errs = validate_endpoint_create(long_pw.get(), catalogue(), test_config(), in);
        CPPUNIT_ASSERT(has_field(errs, "password"));
    }

    void endpoint_url_rules() {
        EndpointInput in;
        for (const std::string& bad : {std::string("not a url"), std::string("https://user:pw@a.example/"),
                                       std::string("https://a.example/#frag"), std::string("ftp://a.example/"),
                                       std::string("/relative"), std::string("https://refused.bad/"),
                                       "https://a.example/" + std::string(2048, 'x')}) {
            auto j = wh::JsonPtr(json_pack("{s:s, s:s, s:[s]}", "url", bad.c_str(), "resellerId", "R",
                                           "eventTypes", "billing.subscription-created"));
            FieldErrors errs = validate_endpoint_create(j.get(), catalogue(), test_config(), in);
            CPPUNIT_ASSERT_MESSAGE("accepted " + bad.substr(0, 60), has_field(errs, "url"));
        }
        auto num = parse(R"({"url":42,"resellerId":"R","eventTypes":["billing.subscription-created"]})");
        CPPUNIT_ASSERT(has_field(validate_endpoint_create(num.get(), catalogue(), test_config(), in), "url"));
    }

    void endpoint_url_policy_real_check() {
        // The default check (wh::check_target) on IP literals needs no DNS.
        ApiConfig off;
        off.policy.parse("Off");
        ApiConfig on;
        on.policy.parse("On");
        auto j = parse(R"({"url":"http://127.0.0.1:8080/hook","resellerId":"R","eventTypes":["billing.subscription-created"]})");
        EndpointInput in;
        CPPUNIT_ASSERT(has_field(validate_endpoint_create(j.get(), catalogue(), off, in), "url"));
        CPPUNIT_ASSERT(validate_endpoint_create(j.get(), catalogue(), on, in).empty());
        auto meta = parse(R"({"url":"http://169.254.169.254/","resellerId":"R","eventTypes":["billing.subscription-created"]})");
        CPPUNIT_ASSERT(has_field(validate_endpoint_create(meta.get(), catalogue(), off, in), "url"));
    }

    void endpoint_not_object() {
        EndpointInput in;
        auto j = parse("[1,2]");
        FieldErrors errs = validate_endpoint_create(j.get(), catalogue(), test_config(), in);
        CPPUNIT_ASSERT_EQUAL(size_t(1), errs.size());
        CPPUNIT_ASSERT_EQUAL(std::string(""), errs[0].field);
    }

    void description_refuses_control_chars() {
        for (const char* d : {"line\\nbreak", "tab\\there", "esc\\u001b[31m", "del\\u007f"}) {
            EndpointInput in;
            auto j = parse(std::string(R"({"url":"https://a.example/","resellerId":"R","eventTypes":["billing.subscription-created"],"description":")") +
                           d + "\"}");
            FieldErrors errs = validate_endpoint_create(j.get(), catalogue(), test_config(), in);
            CPPUNIT_ASSERT_MESSAGE(d, has_field(errs, "description"));
            EndpointPatch p;
            auto pj = parse(std::string(R"({"description":")") + d + "\"}");
            CPPUNIT_ASSERT_MESSAGE(d, has_field(validate_endpoint_patch(pj.get(), catalogue(), test_config(), p),
                                                "description"));
        }
        EndpointInput in;  // printable text of any script is fine
        auto ok = parse(R"({"url":"https://a.example/","resellerId":"R","eventTypes":["billing.subscription-created"],"description":"Caf\u00e9 \u2014 \u65e5\u672c"})");
        CPPUNIT_ASSERT(validate_endpoint_create(ok.get(), catalogue(), test_config(), in).empty());
    }

    void patch_rules() {
        EndpointPatch p;
        auto j = parse(R"({"resellerId":"R","url":"ftp://x","eventTypes":[],"enabled":null,"ackMode":"x","username":"u","extra":1})");
        FieldErrors errs = validate_endpoint_patch(j.get(), catalogue(), test_config(), p);
        for (const char* f : {"resellerId", "url", "eventTypes", "enabled", "ackMode", "password", "extra"})
            CPPUNIT_ASSERT_MESSAGE(std::string(f) + " missing in " + fields(errs), has_field(errs, f));
        CPPUNIT_ASSERT_EQUAL_MESSAGE(fields(errs), size_t(7), errs.size());  // one error per field

        EndpointPatch ok;
        auto good = parse(R"({"url":"https://b.example/","eventTypes":["management.merchant-created"],"enabled":true,"description":null,"ackMode":"status"})");
        errs = validate_endpoint_patch(good.get(), catalogue(), test_config(), ok);
        CPPUNIT_ASSERT_MESSAGE(fields(errs), errs.empty());
        CPPUNIT_ASSERT_EQUAL(std::string("https://b.example/"), *ok.url);
        CPPUNIT_ASSERT(ok.set_description && !ok.description);
        CPPUNIT_ASSERT(ok.enabled && *ok.enabled);
        CPPUNIT_ASSERT_EQUAL(std::string("status"), *ok.ack_mode);
        CPPUNIT_ASSERT(!ok.set_credentials);

        EndpointPatch empty;
        auto none = parse("{}");
        CPPUNIT_ASSERT(validate_endpoint_patch(none.get(), catalogue(), test_config(), empty).empty());
        CPPUNIT_ASSERT(!empty.url && !empty.event_types && !empty.enabled && !empty.set_description);
    }

    void patch_remove_credentials() {
        EndpointPatch p;
        auto j = parse(R"({"username":null,"password":null})");
        CPPUNIT_ASSERT(validate_endpoint_patch(j.get(), catalogue(), test_config(), p).empty());
        CPPUNIT_ASSERT(p.set_credentials && !p.username && !p.password);
        EndpointPatch half;
        auto h = parse(R"({"username":null,"password":"x"})");
        CPPUNIT_ASSERT(has_field(validate_endpoint_patch(h.get(), catalogue(), test_config(), half), "username"));
        CPPUNIT_ASSERT(!half.set_credentials);
        EndpointPatch set;
        auto s = parse(R"({"username":"a","password":"b"})");
        CPPUNIT_ASSERT(validate_endpoint_patch(s.get(), catalogue(), test_config(), set).empty());
        CPPUNIT_ASSERT(set.set_credentials && *set.username == "a" && *set.password == "b");
    }

    void list_query_rules() {
        ListQuery q;
        CPPUNIT_ASSERT(validate_list_query({}, q).empty());
        CPPUNIT_ASSERT_EQUAL(kDefaultListLimit, q.limit);
        ListQuery q2;
        CPPUNIT_ASSERT(validate_list_query({{"limit", "200"}, {"resellerId", "R1"}, {"after", "ep_0a"}}, q2).empty());
        CPPUNIT_ASSERT_EQUAL(200u, q2.limit);
        CPPUNIT_ASSERT_EQUAL(std::string("R1"), *q2.reseller_id);
        CPPUNIT_ASSERT_EQUAL(std::string("ep_0a"), *q2.after);
        for (const char* bad : {"0", "201", "-1", "abc", "", "99999"}) {
            ListQuery q3;
            CPPUNIT_ASSERT_MESSAGE(bad, has_field(validate_list_query({{"limit", bad}}, q3), "limit"));
        }
        ListQuery q4;
        FieldErrors errs = validate_list_query({{"resellerId", "a b"}, {"portfolioId", "P"}, {"after", ""}}, q4);
        CPPUNIT_ASSERT(has_field(errs, "resellerId") && has_field(errs, "after"));
        ListQuery q5;
        CPPUNIT_ASSERT(has_field(validate_list_query({{"resellerId", "R"}, {"portfolioId", "P"}}, q5), "portfolioId"));
    }

    void delivery_query_rules() {
        const Catalogue cat = {"billing.subscription-created", "management.terminal-modified"};
        DeliveryListQuery q;
        CPPUNIT_ASSERT(validate_delivery_query({}, cat, q).empty());
        CPPUNIT_ASSERT(!q.status && !q.after && !q.event_code && !q.since && !q.until);
        CPPUNIT_ASSERT_EQUAL(kDefaultListLimit, q.limit);
        DeliveryListQuery ok;
        CPPUNIT_ASSERT(validate_delivery_query({{"status", "failed"}, {"limit", "5"}, {"after", "ntf_ab"}}, cat, ok).empty());
        CPPUNIT_ASSERT_EQUAL(std::string("failed"), *ok.status);
        CPPUNIT_ASSERT_EQUAL(5u, ok.limit);
        CPPUNIT_ASSERT_EQUAL(std::string("ntf_ab"), *ok.after);
        DeliveryListQuery bad;
        FieldErrors errs = validate_delivery_query({{"status", "lost"}, {"limit", "0"}, {"after", "a b"}}, cat, bad);
        CPPUNIT_ASSERT_MESSAGE(fields(errs), has_field(errs, "status") && has_field(errs, "limit") && has_field(errs, "after"));
    }

    void delivery_query_filters() {
        const Catalogue cat = {"billing.subscription-created", "management.terminal-modified"};
        DeliveryListQuery ok;
        FieldErrors errs = validate_delivery_query({{"eventCode", "billing.subscription-created"},
                                                    {"since", "2026-11-26T01:00:00+01:00"},
                                                    {"until", "2026-11-26T00:00:00Z"}, {"status", "delivered"}},
                                                   cat, ok);
        CPPUNIT_ASSERT_MESSAGE(fields(errs), errs.empty());
        CPPUNIT_ASSERT_EQUAL(std::string("billing.subscription-created"), *ok.event_code);
        CPPUNIT_ASSERT_EQUAL(std::string("2026-11-26 00:00:00.000"), *ok.since);  // since == until: one instant
        CPPUNIT_ASSERT_EQUAL(std::string("2026-11-26 00:00:00.000"), *ok.until);
        CPPUNIT_ASSERT_EQUAL(std::string("delivered"), *ok.status);
        // each bad value is named; the code must be in the catalogue, exactly
        for (const auto& [field, value] : std::vector<std::pair<std::string, std::string>>{
                 {"eventCode", "billing.nope"}, {"eventCode", ""}, {"eventCode", "Billing.subscription-created"},
                 {"eventCode", "billing.subscription-created "}, {"since", "yesterday"}, {"since", ""},
                 {"since", "2026-11-26"}, {"until", "2026-11-26T00:00:00"}, {"until", "2026-02-30T00:00:00Z"},
                 {"eventCode", std::string("\xff\0billing", 9)}}) {
            DeliveryListQuery q;
            FieldErrors e = validate_delivery_query({{field, value}}, cat, q);
            CPPUNIT_ASSERT_MESSAGE(field + "=" + value + ": " + fields(e), e.size() == 1 && has_field(e, field));
            CPPUNIT_ASSERT(!q.event_code && !q.since && !q.until);
            // a query value is any bytes: the message never carries it (it must stay UTF-8 JSON)
            if (field == "eventCode" && !value.empty())
                for (const auto& err : e) CPPUNIT_ASSERT(err.message.find(value) == std::string::npos);
        }
        DeliveryListQuery reversed;
        errs = validate_delivery_query({{"since", "2026-11-26T00:00:00.001Z"}, {"until", "2026-11-26T00:00:00Z"}}, cat,
                                       reversed);
        CPPUNIT_ASSERT_MESSAGE(fields(errs), errs.size() == 1 && has_field(errs, "until"));
        // an empty catalogue knows no code
        DeliveryListQuery none;
        CPPUNIT_ASSERT(has_field(validate_delivery_query({{"eventCode", "billing.subscription-created"}}, {}, none),
                                 "eventCode"));
    }

    void rfc3339_parsing() {
        std::string out;
        CPPUNIT_ASSERT(rfc3339_to_db("2026-11-26T03:38:06Z", out));
        CPPUNIT_ASSERT_EQUAL(std::string("2026-11-26 03:38:06.000"), out);
        CPPUNIT_ASSERT(rfc3339_to_db("2026-11-26t03:38:06.1234z", out));
        CPPUNIT_ASSERT_EQUAL(std::string("2026-11-26 03:38:06.123"), out);
        CPPUNIT_ASSERT(rfc3339_to_db("2026-11-26T01:00:00+02:30", out));  // offsets go to UTC
        CPPUNIT_ASSERT_EQUAL(std::string("2026-11-25 22:30:00.000"), out);
        CPPUNIT_ASSERT(rfc3339_to_db("2024-02-29T23:59:59-01:00", out));
        CPPUNIT_ASSERT_EQUAL(std::string("2024-03-01 00:59:59.000"), out);
        for (const char* bad : {"", "2026-11-26", "2026-11-26 03:38:06Z", "2026-11-26T03:38:06", "2026-13-01T00:00:00Z",
                                "2023-02-29T00:00:00Z", "2026-11-26T24:00:00Z", "2026-11-26T03:38:06.Z",
                                "2026-11-26T03:38:06+0200", "2026-11-26T03:38:06Zjunk", "yesterday"})
            CPPUNIT_ASSERT_MESSAGE(bad, !rfc3339_to_db(bad, out));
    }

    void recover_body() {
        std::string since;
        auto ok = parse(R"({"since":"2026-11-26T00:00:00Z"})");
        CPPUNIT_ASSERT(validate_recover(ok.get(), since).empty());
        CPPUNIT_ASSERT_EQUAL(std::string("2026-11-26 00:00:00.000"), since);
        auto missing = parse("{}");
        CPPUNIT_ASSERT(has_field(validate_recover(missing.get(), since), "since"));
        auto bad = parse(R"({"since":1764000000,"until":"x"})");
        FieldErrors errs = validate_recover(bad.get(), since);
        CPPUNIT_ASSERT(has_field(errs, "since") && has_field(errs, "until"));
    }

    void test_request_body() {
        std::string code;
        // no body and {}: nothing chosen (the endpoint's first type is the default)
        CPPUNIT_ASSERT(validate_test_request(nullptr, catalogue(), code).empty());
        auto empty = parse("{}");
        CPPUNIT_ASSERT(validate_test_request(empty.get(), catalogue(), code).empty());
        CPPUNIT_ASSERT_EQUAL(std::string(), code);
        auto ok = parse(R"({"eventCode":"billing.subscription-created"})");
        CPPUNIT_ASSERT(validate_test_request(ok.get(), catalogue(), code).empty());
        CPPUNIT_ASSERT_EQUAL(std::string("billing.subscription-created"), code);
        code.clear();
        auto unknown = parse(R"({"eventCode":"billing.nope"})");
        FieldErrors errs = validate_test_request(unknown.get(), catalogue(), code);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(fields(errs), size_t(1), errs.size());
        CPPUNIT_ASSERT(has_field(errs, "eventCode") && code.empty());
        auto bad = parse(R"({"eventCode":7,"extra":true})");
        errs = validate_test_request(bad.get(), catalogue(), code);
        CPPUNIT_ASSERT(has_field(errs, "eventCode") && has_field(errs, "extra"));
        auto array = parse(R"(["billing.subscription-created"])");
        CPPUNIT_ASSERT(has_field(validate_test_request(array.get(), catalogue(), code), ""));
    }

    void event_single_valid() {
        auto j = parse(R"({"eventCode":"billing.subscription-created","resellerId":"R1","portfolioId":"P1","merchantId":"M1",
            "eventDate":1764000000000,"data":{"b":1,"a":{"x":"é"}},"idempotencyKey":"k-1"})");
        std::vector<EventInput> out;
        bool is_array = true;
        FieldErrors errs = validate_events(j.get(), "", catalogue(), out, is_array);
        CPPUNIT_ASSERT_MESSAGE(fields(errs), errs.empty());
        CPPUNIT_ASSERT(!is_array);
        CPPUNIT_ASSERT_EQUAL(size_t(1), out.size());
        CPPUNIT_ASSERT_EQUAL(1764000000000LL, *out[0].event_date);
        CPPUNIT_ASSERT_EQUAL(std::string("M1"), *out[0].merchant_id);
        CPPUNIT_ASSERT_EQUAL(std::string("{\"b\":1,\"a\":{\"x\":\"\xc3\xa9\"}}"), out[0].data_json);  // compact, order kept
        CPPUNIT_ASSERT_EQUAL(std::string("k-1"), *out[0].idempotency_key);

        auto minimal = parse(R"({"eventCode":"billing.subscription-created","resellerId":"R1","portfolioId":"P1","data":{}})");
        CPPUNIT_ASSERT(validate_events(minimal.get(), "", catalogue(), out, is_array).empty());
        CPPUNIT_ASSERT(!out[0].event_date && !out[0].merchant_id && !out[0].idempotency_key);
    }

    void event_header_key() {
        auto j = parse(R"({"eventCode":"billing.subscription-created","resellerId":"R1","portfolioId":"P1","data":{}})");
        std::vector<EventInput> out;
        bool is_array;
        CPPUNIT_ASSERT(validate_events(j.get(), "hdr-key", catalogue(), out, is_array).empty());
        CPPUNIT_ASSERT_EQUAL(std::string("hdr-key"), *out[0].idempotency_key);
        auto k = parse(R"({"eventCode":"billing.subscription-created","resellerId":"R1","portfolioId":"P1","data":{},"idempotencyKey":"body"})");
        CPPUNIT_ASSERT(has_field(validate_events(k.get(), "other", catalogue(), out, is_array), "Idempotency-Key"));
        CPPUNIT_ASSERT(has_field(validate_events(j.get(), std::string(256, 'k'), catalogue(), out, is_array), "Idempotency-Key"));
    }

    void event_ordering_key() {
        const std::string head = R"({"eventCode":"billing.subscription-created","resellerId":"R1","portfolioId":"P1","data":{})";
        std::vector<EventInput> out;
        bool is_array;
        for (const std::string& key : {std::string("sub_2.A-9"), std::string(128, 'k')}) {
            auto j = parse(head + R"(,"orderingKey":")" + key + "\"}");
            FieldErrors errs = validate_events(j.get(), "", catalogue(), out, is_array);
            CPPUNIT_ASSERT_MESSAGE(fields(errs), errs.empty());
            CPPUNIT_ASSERT_EQUAL(key, *out[0].ordering_key);
        }
        auto none = parse(head + R"(,"orderingKey":null})");
        CPPUNIT_ASSERT(validate_events(none.get(), "", catalogue(), out, is_array).empty());
        CPPUNIT_ASSERT(!out[0].ordering_key);
        const std::vector<std::string> bads = {R"("")", "\"" + std::string(129, 'k') + "\"", R"("a b")", R"("é")",
                                               R"("a/b")", "7", "[]"};
        for (const std::string& bad : bads) {
            auto j = parse(head + R"(,"orderingKey":)" + bad + "}");
            CPPUNIT_ASSERT_MESSAGE(bad, has_field(validate_events(j.get(), "", catalogue(), out, is_array), "orderingKey"));
        }
        auto batch = parse("[" + head + "}," + head + R"(,"orderingKey":"a b"}])");
        CPPUNIT_ASSERT(has_field(validate_events(batch.get(), "", catalogue(), out, is_array), "[1].orderingKey"));
    }

    void event_every_bad_field() {
        auto j = parse(R"({"eventCode":"nope","resellerId":"","merchantId":"m m","eventDate":1.5,"data":[],"idempotencyKey":7,"x":1})");
        std::vector<EventInput> out;
        bool is_array;
        FieldErrors errs = validate_events(j.get(), "", catalogue(), out, is_array);
        for (const char* f : {"eventCode", "resellerId", "portfolioId", "merchantId", "eventDate", "data",
                              "idempotencyKey", "x"})
            CPPUNIT_ASSERT_MESSAGE(std::string(f) + " missing in " + fields(errs), has_field(errs, f));
        CPPUNIT_ASSERT(out.empty());
        auto neg = parse(R"({"eventCode":"billing.subscription-created","resellerId":"R","portfolioId":"P","eventDate":-1,"data":{}})");
        CPPUNIT_ASSERT(has_field(validate_events(neg.get(), "", catalogue(), out, is_array), "eventDate"));
        auto nodata = parse(R"({"eventCode":"billing.subscription-created","resellerId":"R","portfolioId":"P"})");
        CPPUNIT_ASSERT(has_field(validate_events(nodata.get(), "", catalogue(), out, is_array), "data"));
    }

    void event_batch_index_in_field() {
        auto j = parse(R"([{"eventCode":"billing.subscription-created","resellerId":"R","portfolioId":"P","data":{}},
            {"eventCode":"billing.subscription-created","resellerId":"R","portfolioId":"P","data":{}},
            5,
            {"eventCode":"bad","resellerId":"R","portfolioId":"P","data":{}}])");
        std::vector<EventInput> out;
        bool is_array = false;
        FieldErrors errs = validate_events(j.get(), "", catalogue(), out, is_array);
        CPPUNIT_ASSERT(is_array);
        CPPUNIT_ASSERT_MESSAGE(fields(errs), has_field(errs, "[3].eventCode"));
        CPPUNIT_ASSERT(has_field(errs, "[2]"));
        CPPUNIT_ASSERT(!has_field(errs, "[0].eventCode"));
        CPPUNIT_ASSERT(out.empty());  // all or nothing
    }

    void event_batch_limits() {
        std::vector<EventInput> out;
        bool is_array;
        auto empty = parse("[]");
        CPPUNIT_ASSERT(has_field(validate_events(empty.get(), "", catalogue(), out, is_array), ""));
        std::string one = R"({"eventCode":"billing.subscription-created","resellerId":"R","portfolioId":"P","data":{}})";
        std::string many = "[" + one;
        for (int i = 1; i < 1000; ++i) many += "," + one;
        auto thousand = parse(many + "]");
        CPPUNIT_ASSERT(validate_events(thousand.get(), "", catalogue(), out, is_array).empty());
        CPPUNIT_ASSERT_EQUAL(size_t(1000), out.size());
        auto too_many = parse(many + "," + one + "]");
        CPPUNIT_ASSERT(has_field(validate_events(too_many.get(), "", catalogue(), out, is_array), ""));
        CPPUNIT_ASSERT(out.empty());
    }

    void event_batch_rejects_header_key() {
        auto j = parse(R"([{"eventCode":"billing.subscription-created","resellerId":"R","portfolioId":"P","data":{}}])");
        std::vector<EventInput> out;
        bool is_array;
        CPPUNIT_ASSERT(has_field(validate_events(j.get(), "k", catalogue(), out, is_array), "Idempotency-Key"));
    }

    // 60,000 unknown members: the first 50 errors, then only their number.
    void errors_stop_at_fifty() {
        std::string body = R"({"eventCode":"billing.subscription-created","resellerId":"R","portfolioId":"P","data":{})";
        for (int i = 0; i < 60000; ++i) body += ",\"u" + std::to_string(i) + "\":1";
        auto j = parse(body + "}");
        std::vector<EventInput> out;
        bool is_array;
        FieldErrors errs = validate_events(j.get(), "", catalogue(), out, is_array);
        CPPUNIT_ASSERT_EQUAL(FieldErrors::kMaxFieldErrors, errs.size());
        CPPUNIT_ASSERT_EQUAL(size_t(60000) - FieldErrors::kMaxFieldErrors, errs.more());
        CPPUNIT_ASSERT(out.empty());
        FieldErrors few{{"a", "x"}, {"b", "y"}};
        CPPUNIT_ASSERT_EQUAL(size_t(2), few.size());
        CPPUNIT_ASSERT_EQUAL(size_t(0), few.more());
    }

    void event_top_level_type() {
        std::string err;
        wh::JsonPtr j(json_integer(5));
        std::vector<EventInput> out;
        bool is_array;
        CPPUNIT_ASSERT(has_field(validate_events(j.get(), "", catalogue(), out, is_array), ""));
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(ApiValidateTest, "api_validate");

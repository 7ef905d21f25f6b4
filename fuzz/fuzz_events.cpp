// POST /events body validation (mod_webhook/core/validate.hpp): parse_json_body,
// validate_events, and the problem document a rejection becomes.
// Input: the request body; an optional first line "Idempotency-Key: VALUE\n" is the header.
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "problem.hpp"
#include "target.hpp"
#include "util.hpp"
#include "validate.hpp"

using namespace wh::api;

namespace {

const Catalogue& catalogue() {
    static const Catalogue c = {
        "billing.allocation-created",      "billing.payment-option-created",
        "billing.payment-option-modified", "billing.subscription-created",
        "billing.subscription-modified",   "billing.transaction-created",
        "management.merchant-created",     "management.merchant-modified",
        "management.terminal-created",     "management.terminal-modified",
        "processing.chargeback-processed", "processing.noc-processed",
        "processing.return-processed",     "processing.reversal-processed"};
    return c;
}

bool no_controls(const std::string& s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string body(reinterpret_cast<const char*>(data), size);
    std::string header_key;
    static const std::string kHeader = "Idempotency-Key: ";
    if (body.compare(0, kHeader.size(), kHeader) == 0) {
        size_t nl = body.find('\n');
        if (nl == std::string::npos) nl = body.size();
        header_key = body.substr(kHeader.size(), nl - kHeader.size());
        body.erase(0, nl == body.size() ? nl : nl + 1);
    }

    std::string perr;
    wh::JsonPtr json = parse_json_body(body, perr);
    if (!json) {
        FUZZ_CHECK(!perr.empty());
        // the 400 problem document quotes the parser: it must still be valid JSON
        HttpResponse r = problem(400, perr);
        FUZZ_CHECK(wh::json_parse(r.body) != nullptr);
        return 0;
    }

    std::vector<EventInput> events;
    bool is_array = false;
    FieldErrors errs = validate_events(json.get(), header_key, catalogue(), events, is_array);
    if (!errs.empty()) {
        FUZZ_CHECK(events.empty());
        for (const auto& e : errs) FUZZ_CHECK(!e.message.empty());
        HttpResponse r = problem(422, "the request has invalid fields", errs);
        FUZZ_CHECK(wh::json_parse(r.body) != nullptr);
        return 0;
    }
    // Accepted: everything the store will write is within the contract.
    FUZZ_CHECK(!events.empty() && events.size() <= kMaxBatch);
    FUZZ_CHECK(is_array || events.size() == 1);
    if (is_array) FUZZ_CHECK(header_key.empty());
    for (const auto& ev : events) {
        FUZZ_CHECK(catalogue().count(ev.event_code) == 1);
        FUZZ_CHECK(wh::valid_scope_id(ev.reseller_id));
        FUZZ_CHECK(wh::valid_scope_id(ev.portfolio_id));
        if (ev.merchant_id) FUZZ_CHECK(wh::valid_scope_id(*ev.merchant_id));
        if (ev.ordering_key) FUZZ_CHECK(wh::valid_ordering_key(*ev.ordering_key));
        if (ev.event_date) FUZZ_CHECK(*ev.event_date >= 0 && *ev.event_date <= kMaxEventDate);
        wh::JsonPtr d = wh::json_parse(ev.data_json);
        FUZZ_CHECK(d && json_is_object(d.get()));
        if (ev.idempotency_key) {
            const std::string& k = *ev.idempotency_key;
            FUZZ_CHECK(!k.empty() && utf8_length(k) <= kMaxIdempotencyKey && no_controls(k));
        }
    }
    if (!is_array && !header_key.empty())
        FUZZ_CHECK(events[0].idempotency_key && *events[0].idempotency_key == header_key);
    return 0;
}

// The notification on the wire (docs/contract.md §5): its body and the fixed parts of its
// headers. One implementation for the worker, which sends it, and the module, which shows it
// (GET /deliveries/{notificationId} "request"). Pure, unit-tested (test_worker_payload.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wh {

struct PayloadFields {
    std::string notification_id;
    std::string event_code;
    std::string event_date;  // epoch milliseconds as stored (BIGINT text)
    std::string data_type;
    std::string reseller_id;
    std::string portfolio_id;
    std::optional<std::string> merchant_id;
    // The stored JSON object, embedded as is (numbers keep their digits). Shared: every
    // notification of an event points at the one copy loaded by the claim.
    std::shared_ptr<const std::string> data;
};

// A body in three parts, so that the notifications of one event hold one copy of its data
// (1 MiB to 256 endpoints is 1 MiB, not 256): `prefix` is this notification's own
// {"notificationId":…,…,"data": (a few hundred bytes), then the shared data (its bytes
// [data_begin, data_begin + data_size): surrounding whitespace left out), then "}".
struct Payload {
    std::string prefix;
    std::shared_ptr<const std::string> data;
    size_t data_begin = 0, data_size = 0;

    size_t size() const { return prefix.size() + data_size + 1; }
    // The three parts in order (for signing).
    std::vector<std::string_view> parts() const;
    // Copies the body's bytes from `offset` into buf (at most n); returns how many.
    size_t copy(size_t offset, char* buf, size_t n) const;
    // The whole body in one string (tests; the worker sends the parts).
    std::string str() const;
};

// A JSON string literal with quotes; control characters, '"' and '\' escaped, UTF-8 kept.
std::string json_quote(const std::string& s);

// Builds {"notificationId":…,"eventCode":…,"eventDate":<number>,"dataType":…,"resellerId":…,
// "portfolioId":…[,"merchantId":…],"data":{…}} in exactly that order, compact. Returns false
// (and says why in err) when eventDate is not an integer or data is not a JSON object.
bool build_payload(const PayloadFields& f, Payload& out, std::string* err = nullptr);
// The same body in one string.
bool build_payload(const PayloadFields& f, std::string& body, std::string* err = nullptr);

// The request's header names and fixed values. webhook-timestamp and webhook-signature are
// made per attempt; Authorization (Basic) is sent when the endpoint has a password.
inline constexpr const char* kNotificationContentType = "application/json";
inline constexpr const char* kHeaderWebhookId = "webhook-id";
inline constexpr const char* kHeaderWebhookTimestamp = "webhook-timestamp";
inline constexpr const char* kHeaderWebhookSignature = "webhook-signature";
// "mod_webhook/<version>", the User-Agent of every notification.
const char* notification_user_agent();

}  // namespace wh

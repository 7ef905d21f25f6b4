// The notification body on the wire (DESIGN.md section 5). Pure, unit-tested.
#pragma once

#include <optional>
#include <string>

namespace wh::worker {

struct PayloadFields {
    std::string notification_id;
    std::string event_code;
    std::string event_date;  // epoch milliseconds as stored (BIGINT text)
    std::string data_type;
    std::string reseller_id;
    std::string portfolio_id;
    std::optional<std::string> merchant_id;
    std::string data;  // the stored JSON object, embedded as is (numbers keep their digits)
};

// A JSON string literal with quotes; control characters, '"' and '\' escaped, UTF-8 kept.
std::string json_quote(const std::string& s);

// Builds {"notificationId":…,"eventCode":…,"eventDate":<number>,"dataType":…,"resellerId":…,
// "portfolioId":…[,"merchantId":…],"data":{…}} in exactly that order, compact. Returns false
// (and says why in err) when eventDate is not an integer or data is not a JSON object.
bool build_payload(const PayloadFields& f, std::string& body, std::string* err = nullptr);

}  // namespace wh::worker

// Acknowledgement judging (worker/judge.hpp): judge_response on any reply body, plus
// judge_transport_error, plan_after_attempt and sanitize_text on the numbers and text of it.
// Input: "STATUS MODE ID\nBODY" (e.g. "200 notification-id ntf_1\n{...}"); a first line that
// does not parse leaves status 200, mode notification-id, id "ntf_1" and the input as BODY.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>

#include "fuzz_check.hpp"
#include "judge.hpp"
#include "json.hpp"

using namespace wh::worker;

namespace {

bool printable(const std::string& s) {
    for (unsigned char c : s)
        if (c < 0x20 || c >= 0x7f) return false;
    return true;
}

void check_verdict(const Verdict& v) {
    static const std::set<std::string> kClasses = {
        "http-status", "redirect", "no-ack", "wrong-ack", "blocked-target", "timeout",
        "connect",     "tls",      "network", "bad-url",  "bad-reply", "header-too-large", "other"};
    if (v.success) {
        FUZZ_CHECK(v.error_class.empty());
    } else {
        FUZZ_CHECK(kClasses.count(v.error_class) == 1);
        FUZZ_CHECK(v.message.size() <= 500);
    }
    FUZZ_CHECK(printable(v.message));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    long status = 200;
    std::string mode_text = "notification-id", id = "ntf_1", body = in;
    size_t nl = in.find('\n');
    if (nl != std::string::npos && nl < 200) {
        std::istringstream first(in.substr(0, nl));
        long s;
        std::string m, i;
        if (first >> s >> m >> i) {
            status = s;
            mode_text = m;
            id = i;
            body = in.substr(nl + 1);
        }
    }
    if (body.size() > 65536) body.resize(65536);  // the worker keeps at most 64 KiB
    AckMode mode = parse_ack_mode(mode_text);
    FUZZ_CHECK((mode == AckMode::status) == (mode_text == "status"));

    // libcurl only ever reports 100..599; judge whatever the first line says.
    Verdict v = judge_response(mode, id, status, body);
    check_verdict(v);
    if (v.success) {
        FUZZ_CHECK(status >= 200 && status < 300);
        if (mode == AckMode::notification_id) {
            wh::JsonPtr j = wh::json_parse(body, nullptr, 0);
            FUZZ_CHECK(j && json_is_object(j.get()) && json_object_get(j.get(), "notificationId"));
        }
    } else if (status >= 200 && status < 300) {
        FUZZ_CHECK(mode == AckMode::notification_id);
    }

    // the same bytes as a transport failure and as the inputs of the re-delivery plan
    int curl_code = size ? int(data[0]) : 0;
    check_verdict(judge_transport_error(curl_code, body.substr(0, 300), size > 1 && (data[1] & 1), id));
    static const std::vector<long long> schedule = {1000, 5000, 60000};
    unsigned attempt = size > 2 ? data[2] % 6 : 1;
    long long retry_after = size > 10 ? std::strtoll(body.substr(0, 20).c_str(), nullptr, 10) : 0;
    Plan p = plan_after_attempt(v.success, attempt, schedule, status, retry_after);
    if (v.success) FUZZ_CHECK(p.status == Plan::delivered);
    FUZZ_CHECK(p.delay_ms >= 0 && p.delay_ms <= kRetryAfterCapMs);
    if (p.status == Plan::failed) FUZZ_CHECK(!v.success && status != 410);

    std::string clean = sanitize_text(body, 512);
    FUZZ_CHECK(clean.size() <= 512 && clean.size() == std::min<size_t>(body.size(), 512) && printable(clean));
    return 0;
}

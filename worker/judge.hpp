// Judging a receiver's reply and deciding what happens next. Pure, unit-tested.
#pragma once

#include <string>
#include <vector>

namespace wh::worker {

enum class AckMode { notification_id, status };

// "notification-id" or "status"; anything else is treated as the safe default.
AckMode parse_ack_mode(const std::string& s);

struct Verdict {
    bool success = false;
    std::string error_class;  // "" on success; http-status, redirect, no-ack, wrong-ack, ...
    std::string message;      // human-readable, ASCII, never holds credentials
};

// An HTTP reply came back (status 100..599); body is what was kept of it (at most 64 KiB).
//   notification-id: 2xx and a JSON object whose "notificationId" equals ours (a string, or a
//                    number whose decimal text equals it);
//   status:          any 2xx.
// 3xx is "redirect" (never followed), other statuses "http-status".
Verdict judge_response(AckMode mode, const std::string& notification_id, long http_status,
                       const std::string& body);

// A transfer that ended without a complete HTTP reply. curl_code is a CURLcode; `blocked` is
// set when the address policy refused the address libcurl was about to dial.
// The message never names the blocked address (integrators read it; the worker logs it).
Verdict judge_transport_error(int curl_code, const std::string& curl_error, bool blocked);

// What becomes of a delivery after an attempt.
struct Plan {
    enum Status { delivered, pending, failed } status = pending;
    long long delay_ms = 0;         // pending: next attempt after this long (DB clock)
    bool disable_endpoint = false;  // the receiver said 410 Gone
};

// Longest a Retry-After may push the next attempt.
constexpr long long kRetryAfterCapMs = 24LL * 3600 * 1000;

// attempt_no is the number of this attempt (1 = first). schedule_ms[i] is the wait after
// failure i+1; a failure past the end of the schedule is final. retry_after_s (> 0) from a
// 429/503 reply pushes the next attempt to max(schedule delay, Retry-After capped at 24 h).
// 410 Gone disables the endpoint and keeps the delivery pending (held until re-enabled).
Plan plan_after_attempt(bool success, unsigned attempt_no, const std::vector<long long>& schedule_ms,
                        long http_status, long long retry_after_s);

// Keeps printable ASCII (others become '?') and cuts to max bytes: safe for VARCHAR columns.
std::string sanitize_text(const std::string& s, size_t max);

}  // namespace wh::worker

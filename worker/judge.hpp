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
// test: a test notification (POST /endpoints/{id}/test) gets one attempt: delivered or
// failed, never re-scheduled, and its reply (410 included) never changes the endpoint.
Plan plan_after_attempt(bool success, unsigned attempt_no, const std::vector<long long>& schedule_ms,
                        long http_status, long long retry_after_s, bool test = false);

// The timeout breaker (worker/README.md "Endpoints that keep timing out"): an endpoint whose
// last `after` attempts (or more) all timed out gets one delivery in flight and a shorter
// request timeout until it sends any HTTP reply again. after = 0: never.
struct Breaker {
    unsigned after = 5;
    long timeout_ms = 5000;
    bool open(unsigned consecutive_timeouts) const { return after > 0 && consecutive_timeouts >= after; }
    // Deliveries in flight an endpoint may have (all workers).
    unsigned cap(unsigned per_endpoint_cap, unsigned consecutive_timeouts) const {
        return open(consecutive_timeouts) ? 1u : per_endpoint_cap;
    }
    // The request timeout of an attempt: never longer than the normal one.
    long request_timeout_ms(long normal_ms, unsigned consecutive_timeouts) const {
        return open(consecutive_timeouts) && timeout_ms < normal_ms ? timeout_ms : normal_ms;
    }
};

// How one endpoint's count of timeouts in a row changes over its attempts, in order: a
// timeout adds one; any HTTP reply (success or not) resets it; other failures (refused,
// TLS, blocked…) leave it as it is (they cost no slot time).
struct TimeoutCount {
    bool reset = false;  // set to `add` rather than increased by it
    unsigned add = 0;
    void attempt(bool timed_out, bool replied) {
        if (replied) reset = true, add = 0;
        else if (timed_out) ++add;
    }
    // Whether the stored count changes, given its value when the attempts were claimed
    // (a reset of a count known to be 0 writes nothing: the common case costs no UPDATE).
    bool changes(unsigned claimed_count) const { return add > 0 || (reset && claimed_count > 0); }
};

// Keeps printable ASCII (others become '?') and cuts to max bytes: safe for VARCHAR columns.
std::string sanitize_text(const std::string& s, size_t max);

}  // namespace wh::worker

#include "judge.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "json.hpp"

namespace wh::worker {

AckMode parse_ack_mode(const std::string& s) {
    return s == "status" ? AckMode::status : AckMode::notification_id;
}

std::string sanitize_text(const std::string& s, size_t max) {
    std::string out;
    out.reserve(std::min(s.size(), max));
    for (unsigned char c : s) {
        if (out.size() >= max) break;
        out += (c >= 0x20 && c < 0x7f) ? char(c) : '?';
    }
    return out;
}

namespace {

Verdict fail(const std::string& cls, const std::string& msg) {
    Verdict v;
    v.error_class = cls;
    v.message = sanitize_text(msg, 500);
    return v;
}

}  // namespace

Verdict judge_response(AckMode mode, const std::string& notification_id, long http_status,
                       const std::string& body) {
    std::string st = std::to_string(http_status);
    if (http_status >= 300 && http_status < 400)
        return fail("redirect", "HTTP " + st + ": redirects are not followed; register the final URL");
    if (http_status < 200 || http_status >= 300)
        return fail("http-status", "HTTP " + st + " from the receiver");
    if (mode == AckMode::status) {
        Verdict ok;
        ok.success = true;
        ok.message = "HTTP " + st;
        return ok;
    }
    if (body.find_first_not_of(" \t\r\n") == std::string::npos)
        return fail("no-ack", "HTTP " + st + " with an empty body; expected {\"notificationId\": \"" +
                                  notification_id + "\"}");
    JsonPtr j = json_parse(body, nullptr, 0);
    if (!j)
        return fail("no-ack", "HTTP " + st + " with a body that is not JSON; expected {\"notificationId\": \"" +
                                  notification_id + "\"}");
    if (!json_is_object(j.get()))
        return fail("no-ack", "HTTP " + st + " with JSON that is not an object; expected {\"notificationId\": \"" +
                                  notification_id + "\"}");
    json_t* id = json_object_get(j.get(), "notificationId");
    if (!id)
        return fail("no-ack", "HTTP " + st + " without notificationId in the reply");
    std::string got;
    if (json_is_string(id)) {
        got.assign(json_string_value(id), json_string_length(id));
    } else if (json_is_integer(id)) {
        got = std::to_string(json_integer_value(id));
    } else if (json_is_real(id)) {
        // 12345.0 is the number 12345; anything with a fraction cannot match an id.
        double d = json_real_value(id);
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.0f", d);
            got = buf;
        } else {
            got = "<number>";
        }
    } else {
        return fail("wrong-ack", "HTTP " + st + ": notificationId in the reply is neither a string nor a number");
    }
    if (got != notification_id)
        return fail("wrong-ack", "HTTP " + st + ": reply acknowledged notificationId '" +
                                     got.substr(0, 100) + "', expected '" + notification_id + "'");
    Verdict ok;
    ok.success = true;
    ok.message = "HTTP " + st + " acknowledged";
    return ok;
}

static const char* const kHeadersTooLarge =
    "the reply's headers are larger than the worker accepts (100 KiB for one header, 300 KiB in all)";

Verdict judge_transport_error(int curl_code, const std::string& curl_error, bool blocked) {
    // The address stays out of the message (GET /deliveries shows it to the integrator, who
    // must not map internal DNS through it); the worker logs it (WH00120).
    if (blocked)
        return fail("blocked-target", "the URL's host is not an allowed target (allow_private_targets)");
    // Only a value of the enum may become a CURLcode (anything else is undefined behaviour,
    // found by fuzz/fuzz_judge); an unknown code is "other".
    bool known = curl_code >= 0 && curl_code < int(CURL_LAST);
    CURLcode c = known ? CURLcode(curl_code) : CURL_LAST;
    std::string detail = !curl_error.empty() ? curl_error
                         : known ? std::string(curl_easy_strerror(c))
                                 : "libcurl error " + std::to_string(curl_code);
    switch (c) {
        case CURLE_OPERATION_TIMEDOUT:
            return fail("timeout", detail);
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
            return fail("connect", detail);
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_SHUTDOWN_FAILED:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
        case CURLE_SSL_ENGINE_INITFAILED:
        case CURLE_USE_SSL_FAILED:
            return fail("tls", detail);
        case CURLE_RECV_ERROR:
            // libcurl 7.88+: reply headers over 300 KiB in all
            if (curl_error.find("Too large response headers") != std::string::npos)
                return fail("header-too-large", kHeadersTooLarge + (" (" + detail + ")"));
            return fail("network", detail);
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
            return fail("network", detail);
        case CURLE_WEIRD_SERVER_REPLY:
            return fail("bad-reply", detail);
        case CURLE_UNSUPPORTED_PROTOCOL:
            // libcurl reports a reply without a status line (HTTP/0.9) with this code too
            if (curl_error.find("HTTP/0.9") != std::string::npos)
                return fail("bad-reply", "the reply has no HTTP status line (HTTP/0.9)");
            return fail("bad-url", detail);
        case CURLE_URL_MALFORMAT:
            return fail("bad-url", detail);
        // libcurl before 8.6 reports one reply header over its 100 KiB cap as "Out of memory"
        // with no text (its header buffer is capped; no allocation failed).
        case CURLE_OUT_OF_MEMORY:
#if LIBCURL_VERSION_NUM >= 0x080600
        case CURLE_TOO_LARGE:
#endif
            return fail("header-too-large", kHeadersTooLarge);
        default:
            return fail("other", detail);
    }
}

Plan plan_after_attempt(bool success, unsigned attempt_no, const std::vector<long long>& schedule_ms,
                        long http_status, long long retry_after_s, bool test) {
    Plan p;
    if (success) {
        p.status = Plan::delivered;
        return p;
    }
    if (test) {
        p.status = Plan::failed;
        return p;
    }
    bool final = attempt_no == 0 || attempt_no > schedule_ms.size();
    long long delay = final ? 0 : schedule_ms[attempt_no - 1];
    if ((http_status == 429 || http_status == 503) && retry_after_s > 0) {
        long long ra = retry_after_s > kRetryAfterCapMs / 1000 ? kRetryAfterCapMs : retry_after_s * 1000;
        delay = std::max(delay, ra);
    }
    if (http_status == 410) {
        // Held, not failed: it goes out again (per the schedule) once someone re-enables the
        // endpoint.
        p.disable_endpoint = true;
        p.status = Plan::pending;
        p.delay_ms = delay;
        return p;
    }
    if (final) {
        p.status = Plan::failed;
        return p;
    }
    p.status = Plan::pending;
    p.delay_ms = delay;
    return p;
}

}  // namespace wh::worker

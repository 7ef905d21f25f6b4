// Keeping the credentials the worker sent out of what it stores: a receiver that echoes the
// request (headers, body) in its reply must not put them into webhook_attempts. Pure, unit-tested.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace wh::worker {

// Every form in which the credentials of one request could come back: each signing secret
// ("whsec_…" and its base64 key without the prefix), and with Basic auth the password,
// "user:password" and its base64 (the Authorization value); each also JSON-escaped (with and
// without "\/") and percent-encoded. Longest first, no empty or repeated form.
std::vector<std::string> credential_forms(const std::vector<std::string>& signing_secrets,
                                          const std::optional<std::string>& username,
                                          const std::optional<std::string>& password);

// `reply` with every occurrence of any form (overlapping ones merged) replaced by
// "[redacted]", cut to `max` bytes. When something was cut (here, or earlier: reply_was_cut),
// a trailing start of a form (a credential split by the cut) is removed too.
std::string redact_excerpt(const std::string& reply, const std::vector<std::string>& forms, size_t max,
                           bool reply_was_cut);

}  // namespace wh::worker

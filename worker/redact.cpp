#include "redact.hpp"

#include <algorithm>
#include <cstdio>

#include "crypto.hpp"
#include "payload.hpp"

namespace wh::worker {

namespace {

const std::string kSecretPrefix = "whsec_";
const std::string kMark = "[redacted]";

// As a JSON string's content: the payload's own escaping (json_quote, short forms such as
// \n), optionally with "/" as "\/".
std::string json_escaped(const std::string& s, bool slash) {
    std::string q = json_quote(s);
    std::string out = q.substr(1, q.size() - 2);
    if (!slash) return out;
    std::string with;
    for (char c : out) {
        if (c == '/') with += "\\/";
        else with += c;
    }
    return with;
}

std::string percent_encoded(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += char(c);
        } else {
            char p[4];
            std::snprintf(p, sizeof p, "%%%02X", c);
            out += p;
        }
    }
    return out;
}

void add_forms(std::vector<std::string>& out, const std::string& s) {
    if (s.empty()) return;
    for (const std::string& f : {s, json_escaped(s, false), json_escaped(s, true), percent_encoded(s)})
        out.push_back(f);
}

// Length of the longest proper start of a form that `text` ends with.
size_t partial_tail(const std::string& text, const std::vector<std::string>& forms) {
    size_t cut = 0;
    for (const auto& f : forms)
        for (size_t k = std::min(f.size() - 1, text.size()); k > cut; --k)
            if (text.compare(text.size() - k, k, f, 0, k) == 0) {
                cut = k;
                break;
            }
    return cut;
}

}  // namespace

std::vector<std::string> credential_forms(const std::vector<std::string>& signing_secrets,
                                          const std::optional<std::string>& username,
                                          const std::optional<std::string>& password) {
    std::vector<std::string> out;
    for (const auto& s : signing_secrets) {
        add_forms(out, s);
        if (s.compare(0, kSecretPrefix.size(), kSecretPrefix) == 0) add_forms(out, s.substr(kSecretPrefix.size()));
    }
    if (username && password) {
        std::string pair = *username + ":" + *password;
        add_forms(out, *password);
        add_forms(out, pair);
        add_forms(out, base64_encode(pair));
    }
    std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
        return a.size() != b.size() ? a.size() > b.size() : a < b;
    });
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::string redact_excerpt(const std::string& reply, const std::vector<std::string>& forms, size_t max,
                           bool reply_was_cut) {
    // Mark the bytes every occurrence covers, then write each marked run as one mark: a
    // credential overlapping another leaves no piece of either.
    std::vector<bool> hidden;
    for (const auto& f : forms) {
        for (size_t at = reply.find(f); at != std::string::npos; at = reply.find(f, at + 1)) {
            if (hidden.empty()) hidden.assign(reply.size(), false);
            std::fill(hidden.begin() + long(at), hidden.begin() + long(at + f.size()), true);
        }
    }
    std::string out;
    size_t i = 0;  // reply bytes consumed
    if (hidden.empty()) {
        out = reply.substr(0, max);
        i = out.size();
    } else {
        for (; i < reply.size() && out.size() < max; ++i) {
            if (!hidden[i]) out += reply[i];
            else if (i == 0 || !hidden[i - 1]) out += kMark;
        }
    }
    bool cut = reply_was_cut || i < reply.size() || out.size() > max;
    if (out.size() > max) out.resize(max);
    if (cut) out.resize(out.size() - partial_tail(out, forms));
    return out;
}

}  // namespace wh::worker

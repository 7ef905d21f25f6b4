// Registration input validation (mod_webhook/core/validate.hpp): POST /endpoints and
// PATCH /endpoints/{id} bodies, POST /endpoints/{id}/recover, and the list query strings.
// Input, chosen by its first line:
//   "PATCH\n<body>"    validate_endpoint_patch
//   "RECOVER\n<body>"  validate_recover (RFC 3339 parsing)
//   "?<query>"         parse_query + validate_list_query + validate_delivery_query
//   anything else      validate_endpoint_create on the whole input
// The target check never resolves names (no DNS in a fuzzer): IP literals go through the
// real AddressPolicy ("Off": public addresses only), names ending in ".invalid" are refused.
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
    static const Catalogue c = {"billing.subscription-created", "management.merchant-created",
                                "processing.chargeback-processed", "processing.noc-processed"};
    return c;
}

const ApiConfig& config() {
    static const ApiConfig c = [] {
        ApiConfig cfg;
        cfg.policy.parse("Off");
        cfg.check_target = [](const wh::Url& u, const wh::AddressPolicy& p) -> std::string {
            wh::IpAddr ip;
            if (wh::parse_ip_literal(u.host, ip)) return p.permits(ip) ? "" : "target refused";
            if (u.host.size() >= 8 && u.host.compare(u.host.size() - 8, 8, ".invalid") == 0)
                return "does not resolve";
            return "";
        };
        return cfg;
    }();
    return c;
}

bool no_controls(const std::string& s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return false;
    return true;
}

// A URL the validator accepted parses, and its literal (if any) is public.
void check_url(const std::string& s) {
    wh::Url u;
    FUZZ_CHECK(wh::parse_url(s, u).empty());
    FUZZ_CHECK(!u.host.empty() && u.port >= 1 && u.port <= 65535 && !u.path.empty() && u.path[0] == '/');
    wh::IpAddr ip;
    if (wh::parse_ip_literal(u.host, ip)) FUZZ_CHECK(!wh::is_non_public(ip));
}

void check_event_types(const std::vector<std::string>& v) {
    FUZZ_CHECK(!v.empty());
    std::set<std::string> seen;
    for (const auto& t : v) FUZZ_CHECK(catalogue().count(t) && seen.insert(t).second);
}

void check_description(const std::string& d) {
    FUZZ_CHECK(utf8_length(d) <= kMaxDescription);
    for (unsigned char c : d) FUZZ_CHECK(c >= 0x20 && c != 0x7F);  // no control characters
}

void check_credentials(const std::optional<std::string>& user, const std::optional<std::string>& pass) {
    FUZZ_CHECK(user.has_value() == pass.has_value());
    if (!user) return;
    FUZZ_CHECK(!user->empty() && utf8_length(*user) <= kMaxUsername && user->find(':') == std::string::npos &&
               no_controls(*user));
    FUZZ_CHECK(!pass->empty() && pass->size() <= kMaxPassword);
}

void check_problem(const FieldErrors& errs) {
    for (const auto& e : errs) FUZZ_CHECK(!e.message.empty());
    HttpResponse r = problem(422, "the request has invalid fields", errs);
    FUZZ_CHECK(wh::json_parse(r.body) != nullptr);
}

void fuzz_query(const std::string& qs) {
    auto q = parse_query(qs);
    ListQuery lq;
    FieldErrors e1 = validate_list_query(q, lq);
    if (e1.empty()) {
        FUZZ_CHECK(lq.limit >= 1 && lq.limit <= kMaxListLimit);
        FUZZ_CHECK(!(lq.reseller_id && lq.portfolio_id));
        if (lq.reseller_id) FUZZ_CHECK(wh::valid_scope_id(*lq.reseller_id));
        if (lq.after) FUZZ_CHECK(wh::valid_scope_id(*lq.after) && lq.after->size() <= 32);
    }
    check_problem(e1);
    DeliveryListQuery dq;
    FieldErrors e2 = validate_delivery_query(q, catalogue(), dq);
    if (e2.empty()) {
        FUZZ_CHECK(dq.limit >= 1 && dq.limit <= kMaxListLimit);
        if (dq.event_code) FUZZ_CHECK(catalogue().count(*dq.event_code));
        if (dq.since && dq.until) FUZZ_CHECK(*dq.since <= *dq.until);
    }
    check_problem(e2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    if (!in.empty() && in[0] == '?') {
        fuzz_query(in.substr(1));
        return 0;
    }
    enum { create, patch, recover } kind = create;
    if (in.compare(0, 6, "PATCH\n") == 0) {
        kind = patch;
        in.erase(0, 6);
    } else if (in.compare(0, 8, "RECOVER\n") == 0) {
        kind = recover;
        in.erase(0, 8);
    }
    std::string perr;
    wh::JsonPtr json = parse_json_body(in, perr);
    if (!json) {
        FUZZ_CHECK(!perr.empty());
        FUZZ_CHECK(wh::json_parse(problem(400, perr).body) != nullptr);
        return 0;
    }
    if (kind == create) {
        EndpointInput ep;
        FieldErrors errs = validate_endpoint_create(json.get(), catalogue(), config(), ep);
        check_problem(errs);
        if (errs.empty()) {
            check_url(ep.url);
            FUZZ_CHECK(ep.scope_kind == "reseller" || ep.scope_kind == "portfolio");
            FUZZ_CHECK(wh::valid_scope_id(ep.scope_id));
            check_event_types(ep.event_types);
            check_credentials(ep.username, ep.password);
            if (ep.description) check_description(*ep.description);
            FUZZ_CHECK(ep.ack_mode == "notification-id" || ep.ack_mode == "status");
        }
    } else if (kind == patch) {
        EndpointPatch p;
        FieldErrors errs = validate_endpoint_patch(json.get(), catalogue(), config(), p);
        check_problem(errs);
        if (errs.empty()) {
            if (p.url) check_url(*p.url);
            if (p.event_types) check_event_types(*p.event_types);
            if (p.set_credentials) check_credentials(p.username, p.password);
            else FUZZ_CHECK(!p.username && !p.password);
            if (p.set_description && p.description) check_description(*p.description);
            if (p.ack_mode) FUZZ_CHECK(*p.ack_mode == "notification-id" || *p.ack_mode == "status");
        }
    } else {
        std::string since;
        FieldErrors errs = validate_recover(json.get(), since);
        check_problem(errs);
        if (errs.empty()) {
            // "YYYY-MM-DD HH:MM:SS.mmm", the DB's UTC DATETIME(3) text (1970 local time
            // with a positive offset is 1969 in UTC)
            FUZZ_CHECK(since.size() == 23 && since[4] == '-' && since[10] == ' ' && since[19] == '.');
            FUZZ_CHECK(since >= "1969-12-31 00:00:00.000" && since <= "9999-12-31 23:59:59.999");
        }
    }
    return 0;
}

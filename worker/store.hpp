// The worker's SQL, all through the shared wh::Db layer. Every write is one short
// transaction; times come from the database clock (NOW(3)).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "db.hpp"
#include "judge.hpp"
#include "payload.hpp"
#include "shares.hpp"

namespace wh::worker {

// Creates the deliveries for up to `limit` events not fanned out yet: one per non-deleted
// endpoint (disabled ones included: their deliveries are held) that subscribes to the
// event's code and whose scope is the event's reseller or portfolio; a test event
// (test_endpoint_id set) to that endpoint alone. Only events of the resellers in `share`.
// Returns events done.
size_t fan_out(Db& db, const Share& share = {}, unsigned limit = 500);

// Deliveries whose lease expired go back to pending (the attempt was never recorded, so
// `attempts` is given back). Returns how many.
uint64_t reap_expired_leases(Db& db, unsigned limit = 500);

using ScopeKey = std::pair<std::string, std::string>;  // (scope_kind, scope_id)

// Everything needed to send one claimed delivery.
struct Claimed {
    uint64_t id = 0;
    uint64_t event_id = 0;
    unsigned attempt_no = 0;  // attempts after the claim: this attempt's number
    uint64_t endpoint_id = 0;
    ScopeKey scope;  // the endpoint's
    std::string endpoint_public_id;
    std::string url;
    std::optional<std::string> username;
    std::optional<std::string> password_enc;
    std::string secret_enc;
    std::optional<std::string> prev_secret_enc;  // only while it still signs
    std::string ack_mode;
    unsigned endpoint_timeouts = 0;  // the endpoint's timeouts in a row when claimed (breaker)
    bool test = false;    // a test notification: one attempt, no effect on the endpoint's state
    PayloadFields event;  // event.notification_id is the delivery's
};

struct ClaimResult {
    std::vector<Claimed> claimed;
    bool full = false;  // due work was left because the free slots ran out
    std::map<uint64_t, ScopeKey> waiting;  // endpoints with due work left at their cap (and their scope)
    std::vector<uint64_t> lost;  // claimed but not loadable any more (ignored)
};

// The caps a claim keeps, all of them across every worker.
struct ClaimLimits {
    unsigned per_endpoint = 8;
    unsigned per_scope = 64;  // per (scope_kind, scope_id): all endpoints of a reseller / portfolio
    Breaker breaker;          // an endpoint whose breaker is open gets one in flight
};

// Claims up to `n` due deliveries of enabled, non-deleted endpoints for `owner`:
// SELECT … FOR UPDATE SKIP LOCKED, UPDATE to inflight with a lease, COMMIT (deadlocks
// retried), then loads what is needed to send them. Fair by construction: it takes each
// endpoint's oldest due deliveries (per-endpoint heads, oldest head first), at most
// the endpoint's cap minus what ALL workers have in flight for it, and within its scope's cap
// (all workers; exact: only the holder of the scope's lock row adds to its count), so
// neither a backlog nor a hanging receiver of one endpoint or of one scope's many endpoints
// can fill the batch (worker/README.md).
// `skip`: endpoints known to be at a cap (at_cap_here), left out of the reads. `share`: only
// endpoints of the scopes in it (shares.hpp).
ClaimResult claim(Db& db, const std::string& owner, unsigned n, unsigned lease_seconds, const ClaimLimits& limits,
                  const std::set<uint64_t>& skip = {}, const Share& share = {});

// Of the endpoints `waiting` at a cap, those this worker alone holds at it: its own in-flight
// deliveries (`mine`) fill the endpoint's cap or its scope's. They stay at it until one of
// those deliveries is recorded, whatever other workers do, so a claim can leave them out of
// its reads (a scope's capped backlog read on every claim slowed the claims for every
// other scope).
std::set<uint64_t> at_cap_here(const std::map<uint64_t, ScopeKey>& waiting, const std::vector<const Claimed*>& mine,
                               const ClaimLimits& limits);

// One attempt's result, as recorded in webhook_attempts.
struct Outcome {
    uint64_t delivery_id = 0;
    unsigned attempt_no = 0;
    uint64_t endpoint_id = 0;
    std::string notification_id;
    std::string endpoint_public_id;
    unsigned endpoint_timeouts = 0;  // Claimed::endpoint_timeouts
    bool test = false;               // Claimed::test: left out of the breaker and auto-disable
    long long duration_ms = 0;
    bool success = false;
    long http_status = 0;  // 0 = no HTTP reply
    std::string error_class;
    std::string error_message;
    std::string excerpt;   // first bytes of the reply (at most 4096)
    long long retry_after_s = 0;
    std::chrono::steady_clock::time_point started{};  // when the attempt began (unset: now - duration)
};

// For the breaker: the attempt ran into its timeout, or got an HTTP reply (a timeout wins:
// a status line without the rest of the reply is no answer).
inline bool timed_out(const Outcome& o) { return o.error_class == "timeout"; }
inline bool replied(const Outcome& o) { return o.http_status > 0 && !timed_out(o); }

enum class CompleteResult { recorded, lease_lost };

// One finished attempt and what follows from it (judge.hpp plan_after_attempt).
struct Finished {
    Outcome o;
    Plan plan;
};

// The statements that record the held rows of a batch (pure; unit-tested): one UPDATE of
// the deliveries (a CASE per column, fenced again by owner and status), one multi-row INSERT
// of the attempt rows, the endpoints' timeouts in a row where they change (breaker; "" when
// none does) and the endpoints a 410 disables. Test notifications change neither. `held[i]`: item i's lease is still
// ours (only those are written); `now` is when the statements run (for started_at).
struct RecordSql {
    std::string update_sql, insert_sql, breaker_sql;
    Params update_params, insert_params, breaker_params;
    std::vector<uint64_t> disable_endpoints;
    size_t rows = 0;  // items written
};
RecordSql record_sql(const std::string& owner, const std::vector<Finished>& batch, const std::vector<bool>& held,
                     std::chrono::steady_clock::time_point now);

// Records a whole batch of attempts in ONE transaction (one durable commit, however many):
// the batch's deliveries still leased to `owner` and inflight are locked (SELECT … FOR
// UPDATE), then only those are updated and get their attempt rows; an item whose lease was
// lost writes nothing. Deadlocks are retried. Returns, per item, whether it was recorded.
std::vector<bool> complete_batch(Db& db, const std::string& owner, const std::vector<Finished>& batch);

// One attempt alone: complete_batch of one.
CompleteResult complete(Db& db, const std::string& owner, const Outcome& o, const Plan& plan);

// Gives unfinished claims back (pending, lease cleared, attempt not counted), fenced by owner.
uint64_t release(Db& db, const std::string& owner, const std::vector<uint64_t>& ids);

// "1,2,3" for IN (…) lists of ids (integers only, nothing to escape).
std::string id_list(const std::vector<uint64_t>& ids);

}  // namespace wh::worker

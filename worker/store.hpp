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

namespace wh::worker {

// Creates the deliveries for up to `limit` events not fanned out yet: one per non-deleted
// endpoint (disabled ones included: their deliveries are held) that subscribes to the
// event's code and whose scope is the event's reseller or portfolio. Returns events done.
size_t fan_out(Db& db, unsigned limit = 500);

// Deliveries whose lease expired go back to pending (the attempt was never recorded, so
// `attempts` is given back). Returns how many.
uint64_t reap_expired_leases(Db& db, unsigned limit = 500);

// Everything needed to send one claimed delivery.
struct Claimed {
    uint64_t id = 0;
    unsigned attempt_no = 0;  // attempts after the claim: this attempt's number
    uint64_t endpoint_id = 0;
    std::string endpoint_public_id;
    std::string url;
    std::optional<std::string> username;
    std::optional<std::string> password_enc;
    std::string secret_enc;
    std::optional<std::string> prev_secret_enc;  // only while it still signs
    std::string ack_mode;
    PayloadFields event;  // event.notification_id is the delivery's
};

struct ClaimResult {
    std::vector<Claimed> claimed;
    bool full = false;  // due work was left because the free slots ran out
    std::set<uint64_t> waiting;  // endpoints with due work left because they are at their cap
    std::vector<uint64_t> lost;  // claimed but not loadable any more (ignored)
};

// Claims up to `n` due deliveries of enabled, non-deleted endpoints for `owner`:
// SELECT … FOR UPDATE SKIP LOCKED, UPDATE to inflight with a lease, COMMIT (deadlocks
// retried), then loads what is needed to send them. Fair by construction: it takes each
// endpoint's oldest due deliveries (per-endpoint heads, oldest head first), at most
// `per_endpoint_cap` minus what ALL workers have in flight for that endpoint, so neither a
// backlog nor a hanging receiver of one endpoint can fill the batch (worker/README.md).
ClaimResult claim(Db& db, const std::string& owner, unsigned n, unsigned lease_seconds,
                  unsigned per_endpoint_cap);

// One attempt's result, as recorded in webhook_attempts.
struct Outcome {
    uint64_t delivery_id = 0;
    unsigned attempt_no = 0;
    uint64_t endpoint_id = 0;
    std::string notification_id;
    std::string endpoint_public_id;
    long long duration_ms = 0;
    bool success = false;
    long http_status = 0;  // 0 = no HTTP reply
    std::string error_class;
    std::string error_message;
    std::string excerpt;   // first bytes of the reply (at most 4096)
    long long retry_after_s = 0;
    std::chrono::steady_clock::time_point started{};  // when the attempt began (unset: now - duration)
};

enum class CompleteResult { recorded, lease_lost };

// Records the attempt and moves the delivery on per `plan`, fenced by
// `id = ? AND lease_owner = ? AND status = 'inflight'`; a lost lease rolls everything back.
CompleteResult complete(Db& db, const std::string& owner, const Outcome& o, const Plan& plan);

// Gives unfinished claims back (pending, lease cleared, attempt not counted), fenced by owner.
uint64_t release(Db& db, const std::string& owner, const std::vector<uint64_t>& ids);

// "1,2,3" for IN (…) lists of ids (integers only, nothing to escape).
std::string id_list(const std::vector<uint64_t>& ids);

}  // namespace wh::worker

// SQL for the API, all through wh::Db (common/db.hpp). Throws wh::DbError.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto.hpp"
#include "db.hpp"
#include "notification.hpp"
#include "principal.hpp"
#include "render.hpp"
#include "validate.hpp"

namespace wh::api {

struct EventTypeRow {
    std::string code, module, data_type, description;
    std::string example;  // JSON object text: an example `data` of the type
};

std::vector<EventTypeRow> load_event_types(wh::Db& db);
Catalogue load_catalogue(wh::Db& db);
// The catalogue for event ingestion: cached per process for 10 s (prepared statement).
// Shared, not copied: no copy of the set (and its allocations) per event under the cache's
// mutex.
std::shared_ptr<const Catalogue> event_catalogue(wh::Db& db);
// Drops that cache (an INSERT failed on the event_code foreign key).
void forget_event_catalogue();
Principal load_principal(wh::Db& db, const std::string& username);

// A live (not deleted) endpoint by public id, or nullopt. for_update locks the row (inside
// a transaction).
std::optional<EndpointRow> find_endpoint(wh::Db& db, const std::string& public_id,
                                         bool for_update = false);

// Inserts endpoint + subscriptions in one transaction; returns the stored row, or nullopt
// when the scope already has `max_per_scope` live endpoints (WebhookMaxEndpointsPerScope).
// The scope's row in webhook_scopes is locked first, so concurrent registrations for one
// scope count one after the other and cannot pass the limit together. The secret and
// in.password are sealed with `box` for the new row's id (wh::credential_aad), in the same
// transaction, once the INSERT has given the id.
std::optional<EndpointRow> create_endpoint(wh::Db& db, const EndpointInput& in, const wh::SecretBox& box,
                                           const std::string& secret, const std::string& created_by,
                                           unsigned max_per_scope);

struct ListResult {
    std::vector<EndpointRow> rows;
    std::optional<std::string> next;
};
// nullopt when the cursor is not an endpoint the principal can see.
std::optional<ListResult> list_endpoints(wh::Db& db, const Principal& who, const ListQuery& q);

// Applies a validated patch to a visible endpoint; nullopt when it is gone or not the
// principal's. A new p.password is sealed with `box` (required then) for the endpoint's row.
std::optional<EndpointRow> patch_endpoint(wh::Db& db, const Principal& who,
                                          const std::string& public_id, const EndpointPatch& p,
                                          const wh::SecretBox* box);

// Soft delete + cancel pending deliveries; false when not found/visible.
bool delete_endpoint(wh::Db& db, const Principal& who, const std::string& public_id);

// New secret, sealed with `box` for the endpoint's row; the old one stays valid for 24 h
// (prev_secret_enc keeps its sealed value). nullopt when not found/visible.
std::optional<EndpointRow> rotate_secret(wh::Db& db, const Principal& who,
                                         const std::string& public_id, const wh::SecretBox& box,
                                         const std::string& secret);

// ---- deliveries ----

// A delivery of a live (not deleted) endpoint by notification id, or nullopt.
std::optional<DeliveryRow> find_delivery(wh::Db& db, const std::string& notification_id);
std::vector<AttemptRow> load_attempts(wh::Db& db, uint64_t delivery_id);

// What a delivery's notification is built from: the worker's body fields (common/
// notification.hpp) and whether its endpoint sends Basic authorization (a username and a
// password are set). nullopt when the delivery or its event is gone.
struct NotificationSource {
    wh::PayloadFields fields;
    bool basic_auth = false;
};
std::optional<NotificationSource> load_notification(wh::Db& db, uint64_t delivery_id);

struct DeliveryPage {
    std::vector<DeliveryRow> rows;  // newest first
    std::optional<std::string> next;
};
// nullopt when the cursor is not a delivery of this endpoint.
std::optional<DeliveryPage> list_deliveries(wh::Db& db, uint64_t endpoint_id, const DeliveryListQuery& q);

// The endpoint's figures for GET /endpoints/{id}/stats (docs/benchmark.md, "Portal reads",
// has the plans): its attempts since 24 h ago by the database clock, read from the index
// k_attempt_endpoint (sql/013_endpoint_stats.sql); its pending and in-flight deliveries
// from k_delivery_endpoint; its newest failed attempt, whenever it was.
EndpointStats load_endpoint_stats(wh::Db& db, uint64_t endpoint_id);

// Makes a pending/failed/delivered delivery due now (the worker sends it again). Returns
// false when it is in flight or cancelled (status tells which).
bool redeliver(wh::Db& db, uint64_t delivery_id, std::string& status);

// Makes every failed delivery of the endpoint created since `since_db` (UTC) due now.
uint64_t recover_failed(wh::Db& db, uint64_t endpoint_id, const std::string& since_db);

// The outcome of a test notification request (POST /endpoints/{id}/test).
struct TestSendResult {
    enum Kind { queued, not_found, disabled, rate_limited } kind = not_found;
    std::string notification_id;  // queued
    long long retry_after_s = 0;  // rate_limited: seconds until a slot frees
};

// Tests an endpoint may be sent per rolling minute.
constexpr unsigned kTestsPerMinute = 10;

// Queues one test notification of `event_code` (a catalogue code) to the visible, live
// endpoint `public_id` and nothing else: in one transaction, with the endpoint's row locked
// (so concurrent requests on any Apache child count one after the other), counts its tests
// of the last minute, then inserts the event (the type's example as data, the endpoint's
// scope id, fanned out already and fenced to the endpoint by test_endpoint_id) and its one
// delivery, whose notification id is returned.
TestSendResult queue_test(wh::Db& db, const Principal& who, const std::string& public_id,
                          const std::string& event_code);

struct EventResult {
    std::string event_id;
    bool duplicate = false;
};
// Inserts all events in one transaction (all or nothing; a single event is one autocommit
// statement); duplicates by (resellerId, idempotencyKey) return the first event's id and
// store nothing. When the commit's answer is lost (commit_outcome_unknown), the events are
// looked up by public id on a fresh connection: stored, they are answered as usual; not
// stored, or not known, the DbError is rethrown (503), with one WH00070 line either way.
std::vector<EventResult> insert_events(wh::Db& db, const std::vector<EventInput>& events);

// A new event's public id: "evt_" + 24 lowercase hex digits (96 random bits), the format
// of the column's default in sql/001_schema.sql.
std::string new_event_id();
// Whether e leaves the outcome of the statement that got it unknown: the connection broke
// after the statement was sent, so it may have committed.
bool commit_outcome_unknown(const wh::DbError& e);

}  // namespace wh::api

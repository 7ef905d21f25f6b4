-- Every event gets a non-NULL idempotency identity, so that keyless events never share a key.
-- The unique key (reseller_id, idempotency_key) allowed NULL keys. Galera certifies a write
-- set by the unique keys of the rows it touches, and a NULL part does not keep a key apart:
-- every keyless event of a reseller carried the same certification key, so an INSERT on one
-- node conflicted with the worker's UPDATE of fanned_out_at on another (error 1213).
--
-- idempotency_identity is the key when there is one, and otherwise U+0001 + public_id: a
-- key posted through the API cannot begin with a control character (check_idempotency_key
-- in mod_webhook/core/validate.cpp), so a derived identity never takes an integrator's key.
-- It is a generated column (STORED: a real column that Galera's keys and InnoDB's unique
-- check read like any other), so idempotency_key keeps its meaning (NULL = posted without a
-- key, as the API, the notifications and the admin views show it) and every INSERT — the
-- module's, the worker's system events, an outbox's (docs/outbox.md) — stays as it was.
-- uq_event_identity takes over uniqueness and the duplicate lookups from uq_event_idempotency:
-- a real key's identity is the key itself.
--
-- Adding a STORED column rebuilds the table; on Galera that DDL stalls the cluster for its
-- duration (docs/operations.md, "Schema changes on Galera").
-- Safe to re-run: IF NOT EXISTS / IF EXISTS.
ALTER TABLE webhook_events
  ADD COLUMN IF NOT EXISTS idempotency_identity VARCHAR(255)
      CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin
      AS (COALESCE(idempotency_key,
                   CONCAT(CHAR(1 USING utf8mb4) COLLATE utf8mb4_nopad_bin, public_id))) STORED,
  ADD UNIQUE KEY IF NOT EXISTS uq_event_identity (reseller_id, idempotency_identity),
  DROP INDEX IF EXISTS uq_event_idempotency;

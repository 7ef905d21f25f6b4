-- Fairness between scopes (worker/README.md "Claiming and fairness"). Safe to re-run:
-- IF NOT EXISTS / INSERT IGNORE.
--
-- 1. One lock row per scope (an endpoint's scope_kind + scope_id). The worker's claim locks
--    the scope rows of the endpoints it takes work from (FOR UPDATE SKIP LOCKED): only the
--    holder adds to a scope's in-flight count, so the per-scope cap (max_in_flight_per_scope)
--    holds across workers. Registration locks its scope's row the same way before it counts
--    the scope's endpoints (WebhookMaxEndpointsPerScope): two concurrent registrations cannot
--    both pass the limit. A scope without a row (an endpoint inserted by hand) gets one from
--    the next claim that meets it. scope_id compares byte for byte, trailing spaces included.
CREATE TABLE IF NOT EXISTS webhook_scopes (
  scope_kind  ENUM('reseller','portfolio') NOT NULL,
  scope_id    VARCHAR(64)  NOT NULL,
  created_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (scope_kind, scope_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

INSERT IGNORE INTO webhook_scopes (scope_kind, scope_id)
  SELECT DISTINCT scope_kind, scope_id FROM webhook_endpoints;

-- 2. The timeout breaker: the endpoint's attempts in a row that ended in a timeout (any HTTP
--    reply resets it to 0). Written with the attempt rows, in the recorder's transaction, so
--    every worker sees the same count; from breaker_after_timeouts on, the endpoint gets one
--    delivery in flight and the shorter breaker_request_timeout_ms.
ALTER TABLE webhook_endpoints
  ADD COLUMN IF NOT EXISTS consecutive_timeouts INT UNSIGNED NOT NULL DEFAULT 0;

-- GET /endpoints/{id}/stats (docs/registration-api.md) reads one endpoint's attempts of the
-- last 24 h and its newest failed attempt. webhook_attempts only knew its delivery, so those
-- reads joined every delivery the endpoint ever had. Each attempt now carries its endpoint
-- (the worker's recorder writes it with the attempt; rows from before are filled here), and
-- one index answers both reads without touching the table rows:
-- - the window: two ranges, (endpoint, 'success', since 24 h) and (endpoint, 'failure', since
--   24 h), with the duration read from the index entry;
-- - the newest failure: one backward dive into (endpoint, 'failure').
-- The plans and their timings with 1,000,000 deliveries: docs/benchmark.md ("Portal reads").
-- Safe to re-run: IF NOT EXISTS, and the fill only touches rows still without an endpoint.
ALTER TABLE webhook_attempts ADD COLUMN IF NOT EXISTS endpoint_id BIGINT UNSIGNED NULL;

UPDATE webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
   SET a.endpoint_id = d.endpoint_id
 WHERE a.endpoint_id IS NULL;

CREATE INDEX IF NOT EXISTS k_attempt_endpoint
    ON webhook_attempts (endpoint_id, outcome, started_at, duration_ms);

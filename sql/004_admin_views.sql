-- Views for admins (docs/contract.md §6; queries in docs/operations.md). Read-only, no
-- locks: plain SELECTs over the tables. CREATE OR REPLACE: safe to run again by hand.
-- Every view names endpoints by their public id (ep_…) and notifications by theirs (ntf_…).
-- Deleted endpoints are left out; times are the database clock's.

-- Per endpoint: attempts of the last 24 h (success rate, latency percentiles), the last
-- failed attempt, and the backlog (pending deliveries, the oldest one's age).
CREATE OR REPLACE VIEW webhook_endpoint_health AS
SELECT
  ep.public_id                                  AS endpoint_id,
  ep.url                                        AS url,
  ep.scope_kind                                 AS scope_kind,
  ep.scope_id                                   AS scope_id,
  ep.enabled                                    AS enabled,
  ep.disabled_reason                            AS disabled_reason,
  COALESCE(a24.attempts, 0)                     AS attempts_24h,
  COALESCE(a24.successes, 0)                    AS successes_24h,
  COALESCE(a24.failures, 0)                     AS failures_24h,
  ROUND(a24.successes / a24.attempts, 4)        AS success_rate_24h,
  lat.p50_ms                                    AS latency_p50_ms,
  lat.p95_ms                                    AS latency_p95_ms,
  lat.p99_ms                                    AS latency_p99_ms,
  -- delivered_at is the time of a delivery's (last) successful attempt: one index dive
  -- on (endpoint_id, delivered_at) from sql/005
  (SELECT MAX(d.delivered_at) FROM webhook_deliveries d
    WHERE d.endpoint_id = ep.id)                                 AS last_success_at,
  (SELECT a.started_at FROM webhook_deliveries d
     JOIN webhook_attempts a ON a.delivery_id = d.id
    WHERE d.endpoint_id = ep.id AND a.outcome = 'failure'
    ORDER BY a.started_at DESC, a.id DESC LIMIT 1)               AS last_error_at,
  (SELECT CONCAT_WS(': ', a.error_class, a.error_message)
     FROM webhook_deliveries d JOIN webhook_attempts a ON a.delivery_id = d.id
    WHERE d.endpoint_id = ep.id AND a.outcome = 'failure'
    ORDER BY a.started_at DESC, a.id DESC LIMIT 1)               AS last_error,
  COALESCE(bl.pending, 0)                       AS backlog,
  COALESCE(bl.inflight, 0)                      AS inflight,
  bl.oldest_pending_at                          AS oldest_pending_at,
  TIMESTAMPDIFF(SECOND, bl.oldest_pending_at, NOW(3)) AS oldest_pending_age_s
FROM webhook_endpoints ep
LEFT JOIN (
  SELECT d.endpoint_id,
         COUNT(*)                       AS attempts,
         SUM(a.outcome = 'success')     AS successes,
         SUM(a.outcome = 'failure')     AS failures
    FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
   WHERE a.started_at >= NOW(3) - INTERVAL 1 DAY
   GROUP BY d.endpoint_id
) a24 ON a24.endpoint_id = ep.id
LEFT JOIN (
  -- PERCENTILE_CONT is a window function in MariaDB 10.11: one row per attempt, DISTINCT
  -- folds them to one per endpoint.
  SELECT DISTINCT d.endpoint_id,
         PERCENTILE_CONT(0.50) WITHIN GROUP (ORDER BY a.duration_ms) OVER (PARTITION BY d.endpoint_id) AS p50_ms,
         PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY a.duration_ms) OVER (PARTITION BY d.endpoint_id) AS p95_ms,
         PERCENTILE_CONT(0.99) WITHIN GROUP (ORDER BY a.duration_ms) OVER (PARTITION BY d.endpoint_id) AS p99_ms
    FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
   WHERE a.started_at >= NOW(3) - INTERVAL 1 DAY
) lat ON lat.endpoint_id = ep.id
LEFT JOIN (
  SELECT endpoint_id,
         SUM(status = 'pending')                                 AS pending,
         SUM(status = 'inflight')                                AS inflight,
         MIN(IF(status = 'pending', created_at, NULL))           AS oldest_pending_at
    FROM webhook_deliveries
   WHERE status IN ('pending', 'inflight')
   GROUP BY endpoint_id
) bl ON bl.endpoint_id = ep.id
WHERE ep.deleted_at IS NULL;

-- Endpoints that are failing now: the last attempt failed, or a notification failed for
-- good in the last 24 h, or the endpoint was disabled with a reason (410 Gone, auto-disable).
-- failing_since = the first failed attempt after the last success.
CREATE OR REPLACE VIEW webhook_failing_endpoints AS
SELECT
  h.endpoint_id, h.url, h.scope_kind, h.scope_id, h.enabled, h.disabled_reason,
  h.last_success_at,
  (SELECT MIN(a.started_at) FROM webhook_endpoints ep
     JOIN webhook_deliveries d ON d.endpoint_id = ep.id
     JOIN webhook_attempts a ON a.delivery_id = d.id
    WHERE ep.public_id = h.endpoint_id AND a.outcome = 'failure'
      AND a.started_at > COALESCE(h.last_success_at, '1970-01-01'))  AS failing_since,
  h.last_error_at, h.last_error,
  h.attempts_24h, h.failures_24h, h.success_rate_24h,
  (SELECT COUNT(*) FROM webhook_endpoints ep JOIN webhook_deliveries d ON d.endpoint_id = ep.id
    WHERE ep.public_id = h.endpoint_id AND d.status = 'failed'
      AND d.updated_at >= NOW(3) - INTERVAL 1 DAY)                  AS exhausted_24h,
  (SELECT COUNT(*) FROM webhook_endpoints ep JOIN webhook_deliveries d ON d.endpoint_id = ep.id
    WHERE ep.public_id = h.endpoint_id AND d.status = 'pending' AND d.attempts > 0) AS retrying,
  h.backlog, h.oldest_pending_age_s
FROM webhook_endpoint_health h
WHERE (h.last_error_at IS NOT NULL AND (h.last_success_at IS NULL OR h.last_error_at > h.last_success_at))
   OR (h.enabled = 0 AND h.disabled_reason IS NOT NULL)
   OR EXISTS (SELECT 1 FROM webhook_endpoints ep JOIN webhook_deliveries d ON d.endpoint_id = ep.id
               WHERE ep.public_id = h.endpoint_id AND d.status = 'failed'
                 AND d.updated_at >= NOW(3) - INTERVAL 1 DAY);

-- Notifications that should be moving and are not: in flight past their lease (the worker
-- that claimed them died and no worker reaps them: are the workers running?), or pending
-- more than 5 minutes past due on an enabled endpoint (workers down, or too few of them).
-- Pending deliveries of a disabled endpoint are held on purpose and are not listed.
CREATE OR REPLACE VIEW webhook_stuck_deliveries AS
SELECT
  d.notification_id, ep.public_id AS endpoint_id, ep.url, e.public_id AS event_id, e.event_code,
  d.status, d.attempts, d.created_at, d.next_attempt_at, d.lease_owner, d.lease_expires_at,
  IF(d.status = 'inflight', 'lease expired', 'overdue')                        AS reason,
  TIMESTAMPDIFF(SECOND, IF(d.status = 'inflight', d.lease_expires_at, d.next_attempt_at), NOW(3)) AS overdue_s,
  d.last_error
FROM webhook_deliveries d
JOIN webhook_endpoints ep ON ep.id = d.endpoint_id
JOIN webhook_events e ON e.id = d.event_id
WHERE ep.deleted_at IS NULL
  AND ((d.status = 'inflight' AND d.lease_expires_at < NOW(3))
    OR (d.status = 'pending' AND ep.enabled = 1 AND d.next_attempt_at < NOW(3) - INTERVAL 5 MINUTE));

-- Notifications that failed for good (every scheduled attempt failed). Send them again with
-- POST /deliveries/{id}/redeliver or POST /endpoints/{id}/recover {"since": …}.
CREATE OR REPLACE VIEW webhook_exhausted_deliveries AS
SELECT
  d.notification_id, ep.public_id AS endpoint_id, ep.url, ep.scope_kind, ep.scope_id,
  e.public_id AS event_id, e.event_code, d.attempts, d.created_at, d.last_attempt_at,
  d.last_http_status, d.last_error
FROM webhook_deliveries d
JOIN webhook_endpoints ep ON ep.id = d.endpoint_id
JOIN webhook_events e ON e.id = d.event_id
WHERE d.status = 'failed' AND ep.deleted_at IS NULL;

-- Per hour: events accepted, attempts made (succeeded, failed) and their mean and maximum
-- duration. Hours with neither are absent. ORDER BY hour_start DESC when reading it.
CREATE OR REPLACE VIEW webhook_throughput_hourly AS
SELECT
  hrs.hour_start,
  COALESCE(ev.events, 0)     AS events,
  COALESCE(at.attempts, 0)   AS attempts,
  COALESCE(at.successes, 0)  AS delivered,
  COALESCE(at.failures, 0)   AS failed_attempts,
  at.avg_duration_ms,
  at.max_duration_ms
FROM (
  SELECT CAST(DATE_FORMAT(created_at, '%Y-%m-%d %H:00:00') AS DATETIME) AS hour_start FROM webhook_events
  UNION
  SELECT CAST(DATE_FORMAT(started_at, '%Y-%m-%d %H:00:00') AS DATETIME) FROM webhook_attempts
) hrs
LEFT JOIN (
  SELECT CAST(DATE_FORMAT(created_at, '%Y-%m-%d %H:00:00') AS DATETIME) AS hour_start, COUNT(*) AS events
    FROM webhook_events GROUP BY 1
) ev ON ev.hour_start = hrs.hour_start
LEFT JOIN (
  SELECT CAST(DATE_FORMAT(started_at, '%Y-%m-%d %H:00:00') AS DATETIME) AS hour_start,
         COUNT(*) AS attempts, SUM(outcome = 'success') AS successes, SUM(outcome = 'failure') AS failures,
         ROUND(AVG(duration_ms), 1) AS avg_duration_ms, MAX(duration_ms) AS max_duration_ms
    FROM webhook_attempts GROUP BY 1
) at ON at.hour_start = hrs.hour_start;

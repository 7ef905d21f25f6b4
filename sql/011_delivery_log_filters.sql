-- The delivery log's filters (GET /endpoints/{id}/deliveries?eventCode=&since=&until=, beside
-- status), each served by an index that yields an endpoint's deliveries newest first, so a
-- page reads about as many index entries as it shows, however long the log is (plans of
-- each filter on 200k deliveries: docs/registration-api.md, "The delivery log").
--
-- 1. event_code: the event's code, copied into the delivery by the fan-out INSERTs (the
--    worker's fan_out and publish_disabled). The filter then needs no join to
--    webhook_events, and k_delivery_endpoint_code (endpoint_id, event_code, id) gives one
--    code's deliveries of an endpoint in id order. Same type and collation as
--    webhook_events.event_code. NULL-able: a worker of an older version (still running
--    during an upgrade) inserts without it; such a row is backfilled by running this file's
--    UPDATE again (it touches only NULLs). The backfill keeps updated_at, which the API shows.
-- 2. k_delivery_endpoint_created (endpoint_id, created_at): the since/until range of an
--    endpoint, for windows that hold few of its deliveries (wide ones are read newest first
--    by primary key and stop at the page's size).
ALTER TABLE webhook_deliveries
  ADD COLUMN IF NOT EXISTS event_code VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL
    AFTER endpoint_id;

UPDATE webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
  SET d.event_code = e.event_code, d.updated_at = d.updated_at
  WHERE d.event_code IS NULL;

CREATE INDEX IF NOT EXISTS k_delivery_endpoint_code ON webhook_deliveries (endpoint_id, event_code, id);
CREATE INDEX IF NOT EXISTS k_delivery_endpoint_created ON webhook_deliveries (endpoint_id, created_at);

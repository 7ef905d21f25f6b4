-- System event types: events the product itself publishes (docs/operations.md).
-- `system.endpoint-disabled`: an endpoint was disabled automatically (sustained failure or
-- 410 Gone); the worker sends it to the integrator's other enabled endpoints in the same
-- scope that subscribe to it. Re-running refreshes the description.
INSERT INTO webhook_event_types (code, module, data_type, description) VALUES
  ('system.endpoint-disabled', 'system', 'object',
   'An endpoint in your scope was disabled automatically (sustained failure or 410 Gone)')
ON DUPLICATE KEY UPDATE module = VALUES(module), data_type = VALUES(data_type),
                        description = VALUES(description);

-- The worker's auto-disable check (worker/lifecycle.hpp): the last success of an endpoint is
-- one dive on (endpoint_id, delivered_at); the deliveries attempted since then are a range of
-- (endpoint_id, last_attempt_at).
CREATE INDEX IF NOT EXISTS k_delivery_endpoint_delivered ON webhook_deliveries (endpoint_id, delivered_at);
CREATE INDEX IF NOT EXISTS k_delivery_endpoint_attempted ON webhook_deliveries (endpoint_id, last_attempt_at);

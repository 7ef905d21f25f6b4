-- The worker's fair claim (worker/README.md, "Claiming and fairness"): one dive per endpoint
-- with pending work finds its oldest due delivery (a loose index scan for
-- MIN(next_attempt_at) GROUP BY endpoint_id), and each endpoint's head is claimed by range.
-- Without it a backlog of one endpoint would be walked row by row on every claim.
CREATE INDEX IF NOT EXISTS k_delivery_claim ON webhook_deliveries (status, endpoint_id, next_attempt_at);

-- The worker updates every delivery row twice (claim, result) and each update rewrites the
-- entries of every secondary index whose columns change: `status` is in four of them. The
-- statement profile of scripts/bench --profile (docs/benchmark.md) shows those two UPDATEs
-- and the claim's window read as the largest shares of MariaDB's time per notification.
--
-- 1. k_delivery_due gains endpoint_id: the claim's window (the oldest due rows, in
--    (status, next_attempt_at, id) order, with their endpoint) is read from the index alone,
--    without a primary-key lookup per row read. `id` is named before it so the index order
--    stays the window's ORDER BY next_attempt_at, id (InnoDB would append it last).
-- 2. k_delivery_lease goes: one index fewer to rewrite on every claim and every result. The
--    reaper (every 2 s) finds expired leases among the inflight rows through
--    k_delivery_claim (status first): as many rows as all workers' slots.
-- Both are in-place index changes: the table stays readable and writable meanwhile.
ALTER TABLE webhook_deliveries
  DROP INDEX k_delivery_due,
  ADD INDEX k_delivery_due (status, next_attempt_at, id, endpoint_id),
  DROP INDEX IF EXISTS k_delivery_lease,
  ALGORITHM = INPLACE, LOCK = NONE;

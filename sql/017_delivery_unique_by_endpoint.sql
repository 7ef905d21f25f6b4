-- The fan-out's INSERT checks the unique key of webhook_deliveries for a duplicate, and
-- InnoDB's duplicate check of a unique secondary index takes a next-key lock on the record
-- after the new one, whatever the isolation level. Keyed (event_id, endpoint_id), that
-- record is the delivery of the next event: on a Galera cluster with workers sharing the
-- work (sql/016), the next event is often the other worker's, whose replicated insert into
-- that gap then aborts this node's fan-out (a brute-force abort, error 1213, retried).
-- Keyed (endpoint_id, event_id), a new delivery goes to the end of its endpoint's range and
-- the record locked is the first of the next endpoint, where nobody inserts (event ids only
-- grow): workers that fan out to disjoint endpoints no longer lock each other's gaps.
-- The foreign key to webhook_events needs an index that starts with event_id (the
-- retention pass and the per-event lookups read it): a plain one, which takes no lock on
-- insert. In-place index changes: the table stays readable and writable meanwhile.
-- Safe to re-run: IF [NOT] EXISTS.
ALTER TABLE webhook_deliveries
  ADD UNIQUE KEY IF NOT EXISTS uq_delivery_endpoint_event (endpoint_id, event_id),
  ADD KEY IF NOT EXISTS k_delivery_event (event_id),
  ALGORITHM = INPLACE, LOCK = NONE;
ALTER TABLE webhook_deliveries
  DROP KEY IF EXISTS uq_delivery_event_endpoint,
  ALGORITHM = INPLACE, LOCK = NONE;

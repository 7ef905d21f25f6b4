-- Caps that hold across the nodes of a Galera cluster (worker/README.md "Claiming and
-- fairness"). The worker's claim locks the endpoint rows and scope rows it takes work from
-- (FOR UPDATE) and counts their deliveries in flight: on one server that lock is what makes
-- per_endpoint_concurrency and max_in_flight_per_scope hold across workers. Galera does not
-- replicate row locks, only the rows a transaction writes, so two workers on two nodes could
-- both pass the count. A claim now also writes the rows it locked (write_seq + 1, for the
-- endpoints and scopes it took work from): two claims of one endpoint or scope on two nodes
-- write the same row, Galera certifies only the first to commit, and the other gets error
-- 1213 and is retried, counting the first one's deliveries. Nothing to drift or to give back:
-- the counter is never read, the caps are still counted from the deliveries in flight, so a
-- killed worker's slots come back when its leases expire, as before. A registration writes
-- its scope's row the same way (mod_webhook/core/store.cpp): WebhookMaxEndpointsPerScope is
-- counted under that row, and a no-op update would not be replicated, so not certified.
-- Safe to re-run: IF NOT EXISTS.
ALTER TABLE webhook_endpoints ADD COLUMN IF NOT EXISTS write_seq BIGINT UNSIGNED NOT NULL DEFAULT 0;

ALTER TABLE webhook_scopes ADD COLUMN IF NOT EXISTS write_seq BIGINT UNSIGNED NOT NULL DEFAULT 0;

-- An event's ordering key (POST /events `orderingKey`, or the outbox's ordering_key column):
-- for an endpoint that asks for per-key order, the notifications of one key go out one at a
-- time, in the order the events were accepted. NULL: no key, no order. 1-128 characters of
-- the id alphabet [A-Za-z0-9._-], compared byte for byte (ascii_bin).
-- An added column at the end of the row: MariaDB adds it instantly, without a table copy.
-- Safe to re-run: IF NOT EXISTS.
ALTER TABLE webhook_events
  ADD COLUMN IF NOT EXISTS ordering_key VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL;

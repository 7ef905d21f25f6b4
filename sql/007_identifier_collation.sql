-- Identifiers compare byte for byte. utf8mb4_bin is a PAD SPACE collation: it compares 'K'
-- and 'K ' as equal, so an event with idempotency key 'K ' was answered as a duplicate of the
-- one with key 'K' (and lost), and an Apache user 'resA ' got the scopes of 'resA'.
-- utf8mb4_nopad_bin is the same binary order without the padding: every column that holds
-- an identifier (keys, user names, ids, scope ids, event codes, worker ids) gets it, and so
-- does each table's default, for the columns to come. Free text (url, description, data,
-- messages) and the ENUMs keep theirs. The secondary indexes on the changed columns are
-- rebuilt in place (the tables stay readable and writable); webhook_event_types and
-- webhook_endpoint_subscriptions, whose primary keys hold a code, are copied (both small).
-- No unique key can collide afterwards (no-pad tells more values apart, never fewer); a value
-- stored with trailing spaces no longer matches its trimmed form (find them beforehand with
-- e.g. SELECT username FROM webhook_principals WHERE username <> TRIM(TRAILING ' ' FROM username)).
--
-- The event codes are both sides of two foreign keys, and MariaDB changes no column a
-- foreign key names: the two keys are dropped first and added again at the end, with the
-- checks off for this session so that adding them does not scan the tables (no value
-- changes here, so nothing goes unchecked). Every statement can run again: a run that
-- stopped half-way is completed by the next one.
SET @webhook_saved_fk_checks = @@FOREIGN_KEY_CHECKS;
SET FOREIGN_KEY_CHECKS = 0;
ALTER TABLE webhook_events DROP FOREIGN KEY IF EXISTS fk_event_code;
ALTER TABLE webhook_endpoint_subscriptions DROP FOREIGN KEY IF EXISTS fk_subscription_code;

ALTER TABLE webhook_event_types
  DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
  MODIFY code VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE webhook_principals
  DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
  MODIFY username VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
  MODIFY scope_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL DEFAULT '';

ALTER TABLE webhook_endpoints
  DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
  MODIFY public_id VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL
    DEFAULT (CONCAT('ep_', LOWER(HEX(RANDOM_BYTES(12))))),
  MODIFY scope_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
  MODIFY username VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL,
  MODIFY created_by VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL;

ALTER TABLE webhook_endpoint_subscriptions
  DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
  MODIFY event_code VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE webhook_events
  DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
  MODIFY public_id VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL
    DEFAULT (CONCAT('evt_', LOWER(HEX(RANDOM_BYTES(12))))),
  MODIFY event_code VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
  MODIFY reseller_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
  MODIFY portfolio_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
  MODIFY merchant_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL,
  MODIFY idempotency_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL;

ALTER TABLE webhook_deliveries
  DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
  MODIFY notification_id VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL
    DEFAULT (CONCAT('ntf_', LOWER(HEX(RANDOM_BYTES(12))))),
  MODIFY lease_owner VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL;

ALTER TABLE webhook_attempts
  DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin,
  MODIFY worker_id VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE webhook_endpoint_subscriptions
  ADD CONSTRAINT fk_subscription_code FOREIGN KEY IF NOT EXISTS (event_code) REFERENCES webhook_event_types (code);
ALTER TABLE webhook_events
  ADD CONSTRAINT fk_event_code FOREIGN KEY IF NOT EXISTS (event_code) REFERENCES webhook_event_types (code);
SET FOREIGN_KEY_CHECKS = @webhook_saved_fk_checks;

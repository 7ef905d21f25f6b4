-- mod_webhook schema, version 1. Safe to re-run: every statement is IF NOT EXISTS.
-- Times are DATETIME(3) in the database's clock (the workers never use their own).

CREATE TABLE IF NOT EXISTS webhook_schema_version (
  version     INT UNSIGNED NOT NULL PRIMARY KEY,
  name        VARCHAR(200) NOT NULL,
  applied_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The event catalogue (docs/contract.md §2). New types are added with an INSERT, no rebuild.
CREATE TABLE IF NOT EXISTS webhook_event_types (
  code         VARCHAR(100) NOT NULL PRIMARY KEY,
  module       VARCHAR(32)  NOT NULL,
  data_type    VARCHAR(32)  NOT NULL,
  description  VARCHAR(255) NOT NULL,
  created_at   DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Who may manage which endpoints: an authenticated Apache user maps to one or more scopes,
-- or to 'admin' (every scope; scope_id is '').
CREATE TABLE IF NOT EXISTS webhook_principals (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  username    VARCHAR(255) NOT NULL,
  kind        ENUM('admin','reseller','portfolio') NOT NULL,
  scope_id    VARCHAR(64)  NOT NULL DEFAULT '',
  created_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY uq_principal (username, kind, scope_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Registered receivers. Credentials are AES-256-GCM ciphertexts (never clear text).
-- A deleted endpoint keeps its row (deleted_at) so delivery history stays readable.
CREATE TABLE IF NOT EXISTS webhook_endpoints (
  id                      BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id               VARCHAR(32)   NOT NULL DEFAULT (CONCAT('ep_', LOWER(HEX(RANDOM_BYTES(12))))),
  url                     VARCHAR(2048) NOT NULL,
  scope_kind              ENUM('reseller','portfolio') NOT NULL,
  scope_id                VARCHAR(64)   NOT NULL,
  username                VARCHAR(255)  NULL,
  password_enc            VARCHAR(1024) NULL,
  secret_enc              VARCHAR(255)  NOT NULL,
  prev_secret_enc         VARCHAR(255)  NULL,
  prev_secret_expires_at  DATETIME(3)   NULL,
  ack_mode                ENUM('notification-id','status') NOT NULL DEFAULT 'notification-id',
  enabled                 TINYINT(1)    NOT NULL DEFAULT 1,
  disabled_reason         VARCHAR(255)  NULL,
  description             VARCHAR(1024) NULL,
  created_by              VARCHAR(255)  NULL,
  created_at              DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at              DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  deleted_at              DATETIME(3)   NULL,
  UNIQUE KEY uq_endpoint_public_id (public_id),
  KEY k_endpoint_scope (scope_kind, scope_id, deleted_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Which event types an endpoint subscribes to.
CREATE TABLE IF NOT EXISTS webhook_endpoint_subscriptions (
  endpoint_id  BIGINT UNSIGNED NOT NULL,
  event_code   VARCHAR(100)    NOT NULL,
  PRIMARY KEY (endpoint_id, event_code),
  KEY k_subscription_code (event_code, endpoint_id),
  CONSTRAINT fk_subscription_endpoint FOREIGN KEY (endpoint_id) REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  CONSTRAINT fk_subscription_code FOREIGN KEY (event_code) REFERENCES webhook_event_types (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The outbox. Anything that can INSERT here publishes an event (see the README for the SQL).
-- fanned_out_at is NULL until a worker has created its deliveries.
CREATE TABLE IF NOT EXISTS webhook_events (
  id               BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id        VARCHAR(32)  NOT NULL DEFAULT (CONCAT('evt_', LOWER(HEX(RANDOM_BYTES(12))))),
  event_code       VARCHAR(100) NOT NULL,
  reseller_id      VARCHAR(64)  NOT NULL,
  portfolio_id     VARCHAR(64)  NOT NULL,
  merchant_id      VARCHAR(64)  NULL,
  event_date       BIGINT       NOT NULL DEFAULT (FLOOR(UNIX_TIMESTAMP(NOW(3)) * 1000)),
  data             LONGTEXT     NOT NULL CHECK (JSON_VALID(data)),
  idempotency_key  VARCHAR(255) NULL,
  created_at       DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  fanned_out_at    DATETIME(3)  NULL,
  UNIQUE KEY uq_event_public_id (public_id),
  UNIQUE KEY uq_event_idempotency (reseller_id, idempotency_key),
  KEY k_event_fanout (fanned_out_at, id),
  CONSTRAINT fk_event_code FOREIGN KEY (event_code) REFERENCES webhook_event_types (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One notification = one event for one endpoint; the unique key makes fan-out exactly-once.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
  id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  notification_id   VARCHAR(32)  NOT NULL DEFAULT (CONCAT('ntf_', LOWER(HEX(RANDOM_BYTES(12))))),
  event_id          BIGINT UNSIGNED NOT NULL,
  endpoint_id       BIGINT UNSIGNED NOT NULL,
  status            ENUM('pending','inflight','delivered','failed','cancelled') NOT NULL DEFAULT 'pending',
  attempts          INT UNSIGNED NOT NULL DEFAULT 0,
  next_attempt_at   DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  lease_owner       VARCHAR(100) NULL,
  lease_expires_at  DATETIME(3)  NULL,
  last_attempt_at   DATETIME(3)  NULL,
  last_http_status  SMALLINT     NULL,
  last_error        VARCHAR(512) NULL,
  delivered_at      DATETIME(3)  NULL,
  created_at        DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at        DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  UNIQUE KEY uq_delivery_notification_id (notification_id),
  UNIQUE KEY uq_delivery_event_endpoint (event_id, endpoint_id),
  KEY k_delivery_due (status, next_attempt_at),
  KEY k_delivery_lease (status, lease_expires_at),
  KEY k_delivery_endpoint (endpoint_id, status, id),
  CONSTRAINT fk_delivery_event FOREIGN KEY (event_id) REFERENCES webhook_events (id),
  CONSTRAINT fk_delivery_endpoint FOREIGN KEY (endpoint_id) REFERENCES webhook_endpoints (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every attempt: when, how long, what came back.
CREATE TABLE IF NOT EXISTS webhook_attempts (
  id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  delivery_id       BIGINT UNSIGNED NOT NULL,
  attempt_no        INT UNSIGNED NOT NULL,
  started_at        DATETIME(3)  NOT NULL,
  duration_ms       INT UNSIGNED NOT NULL,
  outcome           ENUM('success','failure') NOT NULL,
  http_status       SMALLINT     NULL,
  error_class       VARCHAR(32)  NULL,
  error_message     VARCHAR(512) NULL,
  response_excerpt  VARBINARY(4096) NULL,
  worker_id         VARCHAR(100) NOT NULL,
  KEY k_attempt_delivery (delivery_id, attempt_no),
  KEY k_attempt_started (started_at),
  CONSTRAINT fk_attempt_delivery FOREIGN KEY (delivery_id) REFERENCES webhook_deliveries (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

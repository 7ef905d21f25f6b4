-- Test notifications (POST /endpoints/{id}/test) and example data for every event type.
-- Safe to re-run: IF NOT EXISTS, updates by code, CREATE OR REPLACE VIEW.

-- Every type's example `data` object: GET /event-types serves it and a test notification
-- carries it. A type added later by a bare INSERT gets {} until its example is set.
ALTER TABLE webhook_event_types
  ADD COLUMN IF NOT EXISTS example LONGTEXT NULL CHECK (JSON_VALID(example));

UPDATE webhook_event_types SET example = CASE code
  WHEN 'processing.return-processed' THEN
    '{"transactionId":"txn_8f3a2c91d4","originalTransactionId":"txn_71b0e4a2c9","merchantId":"mer_20417","terminalId":"trm_88213","amount":"149.90","currency":"USD","paymentMethod":"ach","accountLast4":"6789","returnCode":"R01","returnReason":"Insufficient funds","transactionDate":"2026-11-28","returnDate":"2026-12-02","status":"returned"}'
  WHEN 'processing.noc-processed' THEN
    '{"transactionId":"txn_4c2e7b1f80","originalTransactionId":"txn_39d1a6e5b2","merchantId":"mer_20417","amount":"75.00","currency":"USD","paymentMethod":"ach","accountLast4":"4321","changeCode":"C01","changeReason":"Incorrect DFI account number","correctedField":"accountNumber","correctedValueLast4":"9876","transactionDate":"2026-11-27","noticeDate":"2026-12-01","status":"settled"}'
  WHEN 'processing.chargeback-processed' THEN
    '{"transactionId":"txn_d93e0a7c15","originalTransactionId":"txn_5a8f21c3e7","merchantId":"mer_20417","terminalId":"trm_88213","amount":"250.00","currency":"USD","paymentMethod":"card","cardBrand":"visa","cardLast4":"4242","reasonCode":"10.4","reason":"Other fraud - card-absent environment","caseNumber":"CB-2026-004417","transactionDate":"2026-11-03","chargebackDate":"2026-12-01","responseDueDate":"2026-12-21","status":"chargeback"}'
  WHEN 'processing.reversal-processed' THEN
    '{"transactionId":"txn_a17c5e3b90","originalTransactionId":"txn_62e9d0f4a1","merchantId":"mer_20417","terminalId":"trm_88213","amount":"42.50","currency":"USD","paymentMethod":"card","cardBrand":"mastercard","cardLast4":"5454","reversalReason":"Chargeback won by the merchant","caseNumber":"CB-2026-003981","transactionDate":"2026-10-14","reversalDate":"2026-12-02","status":"reversed"}'
  WHEN 'billing.payment-option-created' THEN
    '{"paymentOptionId":"po_5c1e9a7d","customerId":"cus_3f81b2","merchantId":"mer_20417","type":"card","cardBrand":"visa","cardLast4":"4242","expiryMonth":"08","expiryYear":"2029","holderName":"Jane Doe","active":true,"createdAt":"2026-12-02T14:05:11.482Z"}'
  WHEN 'billing.payment-option-modified' THEN
    '{"paymentOptionId":"po_5c1e9a7d","customerId":"cus_3f81b2","merchantId":"mer_20417","type":"card","cardBrand":"visa","cardLast4":"4242","active":false,"previousActive":true,"modifiedAt":"2026-12-02T15:40:27.019Z"}'
  WHEN 'billing.subscription-created' THEN
    '{"subscriptionId":"sub_9a4d27e1","customerId":"cus_3f81b2","merchantId":"mer_20417","paymentOptionId":"po_5c1e9a7d","plan":"monthly-basic","amount":"19.99","currency":"USD","interval":"month","intervalCount":1,"startDate":"2026-12-05","nextBillingDate":"2027-01-05","status":"active","createdAt":"2026-12-02T14:06:02.733Z"}'
  WHEN 'billing.subscription-modified' THEN
    '{"subscriptionId":"sub_9a4d27e1","customerId":"cus_3f81b2","merchantId":"mer_20417","plan":"monthly-basic","amount":"19.99","currency":"USD","previousStatus":"active","status":"suspended","reason":"payment failed","modifiedAt":"2026-12-05T06:00:14.250Z"}'
  WHEN 'billing.transaction-created' THEN
    '{"billingTransactionId":"btx_6e02f8c4","transactionId":"txn_b84c1d0e72","subscriptionId":"sub_9a4d27e1","invoiceId":"inv_2026_000812","customerId":"cus_3f81b2","merchantId":"mer_20417","paymentOptionId":"po_5c1e9a7d","amount":"19.99","currency":"USD","status":"approved","createdAt":"2026-12-05T06:00:09.871Z"}'
  WHEN 'billing.allocation-created' THEN
    '{"allocationId":"alc_1d7b93e0","paymentId":"pay_47c2e9a1","invoiceId":"inv_2026_000812","customerId":"cus_3f81b2","merchantId":"mer_20417","amount":"19.99","currency":"USD","invoiceBalance":"0.00","createdAt":"2026-12-05T06:00:10.102Z"}'
  WHEN 'management.merchant-created' THEN
    '{"merchantId":"mer_20417","legalName":"Corner Coffee LLC","dbaName":"Corner Coffee","mcc":"5814","country":"US","currency":"USD","email":"billing@cornercoffee.example","phone":"+1-555-0142","status":"active","createdAt":"2026-12-01T09:12:44.310Z"}'
  WHEN 'management.merchant-modified' THEN
    '{"merchantId":"mer_20417","legalName":"Corner Coffee Inc.","dbaName":"Corner Coffee","status":"active","changes":{"legalName":{"from":"Corner Coffee LLC","to":"Corner Coffee Inc."}},"modifiedAt":"2026-12-03T11:27:05.664Z"}'
  WHEN 'management.terminal-created' THEN
    '{"terminalId":"trm_88213","merchantId":"mer_20417","serialNumber":"V400M-2026-771402","model":"V400m","type":"pos","status":"active","createdAt":"2026-12-01T09:30:18.095Z"}'
  WHEN 'management.terminal-modified' THEN
    '{"terminalId":"trm_88213","merchantId":"mer_20417","serialNumber":"V400M-2026-771402","model":"V400m","type":"pos","status":"inactive","changes":{"status":{"from":"active","to":"inactive"}},"modifiedAt":"2026-12-04T17:45:52.437Z"}'
  WHEN 'system.endpoint-disabled' THEN
    '{"endpointId":"ep_3c9d0f1a7b2e4d6c8a0b1c2d","url":"https://hooks.example.com/webhooks","reason":"auto-disabled: every delivery attempt failed for 5d","disabledAt":"2026-12-04T08:15:30.120Z"}'
  ELSE COALESCE(example, '{}') END;

ALTER TABLE webhook_event_types
  MODIFY example LONGTEXT NOT NULL DEFAULT '{}' CHECK (JSON_VALID(example));

-- A test event goes to one endpoint only: fan-out sends an event whose test_endpoint_id is
-- set to that endpoint alone (the API creates its delivery itself; this is the fence).
-- NULL for every other event. The index serves the per-endpoint rate limit of tests (count
-- of the last minute) and holds only test events' entries in practice.
ALTER TABLE webhook_events
  ADD COLUMN IF NOT EXISTS test_endpoint_id BIGINT UNSIGNED NULL;
CREATE INDEX IF NOT EXISTS k_event_test ON webhook_events (test_endpoint_id, created_at);

-- The delivery-level admin views gain `test` (1 for a test notification). Same definitions
-- as sql/004 otherwise, run as the querying account (sql/010).
CREATE OR REPLACE SQL SECURITY INVOKER VIEW webhook_stuck_deliveries AS
SELECT
  d.notification_id, ep.public_id AS endpoint_id, ep.url, e.public_id AS event_id, e.event_code,
  d.status, d.attempts, d.created_at, d.next_attempt_at, d.lease_owner, d.lease_expires_at,
  IF(d.status = 'inflight', 'lease expired', 'overdue')                        AS reason,
  TIMESTAMPDIFF(SECOND, IF(d.status = 'inflight', d.lease_expires_at, d.next_attempt_at), NOW(3)) AS overdue_s,
  d.last_error,
  (e.test_endpoint_id IS NOT NULL)                                              AS test
FROM webhook_deliveries d
JOIN webhook_endpoints ep ON ep.id = d.endpoint_id
JOIN webhook_events e ON e.id = d.event_id
WHERE ep.deleted_at IS NULL
  AND ((d.status = 'inflight' AND d.lease_expires_at < NOW(3))
    OR (d.status = 'pending' AND ep.enabled = 1 AND d.next_attempt_at < NOW(3) - INTERVAL 5 MINUTE));

CREATE OR REPLACE SQL SECURITY INVOKER VIEW webhook_exhausted_deliveries AS
SELECT
  d.notification_id, ep.public_id AS endpoint_id, ep.url, ep.scope_kind, ep.scope_id,
  e.public_id AS event_id, e.event_code, d.attempts, d.created_at, d.last_attempt_at,
  d.last_http_status, d.last_error,
  (e.test_endpoint_id IS NOT NULL) AS test
FROM webhook_deliveries d
JOIN webhook_endpoints ep ON ep.id = d.endpoint_id
JOIN webhook_events e ON e.id = d.event_id
WHERE d.status = 'failed' AND ep.deleted_at IS NULL;

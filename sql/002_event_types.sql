-- The fourteen event types of docs/contract.md §2. Re-running refreshes the descriptions.
INSERT INTO webhook_event_types (code, module, data_type, description) VALUES
  ('processing.return-processed',     'processing', 'transaction', 'A bank or processor return is received'),
  ('processing.noc-processed',        'processing', 'transaction', 'A notice of change is received'),
  ('processing.chargeback-processed', 'processing', 'transaction', 'A chargeback is received'),
  ('processing.reversal-processed',   'processing', 'transaction', 'A reversal is received'),
  ('billing.payment-option-created',  'billing',    'object',      'A payment option is created'),
  ('billing.payment-option-modified', 'billing',    'object',      'A payment option is activated or deactivated'),
  ('billing.subscription-created',    'billing',    'object',      'A subscription is created'),
  ('billing.subscription-modified',   'billing',    'object',      'A subscription''s status changes'),
  ('billing.transaction-created',     'billing',    'object',      'A billing transaction is created'),
  ('billing.allocation-created',      'billing',    'object',      'A payment is linked to an invoice'),
  ('management.merchant-created',     'management', 'object',      'A merchant is created'),
  ('management.merchant-modified',    'management', 'object',      'A merchant is modified'),
  ('management.terminal-created',     'management', 'object',      'A terminal is created'),
  ('management.terminal-modified',    'management', 'object',      'A terminal is modified')
ON DUPLICATE KEY UPDATE module = VALUES(module), data_type = VALUES(data_type),
                        description = VALUES(description);

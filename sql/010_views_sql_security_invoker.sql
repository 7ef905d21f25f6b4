-- The admin views run with the privileges of whoever queries them (SQL SECURITY INVOKER),
-- not of the account that ran the migrations: that account can be dropped after an install
-- or an upgrade without breaking the views, and a runtime or read-only account sees through
-- a view only what its own grants allow. Each view is recreated from its own definition.
SET @v := (SELECT COALESCE(MAX(CONCAT('CREATE OR REPLACE SQL SECURITY INVOKER VIEW webhook_endpoint_health AS ', VIEW_DEFINITION)), 'DO 0')
             FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'webhook_endpoint_health');
EXECUTE IMMEDIATE @v;
SET @v := (SELECT COALESCE(MAX(CONCAT('CREATE OR REPLACE SQL SECURITY INVOKER VIEW webhook_failing_endpoints AS ', VIEW_DEFINITION)), 'DO 0')
             FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'webhook_failing_endpoints');
EXECUTE IMMEDIATE @v;
SET @v := (SELECT COALESCE(MAX(CONCAT('CREATE OR REPLACE SQL SECURITY INVOKER VIEW webhook_stuck_deliveries AS ', VIEW_DEFINITION)), 'DO 0')
             FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'webhook_stuck_deliveries');
EXECUTE IMMEDIATE @v;
SET @v := (SELECT COALESCE(MAX(CONCAT('CREATE OR REPLACE SQL SECURITY INVOKER VIEW webhook_exhausted_deliveries AS ', VIEW_DEFINITION)), 'DO 0')
             FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'webhook_exhausted_deliveries');
EXECUTE IMMEDIATE @v;
SET @v := (SELECT COALESCE(MAX(CONCAT('CREATE OR REPLACE SQL SECURITY INVOKER VIEW webhook_throughput_hourly AS ', VIEW_DEFINITION)), 'DO 0')
             FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'webhook_throughput_hourly');
EXECUTE IMMEDIATE @v;

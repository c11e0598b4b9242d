-- ExternalOrders 2.4 (release N), EXPAND phase: backward compatible, version N-1 keeps working.
-- Runs in one transaction with its _sqlx_migrations row: it is never half applied, so it never
-- runs twice. (SQLite has no ADD COLUMN IF NOT EXISTS: `runsheet rehearse` excuses its replay.)
ALTER TABLE external_order ADD COLUMN external_reference VARCHAR(64);

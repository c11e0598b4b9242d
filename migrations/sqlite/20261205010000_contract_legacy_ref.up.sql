-- runsheet: phase=contract
-- ExternalOrders 2.5 (release N+1), CONTRACT phase: destructive, it belongs to a LATER release
-- than the expand. Run it only once the backfill has filled external_reference from every legacy
-- reference and every running application version reads external_reference alone.
-- runbooks/external-orders-expand.yaml stops before it (migrate to 20261128010100).
-- Runs in one transaction with its _sqlx_migrations row, so it never runs twice. (SQLite has no
-- DROP COLUMN IF EXISTS: `runsheet rehearse` excuses its replay.)
ALTER TABLE external_order DROP COLUMN legacy_ref;

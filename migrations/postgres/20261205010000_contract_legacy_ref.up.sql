-- runsheet: phase=contract
-- ExternalOrders 2.5 (release N+1), CONTRACT phase: destructive, it belongs to a LATER release
-- than the expand. Run it only once the backfill has filled external_reference from every legacy
-- reference and every running application version reads external_reference alone.
-- runbooks/external-orders-expand.yaml stops before it (migrate to 20261128010100).
-- IF EXISTS: running the file a second time changes nothing (`runsheet rehearse` checks it).
SET LOCAL lock_timeout = '5s';
ALTER TABLE external_order DROP COLUMN IF EXISTS legacy_ref;

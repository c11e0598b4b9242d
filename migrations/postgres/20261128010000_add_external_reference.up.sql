-- ExternalOrders 2.4 (release N), EXPAND phase: backward compatible, version N-1 keeps working.
-- A nullable column without default: PostgreSQL only edits the catalog, no table rewrite.
-- The lock is brief but ACCESS EXCLUSIVE, and while it waits behind a long transaction every
-- later query on the table waits behind it: give up after 5 s instead of stalling the application.
-- IF NOT EXISTS: running the file a second time changes nothing (`runsheet rehearse` checks it).
SET LOCAL lock_timeout = '5s';
ALTER TABLE external_order ADD COLUMN IF NOT EXISTS external_reference VARCHAR(64);

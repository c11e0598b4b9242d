-- ExternalOrders 2.4 (release N), EXPAND phase: backward compatible, version N-1 keeps working.
-- ALGORITHM=INSTANT: MariaDB adds a nullable column by editing metadata only; when it cannot,
-- the statement fails instead of silently copying the whole table under a lock.
-- IF NOT EXISTS: MariaDB commits DDL at once, outside sqlx's bookkeeping, so a run interrupted
-- after this statement (a dirty migration) must be able to repeat it.
ALTER TABLE external_order ADD COLUMN IF NOT EXISTS external_reference VARCHAR(64) NULL, ALGORITHM=INSTANT;

-- Reverts 20261128010000. Before the backfill the column is empty; after it, its values can be
-- derived again from legacy_ref.
SET LOCAL lock_timeout = '5s';
ALTER TABLE external_order DROP COLUMN external_reference;

-- Reverts 20261128010000. Before the backfill the column is empty; after it, its values can be
-- derived again from legacy_ref.
ALTER TABLE external_order DROP COLUMN IF EXISTS external_reference, ALGORITHM=INSTANT;

-- Reverts 20261128010000 (DROP COLUMN needs SQLite 3.35+). Before the backfill the column is
-- empty; after it, its values can be derived again from legacy_ref.
ALTER TABLE external_order DROP COLUMN external_reference;

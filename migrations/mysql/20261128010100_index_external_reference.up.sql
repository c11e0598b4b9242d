-- A file of its own to keep versions aligned with PostgreSQL, where the index must be alone.
-- ALGORITHM=INPLACE LOCK=NONE: built online, writes continue; fails rather than lock the table.
CREATE INDEX IF NOT EXISTS external_order_external_reference_idx ON external_order (external_reference) ALGORITHM=INPLACE LOCK=NONE;

-- A file of its own to keep versions aligned with PostgreSQL, where the index must be alone.
-- IF NOT EXISTS: running the file a second time changes nothing (`runsheet rehearse` checks it).
CREATE INDEX IF NOT EXISTS external_order_external_reference_idx ON external_order (external_reference);

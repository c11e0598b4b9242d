-- A file of its own to keep versions aligned with PostgreSQL, where the index must be alone.
CREATE INDEX external_order_external_reference_idx ON external_order (external_reference);

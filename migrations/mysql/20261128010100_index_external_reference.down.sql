-- Reverts 20261128010100.
DROP INDEX IF EXISTS external_order_external_reference_idx ON external_order;

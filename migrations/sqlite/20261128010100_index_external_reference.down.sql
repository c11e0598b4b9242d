-- Reverts 20261128010100.
DROP INDEX external_order_external_reference_idx;

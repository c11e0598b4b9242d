-- no-transaction
-- Reverts 20261128010100 without blocking writes; alone in its file for the same reason.
-- IF EXISTS: outside a transaction, a retry after a failure must not fail on what is gone.
DROP INDEX CONCURRENTLY IF EXISTS external_order_external_reference_idx;

-- no-transaction
-- CREATE INDEX CONCURRENTLY builds the index without blocking writes, but refuses to run in a
-- transaction block, and sqlx sends a file as one multi-statement string (one implicit
-- transaction): hence a file of its own, with this statement alone and the marker above as its
-- very first bytes. It waits for every transaction older than itself to finish.
-- A failure leaves an INVALID index behind: drop it with
--   DROP INDEX CONCURRENTLY external_order_external_reference_idx;
-- before retrying. No IF NOT EXISTS: it would keep the invalid index and report success.
CREATE INDEX CONCURRENTLY external_order_external_reference_idx ON external_order (external_reference);

-- runsheet: phase=contract
-- Reverts 20261205010000 as far as a schema can: the column comes back (as the last column) but
-- empty. Its values are in external_reference and in the backup taken before the contract.
ALTER TABLE external_order ADD COLUMN legacy_ref VARCHAR(100);

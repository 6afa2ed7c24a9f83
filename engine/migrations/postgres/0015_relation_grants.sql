-- The case (instance id) of the convenzione that granted a relation, NULL for one an
-- administrator recorded (`procedo tenant relate`). A workflow grants only over a relation that
-- is its own, recorded by an administrator, or ended before the new one starts, and ends only
-- its own: a second convenzione for the same Comune never overwrites or ends the first's.
ALTER TABLE tenant_relations ADD COLUMN granted_by TEXT;

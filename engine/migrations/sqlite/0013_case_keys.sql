-- Case list and inbox (issue 16): the values of each instance's business keys (`keys:` in
-- the workflow), lowercased, so the case list finds a CIG or a Comune through an index
-- instead of reading every case's variables. Written in the transaction of the step that
-- sets or changes them. A search index only: the pages show keys computed from the sealed
-- variables, never from this table.
CREATE TABLE instance_keys (
    instance_id BLOB    NOT NULL,
    name        TEXT    NOT NULL,
    value       TEXT    NOT NULL
);
CREATE INDEX instance_keys_by_value ON instance_keys (value, instance_id);
CREATE INDEX instance_keys_by_instance ON instance_keys (instance_id);
-- The case list pages a tenant's cases newest first.
CREATE INDEX instances_by_tenant_created ON instances (tenant, created_us);
CREATE INDEX instances_by_behalf_created ON instances (on_behalf_of, created_us) WHERE on_behalf_of IS NOT NULL;

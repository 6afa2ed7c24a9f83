-- Tenancy (issue 12): a registry of tenants, the relations that let one act on behalf of
-- another, definitions owned by a tenant or shared, and schedules per tenant.

-- The registry. `kind`: platform, provincia, libero-consorzio, citta-metropolitana, comune, altro.
CREATE TABLE tenants (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    created_us INTEGER NOT NULL
);
-- Tenants already found in the data are carried forward under their id (an administrator
-- gives them a display name with `procedo tenant add`); `default` is the platform tenant.
INSERT INTO tenants (id, name, kind, created_us)
SELECT t, t, CASE WHEN t = 'default' THEN 'platform' ELSE 'altro' END, 0 FROM (
    SELECT 'default' AS t
    UNION SELECT tenant FROM users
    UNION SELECT tenant FROM tokens
    UNION SELECT tenant FROM instances
    UNION SELECT on_behalf_of FROM instances WHERE on_behalf_of IS NOT NULL
    UNION SELECT tenant FROM tenant_holidays
) AS found;

-- PROVIDER may act on behalf of CLIENT (a SUA for a Comune, by convenzione). `scope`: the
-- workflow ids it covers, comma-separated (NULL: every workflow); dates are inclusive
-- YYYY-MM-DD in Europe/Rome (NULL: open-ended). Relating the same pair again replaces it.
CREATE TABLE tenant_relations (
    provider    TEXT    NOT NULL REFERENCES tenants (id),
    client      TEXT    NOT NULL REFERENCES tenants (id),
    scope       TEXT,
    valid_from  TEXT,
    valid_until TEXT,
    created_us  INTEGER NOT NULL,
    PRIMARY KEY (provider, client)
);

-- A definition version belongs to the tenant that deployed it; NULL = shared (deployed by the
-- platform tenant). Versions stay numbered per workflow id across owners, so (id, version)
-- still names one package. Every existing definition becomes shared.
ALTER TABLE definitions ADD COLUMN owner TEXT;

-- The versions of the workflows an instance spawns, fixed when it (or its root) started.
ALTER TABLE instances ADD COLUMN pins TEXT NOT NULL DEFAULT '{}';

-- Shared workflows a tenant has taken up: their schedules run in that tenant.
CREATE TABLE tenant_workflows (
    tenant     TEXT    NOT NULL,
    definition TEXT    NOT NULL,
    adopted_us INTEGER NOT NULL,
    PRIMARY KEY (tenant, definition)
);
-- Schedules that ran in a tenant other than the platform keep running there: that tenant has
-- taken the workflow up. Those of the platform tenant stop (shared schedules never run there).
INSERT INTO tenant_workflows (tenant, definition, adopted_us)
SELECT DISTINCT tenant, definition, 0 FROM schedules WHERE tenant <> 'default';

-- Schedules per tenant: one row per workflow, schedule name and tenant it runs in.
CREATE TABLE schedules_by_tenant (
    definition TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    tenant     TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    next_us    INTEGER NOT NULL,
    PRIMARY KEY (definition, name, tenant)
);
INSERT INTO schedules_by_tenant (definition, name, tenant, version, next_us)
SELECT definition, name, tenant, version, next_us FROM schedules WHERE tenant <> 'default';
DROP TABLE schedules;
ALTER TABLE schedules_by_tenant RENAME TO schedules;
CREATE INDEX schedules_by_next ON schedules (next_us);

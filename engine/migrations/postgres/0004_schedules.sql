-- Workflow schedules (cron, Europe/Rome): the next occurrence of each, per workflow and name.
-- The instance that deploys a version owns its schedules; a new version replaces them.
CREATE TABLE schedules (
    definition TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    version    BIGINT  NOT NULL,
    tenant     TEXT    NOT NULL,
    next_us    BIGINT  NOT NULL,
    PRIMARY KEY (definition, name)
);
CREATE INDEX schedules_by_next ON schedules (next_us);

-- How a task's deadline was computed (base instant, rule, skipped days, calendar version).
ALTER TABLE tasks ADD COLUMN due_derivation JSONB;

-- A suspended deadline (stop-the-clock, e.g. during soccorso istruttorio): since when, and why.
ALTER TABLE tasks ADD COLUMN paused_us BIGINT;
ALTER TABLE tasks ADD COLUMN pause_reason TEXT;

-- Holidays of a tenant on top of the national calendar (a Province's patron saint day).
CREATE TABLE tenant_holidays (
    tenant TEXT    NOT NULL,
    month  BIGINT NOT NULL,
    day    BIGINT NOT NULL,
    name   TEXT    NOT NULL,
    PRIMARY KEY (tenant, month, day)
);

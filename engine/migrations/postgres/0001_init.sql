-- Procedo schema, PostgreSQL. Instants are microseconds since the Unix epoch (UTC) in both
-- backends, so ordering and comparisons are exact and identical; history event bodies carry
-- the RFC 3339 text that is hashed.
CREATE TABLE definitions (
    id          TEXT    NOT NULL,
    version     BIGINT  NOT NULL,
    title       TEXT    NOT NULL,
    package     JSONB    NOT NULL,
    deployed_by TEXT    NOT NULL,
    deployed_us BIGINT  NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE instances (
    id                 UUID    PRIMARY KEY,
    tenant             TEXT    NOT NULL,
    on_behalf_of       TEXT,
    definition         TEXT    NOT NULL,
    definition_version BIGINT  NOT NULL,
    state              TEXT    NOT NULL,
    status             TEXT    NOT NULL CHECK (status IN ('active', 'ended', 'cancelled')),
    status_detail      TEXT,
    variables          JSONB    NOT NULL,
    parent_id          UUID,
    parent_index       BIGINT ,
    children_pending   BIGINT  NOT NULL,
    version            BIGINT  NOT NULL,
    seq                BIGINT  NOT NULL,
    last_hash          TEXT    NOT NULL,
    created_us         BIGINT  NOT NULL,
    updated_us         BIGINT  NOT NULL,
    FOREIGN KEY (definition, definition_version) REFERENCES definitions (id, version)
);
CREATE INDEX instances_by_tenant ON instances (tenant, definition, status);
CREATE INDEX instances_by_behalf ON instances (on_behalf_of) WHERE on_behalf_of IS NOT NULL;
CREATE INDEX instances_by_parent ON instances (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE tasks (
    id               UUID    PRIMARY KEY,
    instance_id      UUID    NOT NULL REFERENCES instances (id),
    tenant           TEXT    NOT NULL,
    definition       TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    role             TEXT    NOT NULL,
    assignee         TEXT,
    due_us           BIGINT ,
    actions          JSONB    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('open', 'completed', 'cancelled')),
    completed_action TEXT,
    completed_by     TEXT,
    created_us       BIGINT  NOT NULL,
    closed_us        BIGINT 
);
CREATE INDEX tasks_by_instance ON tasks (instance_id, status);
CREATE INDEX tasks_open_by_tenant ON tasks (tenant, role, due_us) WHERE status = 'open';

CREATE TABLE timers (
    id          UUID    PRIMARY KEY,
    instance_id UUID    NOT NULL REFERENCES instances (id),
    tenant      TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('wait_timeout', 'task_due', 'task_remind')),
    task_id     UUID,
    fire_us     BIGINT  NOT NULL
);
CREATE INDEX timers_by_due ON timers (fire_us);
CREATE INDEX timers_by_instance ON timers (instance_id);

CREATE TABLE events (
    instance_id UUID    NOT NULL REFERENCES instances (id),
    seq         BIGINT  NOT NULL,
    actor       TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    hash        TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    PRIMARY KEY (instance_id, seq)
);

CREATE TABLE documents (
    id                 UUID    PRIMARY KEY,
    instance_id        UUID    NOT NULL REFERENCES instances (id),
    tenant             TEXT    NOT NULL,
    template           TEXT    NOT NULL,
    definition         TEXT    NOT NULL,
    definition_version BIGINT  NOT NULL,
    content_type       TEXT    NOT NULL,
    content            TEXT    NOT NULL,
    sha256             TEXT    NOT NULL,
    data_sha256        TEXT    NOT NULL,
    created_us         BIGINT  NOT NULL
);
CREATE INDEX documents_by_instance ON documents (instance_id);

CREATE TABLE tokens (
    hash        TEXT    PRIMARY KEY,
    user_name   TEXT    NOT NULL,
    tenant      TEXT    NOT NULL,
    roles       TEXT    NOT NULL,
    created_us  BIGINT  NOT NULL,
    expires_us  BIGINT ,
    revoked_us  BIGINT 
);

-- History and documents are append-only: the database itself refuses edits through SQL that
-- goes around the engine (a determined attacker with file access is caught by verification).
CREATE FUNCTION procedo_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION procedo_append_only();
CREATE TRIGGER documents_append_only BEFORE UPDATE ON documents
    FOR EACH ROW EXECUTE FUNCTION procedo_append_only();

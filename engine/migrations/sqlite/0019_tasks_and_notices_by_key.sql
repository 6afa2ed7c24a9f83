-- Tasks and notices stored in the b-tree of their primary key (`WITHOUT ROWID`).
--
-- Why: a table whose key is not an integer is two b-trees in SQLite, the rows by a hidden
-- rowid and an index from the key to that rowid. Completing a task writes a task twice (the
-- one closed, the one opened) and a notice, so each commit wrote both b-trees of both tables:
-- two of the eleven pages a completion put in the log, and a second descent on every lookup
-- of a task by its id. Keyed by their ids (UUIDv7, in time order) the rows land where the
-- key index was. PostgreSQL keeps its tables: a heap with its key index is what it has.
--
-- The rows are copied in column order and the indexes made again. `mail_outbox` refers to
-- `notices`, so it is rebuilt too, pointing at the new table before the old one is dropped
-- (a dropped parent would count every mail as a violation); renaming the new table carries
-- the reference along.
CREATE TABLE tasks_by_key (
    id               BLOB    NOT NULL PRIMARY KEY,
    instance_id      BLOB    NOT NULL REFERENCES instances (id),
    tenant           TEXT    NOT NULL,
    definition       TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    role             TEXT    NOT NULL,
    assignee         TEXT,
    due_us           INTEGER,
    actions          TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status = 'open' OR status = 'completed' OR status = 'cancelled'),
    completed_action TEXT,
    completed_by     TEXT,
    created_us       INTEGER NOT NULL,
    closed_us        INTEGER,
    due_derivation   TEXT,
    paused_us        INTEGER,
    pause_reason     TEXT
) WITHOUT ROWID;
INSERT INTO tasks_by_key (id, instance_id, tenant, definition, state, role, assignee, due_us, actions, status,
                          completed_action, completed_by, created_us, closed_us, due_derivation, paused_us, pause_reason)
    SELECT id, instance_id, tenant, definition, state, role, assignee, due_us, actions, status,
           completed_action, completed_by, created_us, closed_us, due_derivation, paused_us, pause_reason
    FROM tasks;
DROP TABLE tasks;
ALTER TABLE tasks_by_key RENAME TO tasks;
CREATE INDEX tasks_by_instance ON tasks (instance_id);
CREATE INDEX tasks_open_by_tenant ON tasks (tenant, role, due_us) WHERE status = 'open';

CREATE TABLE notices_by_key (
    id          BLOB    NOT NULL PRIMARY KEY,
    instance_id BLOB    NOT NULL,
    tenant      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    task_id     BLOB    NOT NULL,
    role        TEXT    NOT NULL,
    assignee    TEXT,
    title       TEXT    NOT NULL,
    created_us  INTEGER NOT NULL,
    expanded_us INTEGER
) WITHOUT ROWID;
INSERT INTO notices_by_key (id, instance_id, tenant, kind, task_id, role, assignee, title, created_us, expanded_us)
    SELECT id, instance_id, tenant, kind, task_id, role, assignee, title, created_us, expanded_us FROM notices;

CREATE TABLE mail_outbox_rebuilt (
    id          BLOB    PRIMARY KEY,
    notice_id   BLOB    NOT NULL REFERENCES notices_by_key (id),
    user_name   TEXT    NOT NULL,
    address     TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_us     INTEGER NOT NULL,
    sent_us     INTEGER,
    last_error  TEXT,
    created_us  INTEGER NOT NULL,
    UNIQUE (notice_id, user_name)
);
INSERT INTO mail_outbox_rebuilt (id, notice_id, user_name, address, subject, body, attempts, next_us, sent_us,
                                 last_error, created_us)
    SELECT id, notice_id, user_name, address, subject, body, attempts, next_us, sent_us, last_error, created_us
    FROM mail_outbox;
DROP TABLE mail_outbox;
DROP TABLE notices;
ALTER TABLE notices_by_key RENAME TO notices;
ALTER TABLE mail_outbox_rebuilt RENAME TO mail_outbox;
CREATE INDEX notices_pending ON notices (created_us) WHERE expanded_us IS NULL;
CREATE INDEX notices_by_tenant ON notices (tenant, created_us);
CREATE INDEX mail_outbox_due ON mail_outbox (next_us) WHERE sent_us IS NULL;

-- The status checks of tasks, timers and jobs written as comparisons, not `IN (…)` lists.
--
-- Why: SQLite evaluates a CHECK on every INSERT and UPDATE of the row, and compiles an `IN`
-- list of three or more values into a temporary b-tree it builds and frees each time (a page
-- cache, a zeroed 4 KiB page). Completing a task writes a task twice (closing one, opening the
-- next) and a timer or two, so the lists cost about 30,000 instructions per step (callgrind,
-- `procedo bench approval-chain`), 6 % of it, for no check at all beyond the comparisons.
-- The allowed values are the same; PostgreSQL keeps its lists (they cost it nothing).
--
-- SQLite cannot alter a CHECK in place: each table is rebuilt, its rows copied in column
-- order, and its indexes made again. `instances` keeps its list: it is the parent of every
-- foreign key, and dropping a parent inside the migration's transaction would count its
-- children as violations; its check runs only when a case starts or ends.
CREATE TABLE tasks_rebuilt (
    id               BLOB    PRIMARY KEY,
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
);
INSERT INTO tasks_rebuilt (id, instance_id, tenant, definition, state, role, assignee, due_us, actions, status,
                           completed_action, completed_by, created_us, closed_us, due_derivation, paused_us, pause_reason)
    SELECT id, instance_id, tenant, definition, state, role, assignee, due_us, actions, status,
           completed_action, completed_by, created_us, closed_us, due_derivation, paused_us, pause_reason
    FROM tasks;
DROP TABLE tasks;
ALTER TABLE tasks_rebuilt RENAME TO tasks;
-- By instance only: an instance has a handful of tasks, and with the status in the key every
-- task closed moved its entry in this index too.
CREATE INDEX tasks_by_instance ON tasks (instance_id);
CREATE INDEX tasks_open_by_tenant ON tasks (tenant, role, due_us) WHERE status = 'open';

CREATE TABLE timers_rebuilt (
    id             BLOB    PRIMARY KEY,
    instance_id    BLOB    NOT NULL REFERENCES instances (id),
    tenant         TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    kind           TEXT    NOT NULL CHECK (kind = 'wait_timeout' OR kind = 'task_due' OR kind = 'task_remind'),
    task_id        BLOB,
    fire_us        INTEGER NOT NULL,
    lease_until_us INTEGER,
    leased_by      TEXT
);
INSERT INTO timers_rebuilt (id, instance_id, tenant, state, kind, task_id, fire_us, lease_until_us, leased_by)
    SELECT id, instance_id, tenant, state, kind, task_id, fire_us, lease_until_us, leased_by FROM timers;
DROP TABLE timers;
ALTER TABLE timers_rebuilt RENAME TO timers;
CREATE INDEX timers_by_due ON timers (fire_us);
CREATE INDEX timers_by_instance ON timers (instance_id);

CREATE TABLE jobs_rebuilt (
    id              BLOB    PRIMARY KEY,
    instance_id     BLOB    NOT NULL REFERENCES instances (id),
    tenant          TEXT    NOT NULL,
    definition      TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    topic           TEXT    NOT NULL,
    input           TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status = 'open' OR status = 'incident' OR status = 'completed' OR status = 'errored' OR status = 'cancelled'),
    attempt         INTEGER NOT NULL,
    retries         INTEGER NOT NULL,
    backoff_ms      INTEGER NOT NULL,
    available_us    INTEGER NOT NULL,
    locked_by       TEXT,
    locked_until_us INTEGER,
    lock_seq        INTEGER NOT NULL DEFAULT 0,
    message         TEXT,
    created_us      INTEGER NOT NULL,
    closed_us       INTEGER
);
INSERT INTO jobs_rebuilt (id, instance_id, tenant, definition, state, topic, input, status, attempt, retries, backoff_ms,
                          available_us, locked_by, locked_until_us, lock_seq, message, created_us, closed_us)
    SELECT id, instance_id, tenant, definition, state, topic, input, status, attempt, retries, backoff_ms,
           available_us, locked_by, locked_until_us, lock_seq, message, created_us, closed_us
    FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_rebuilt RENAME TO jobs;
CREATE INDEX jobs_fetchable ON jobs (topic, available_us) WHERE status = 'open';
CREATE INDEX jobs_by_instance ON jobs (instance_id);
CREATE INDEX jobs_incidents ON jobs (tenant) WHERE status = 'incident';

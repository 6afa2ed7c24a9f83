-- Service tasks: work handed to a system outside the engine. A job is created in the
-- transaction that enters a `service` state and closed in the one that applies its answer.
-- `lock_seq` grows at every fetch: an answer is applied only by the holder of the latest lock.
CREATE TABLE jobs (
    id              BLOB    PRIMARY KEY,
    instance_id     BLOB    NOT NULL REFERENCES instances (id),
    tenant          TEXT    NOT NULL,
    definition      TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    topic           TEXT    NOT NULL,
    input           TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('open', 'incident', 'completed', 'errored', 'cancelled')),
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
CREATE INDEX jobs_fetchable ON jobs (topic, available_us) WHERE status = 'open';
CREATE INDEX jobs_by_instance ON jobs (instance_id);
CREATE INDEX jobs_incidents ON jobs (tenant) WHERE status = 'incident';

-- Notifications (DESIGN.md, "Notifications"): a notice is written by the transition that
-- opens, reminds or escalates a task; after the commit the notifier expands it into one mail
-- per official who may take the task (unique per notice and official), and sends them,
-- retrying while the mail server is down. A notice does not hold its instance (no foreign key):
-- it is a message, not part of the record the history seals.
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN mail_off INTEGER NOT NULL DEFAULT 0;
CREATE TABLE notices (
    id          BLOB    PRIMARY KEY,
    instance_id BLOB    NOT NULL,
    tenant      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    task_id     BLOB    NOT NULL,
    role        TEXT    NOT NULL,
    assignee    TEXT,
    title       TEXT    NOT NULL,
    created_us  INTEGER NOT NULL,
    expanded_us INTEGER
);
CREATE INDEX notices_pending ON notices (created_us) WHERE expanded_us IS NULL;
CREATE INDEX notices_by_tenant ON notices (tenant, created_us);
CREATE TABLE mail_outbox (
    id          BLOB    PRIMARY KEY,
    notice_id   BLOB    NOT NULL REFERENCES notices (id),
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
CREATE INDEX mail_outbox_due ON mail_outbox (next_us) WHERE sent_us IS NULL;

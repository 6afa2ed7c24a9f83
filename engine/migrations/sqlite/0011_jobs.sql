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

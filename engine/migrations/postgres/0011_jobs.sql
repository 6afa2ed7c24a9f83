-- Service tasks: work handed to a system outside the engine. A job is created in the
-- transaction that enters a `service` state and closed in the one that applies its answer.
-- `lock_seq` grows at every fetch: an answer is applied only by the holder of the latest lock.
CREATE TABLE jobs (
    id              UUID    PRIMARY KEY,
    instance_id     UUID    NOT NULL REFERENCES instances (id),
    tenant          TEXT    NOT NULL,
    definition      TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    topic           TEXT    NOT NULL,
    input           JSONB   NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('open', 'incident', 'completed', 'errored', 'cancelled')),
    attempt         BIGINT  NOT NULL,
    retries         BIGINT  NOT NULL,
    backoff_ms      BIGINT  NOT NULL,
    available_us    BIGINT  NOT NULL,
    locked_by       TEXT,
    locked_until_us BIGINT ,
    lock_seq        BIGINT  NOT NULL DEFAULT 0,
    message         TEXT,
    created_us      BIGINT  NOT NULL,
    closed_us       BIGINT 
);
CREATE INDEX jobs_fetchable ON jobs (topic, available_us) WHERE status = 'open';
CREATE INDEX jobs_by_instance ON jobs (instance_id);
CREATE INDEX jobs_incidents ON jobs (tenant) WHERE status = 'incident';

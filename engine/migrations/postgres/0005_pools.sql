-- Shared pools (the seats of a course edition) per tenant, and their waiting lines.
CREATE TABLE pools (
    tenant   TEXT    NOT NULL,
    pool     TEXT    NOT NULL,
    key      TEXT    NOT NULL,
    capacity BIGINT  NOT NULL,
    used     BIGINT  NOT NULL,
    next_seq BIGINT  NOT NULL,
    PRIMARY KEY (tenant, pool, key)
);
CREATE TABLE pool_waiters (
    tenant      TEXT    NOT NULL,
    pool        TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    seq         BIGINT  NOT NULL,
    instance_id UUID    NOT NULL REFERENCES instances (id),
    PRIMARY KEY (tenant, pool, key, seq),
    UNIQUE (pool, instance_id)
);

-- Shared pools (the seats of a course edition) per tenant, and their waiting lines.
CREATE TABLE pools (
    tenant   TEXT    NOT NULL,
    pool     TEXT    NOT NULL,
    key      TEXT    NOT NULL,
    capacity INTEGER NOT NULL,
    used     INTEGER NOT NULL,
    next_seq INTEGER NOT NULL,
    PRIMARY KEY (tenant, pool, key)
);
CREATE TABLE pool_waiters (
    tenant      TEXT    NOT NULL,
    pool        TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    instance_id BLOB    NOT NULL REFERENCES instances (id),
    PRIMARY KEY (tenant, pool, key, seq),
    UNIQUE (pool, instance_id)
);

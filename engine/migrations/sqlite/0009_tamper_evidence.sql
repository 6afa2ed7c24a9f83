-- Tamper evidence (issue 14): what verification needs besides the hash chains.

-- An issued act is never deleted either.
CREATE TRIGGER documents_no_delete BEFORE DELETE ON documents BEGIN SELECT RAISE(ABORT, 'documents are immutable'); END;

-- Every instance ever created, numbered without gaps: each entry takes the highest number
-- committed so far plus one, so every number from 1 to the highest is present (instances
-- started at the same moment on PostgreSQL may share one: taking a number never waits or
-- fails). An instance that disappears leaves its ledger entry or, if that is deleted too, a
-- gap. Existing instances are entered in the order they were created.
CREATE TABLE instance_ledger (
    instance_id BLOB    PRIMARY KEY,
    n           INTEGER NOT NULL,
    tenant      TEXT    NOT NULL,
    created_us  INTEGER NOT NULL
);
CREATE INDEX instance_ledger_by_n ON instance_ledger (n);
INSERT INTO instance_ledger (n, instance_id, tenant, created_us)
    SELECT ROW_NUMBER() OVER (ORDER BY created_us, id), id, tenant, created_us FROM instances;
CREATE TRIGGER instance_ledger_no_update BEFORE UPDATE ON instance_ledger BEGIN SELECT RAISE(ABORT, 'the instance ledger is append-only'); END;
CREATE TRIGGER instance_ledger_no_delete BEFORE DELETE ON instance_ledger BEGIN SELECT RAISE(ABORT, 'the instance ledger is append-only'); END;

-- Every deployment, as a hash chain of its own: the package's hash, who, when. Definitions
-- deployed before this migration are recorded at the next start (the engine computes the
-- hashes; `procedo_meta.record_deploys` says it is still to do).
CREATE TABLE deploys (
    seq        INTEGER PRIMARY KEY,
    definition TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    body       TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    prev_hash  TEXT    NOT NULL,
    UNIQUE (definition, version)
);
CREATE TRIGGER deploys_no_update BEFORE UPDATE ON deploys BEGIN SELECT RAISE(ABORT, 'deploys are append-only'); END;
CREATE TRIGGER deploys_no_delete BEFORE DELETE ON deploys BEGIN SELECT RAISE(ABORT, 'deploys are append-only'); END;

-- Signed checkpoints: the signed header, its signature and the chain heads it covers.
CREATE TABLE checkpoints (
    id         INTEGER PRIMARY KEY,
    created_us INTEGER NOT NULL,
    instances  INTEGER NOT NULL,
    root       TEXT    NOT NULL,
    header     TEXT    NOT NULL,
    signature  TEXT    NOT NULL,
    public_key TEXT    NOT NULL,
    heads      TEXT    NOT NULL
);
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;

CREATE TABLE procedo_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO procedo_meta (key, value) VALUES ('record_deploys', 'pending');

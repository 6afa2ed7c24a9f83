-- Tamper evidence (issue 14): what verification needs besides the hash chains.

-- An issued act is never deleted either.
CREATE TRIGGER documents_no_delete BEFORE DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION procedo_append_only();

-- Every instance ever created, numbered without gaps: each entry takes the highest number
-- committed so far plus one, so every number from 1 to the highest is present (instances
-- started at the same moment on PostgreSQL may share one: taking a number never waits or
-- fails). An instance that disappears leaves its ledger entry or, if that is deleted too, a
-- gap. Existing instances are entered in the order they were created.
CREATE TABLE instance_ledger (
    instance_id UUID   PRIMARY KEY,
    n           BIGINT NOT NULL,
    tenant      TEXT   NOT NULL,
    created_us  BIGINT NOT NULL
);
CREATE INDEX instance_ledger_by_n ON instance_ledger (n);
INSERT INTO instance_ledger (n, instance_id, tenant, created_us)
    SELECT ROW_NUMBER() OVER (ORDER BY created_us, id), id, tenant, created_us FROM instances;
CREATE TRIGGER instance_ledger_append_only BEFORE UPDATE OR DELETE ON instance_ledger
    FOR EACH ROW EXECUTE FUNCTION procedo_append_only();

-- Every deployment, as a hash chain of its own: the package's hash, who, when. Definitions
-- deployed before this migration are recorded at the next start (the engine computes the
-- hashes; `procedo_meta.record_deploys` says it is still to do).
CREATE TABLE deploys (
    seq        BIGINT PRIMARY KEY,
    definition TEXT   NOT NULL,
    version    BIGINT NOT NULL,
    body       TEXT   NOT NULL,
    hash       TEXT   NOT NULL,
    prev_hash  TEXT   NOT NULL,
    UNIQUE (definition, version)
);
CREATE TRIGGER deploys_append_only BEFORE UPDATE OR DELETE ON deploys
    FOR EACH ROW EXECUTE FUNCTION procedo_append_only();

-- Signed checkpoints: the signed header, its signature and the chain heads it covers.
CREATE TABLE checkpoints (
    id         BIGINT PRIMARY KEY,
    created_us BIGINT NOT NULL,
    instances  BIGINT NOT NULL,
    root       TEXT   NOT NULL,
    header     TEXT   NOT NULL,
    signature  TEXT   NOT NULL,
    public_key TEXT   NOT NULL,
    heads      TEXT   NOT NULL
);
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION procedo_append_only();

CREATE TABLE procedo_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO procedo_meta (key, value) VALUES ('record_deploys', 'pending');

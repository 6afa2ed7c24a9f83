-- Every relation an administrator records (`procedo tenant relate`, `POST
-- /api/v1/tenants/{id}/relations`), as a hash chain of its own: who recorded which provider,
-- client, scope and days, when. Why: a relation decides whom a provider may act for; one a
-- case granted is checked against that case's history, and one an administrator recorded had
-- nothing to be checked against, so a row added or widened behind the engine would let a
-- tenant into another's cases unseen. Verification compares each such row with the latest
-- record of its pair. Relations recorded before this migration are entered at the next start
-- (the engine computes the hashes; `procedo_meta.record_relations` says it is still to do).
CREATE TABLE relation_records (
    seq        INTEGER PRIMARY KEY,
    provider   TEXT    NOT NULL,
    client     TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    prev_hash  TEXT    NOT NULL
);
CREATE TRIGGER relation_records_no_update BEFORE UPDATE ON relation_records BEGIN SELECT RAISE(ABORT, 'relation records are append-only'); END;
CREATE TRIGGER relation_records_no_delete BEFORE DELETE ON relation_records BEGIN SELECT RAISE(ABORT, 'relation records are append-only'); END;
INSERT INTO procedo_meta (key, value) VALUES ('record_relations', 'pending');

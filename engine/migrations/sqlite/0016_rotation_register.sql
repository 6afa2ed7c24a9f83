-- The register of outgoing contractors (rotation principle, art. 49 d.lgs. 36/2023): one row
-- per award a case recorded (`rotation:` on a state), written in the step's transaction and
-- sealed in its event (`rotation_recorded`). The outgoing contractor of a contracting
-- authority (the Comune a case runs for, else the case's own tenant) for a category and value
-- band is the operator of its latest row there. Rows are never changed or deleted: the
-- register is its own history.
CREATE TABLE rotation_register (
    id            BLOB    PRIMARY KEY,
    authority     TEXT    NOT NULL,
    category      TEXT    NOT NULL,
    band          TEXT    NOT NULL,
    operator      TEXT    NOT NULL,
    operator_name TEXT    NOT NULL,
    tenant        TEXT    NOT NULL,
    instance_id   BLOB    NOT NULL REFERENCES instances (id),
    recorded_us   INTEGER NOT NULL
);
CREATE INDEX rotation_register_by_authority ON rotation_register (authority, category, band, recorded_us);
CREATE TRIGGER rotation_register_no_update BEFORE UPDATE ON rotation_register BEGIN SELECT RAISE(ABORT, 'the rotation register is append-only'); END;
CREATE TRIGGER rotation_register_no_delete BEFORE DELETE ON rotation_register BEGIN SELECT RAISE(ABORT, 'the rotation register is append-only'); END;

-- The register of outgoing contractors (rotation principle, art. 49 d.lgs. 36/2023): one row
-- per award a case recorded (`rotation:` on a state), written in the step's transaction and
-- sealed in its event (`rotation_recorded`). The outgoing contractor of a contracting
-- authority (the Comune a case runs for, else the case's own tenant) for a category and value
-- band is the operator of its latest row there. Rows are never changed or deleted: the
-- register is its own history.
CREATE TABLE rotation_register (
    id            UUID    PRIMARY KEY,
    authority     TEXT    NOT NULL,
    category      TEXT    NOT NULL,
    band          TEXT    NOT NULL,
    operator      TEXT    NOT NULL,
    operator_name TEXT    NOT NULL,
    tenant        TEXT    NOT NULL,
    instance_id   UUID    NOT NULL REFERENCES instances (id),
    recorded_us   BIGINT  NOT NULL
);
CREATE INDEX rotation_register_by_authority ON rotation_register (authority, category, band, recorded_us);
CREATE FUNCTION procedo_rotation_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the rotation register is append-only';
END;
$$;
CREATE TRIGGER rotation_register_no_change BEFORE UPDATE OR DELETE ON rotation_register
    FOR EACH ROW EXECUTE FUNCTION procedo_rotation_append_only();

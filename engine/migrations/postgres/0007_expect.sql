-- Lets one statement refuse to stand when one of its writes did not happen. A transition whose
-- writes travel as a single statement (data-modifying CTEs) checks each write's row count with
-- this function; a mismatch raises, and the whole statement, hence the transition, is undone.
CREATE FUNCTION procedo_expect(written BIGINT, expected BIGINT, what TEXT) RETURNS BIGINT
LANGUAGE plpgsql AS $$
BEGIN
    IF written <> expected THEN
        RAISE EXCEPTION USING ERRCODE = 'PC409', MESSAGE = what;
    END IF;
    RETURN written;
END
$$;

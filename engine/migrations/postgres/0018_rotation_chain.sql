-- Each award in the register of outgoing contractors names the award it follows on its line
-- (authority, category, band; the nil id for the first), and no two awards may follow the
-- same one. Why: an award is decided over the register as read (`rotation_check`), and two
-- decisions on the same line taken at once must not both pass the art. 49 check. Under READ
-- COMMITTED two transactions committing at once each see the line without the other, so a
-- check of the line's latest row inside the insert does not stop the second: the unique key
-- does (the second waits for the first and fails as a lost race, to be decided again).
--
-- Rows already in the register get the award before them on their line, in the register's
-- order (recorded_us, id); the append-only trigger is lifted for that one update only.
ALTER TABLE rotation_register ADD COLUMN previous UUID NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000';
ALTER TABLE rotation_register DISABLE TRIGGER rotation_register_no_change;
UPDATE rotation_register AS r SET previous = COALESCE((
    SELECT p.id FROM rotation_register AS p
    WHERE p.authority = r.authority AND p.category = r.category AND p.band = r.band
      AND (p.recorded_us < r.recorded_us OR (p.recorded_us = r.recorded_us AND p.id < r.id))
    ORDER BY p.recorded_us DESC, p.id DESC LIMIT 1), '00000000-0000-0000-0000-000000000000');
ALTER TABLE rotation_register ENABLE TRIGGER rotation_register_no_change;
CREATE UNIQUE INDEX rotation_register_chain ON rotation_register (authority, category, band, previous);

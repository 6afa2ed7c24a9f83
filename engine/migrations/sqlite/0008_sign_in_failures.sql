-- Sign-in attempts that have not (yet) succeeded, per subject: `user:NAME` (an account, known
-- or not, so that the throttle does not tell which names exist) or `addr:ADDRESS` (a client
-- address; an IPv6 /64 counts as one). Kept in the database so that every server shares them
-- and a restart forgets nothing; the delay is computed from `failures` and `last_us` by the
-- server. Rows older than the forgetting window are deleted whenever a failure is recorded,
-- which bounds the table by the attempts of the last hour.
CREATE TABLE sign_in_failures (
    subject  TEXT    PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_us  INTEGER NOT NULL
);
CREATE INDEX sign_in_failures_by_age ON sign_in_failures (last_us);

-- Officials who sign in to the pages with a password. Only an Argon2id hash (PHC string, with
-- its own salt and parameters) is stored. A user name is unique across tenants, so that the
-- sign-in form needs no tenant.
CREATE TABLE users (
    user_name     TEXT    PRIMARY KEY,
    tenant        TEXT    NOT NULL,
    roles         TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created_us    INTEGER NOT NULL,
    disabled_us   INTEGER
);

-- A web session is a short-lived token minted at password sign-in; signing out revokes it.
-- Tokens made by `procedo token create` are 'api'.
ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'api';

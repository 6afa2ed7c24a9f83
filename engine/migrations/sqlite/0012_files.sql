-- Attachments (issue 18): files officials bring to a step, stored in the database.
--
-- The bytes live in `file_chunks`, in pieces of at most 1 MiB, keyed by the upload that wrote
-- them: an upload streams into the table without being held whole in memory. A content
-- (`file_blobs`) is stored once per tenant and hash; every upload is a `files` row of its own
-- (its name, who brought it, when) naming the content. Contents and files are never changed or
-- deleted: a history that names a file must find it with its hash.
CREATE TABLE file_chunks (
    upload_id BLOB    NOT NULL,
    n         INTEGER NOT NULL,
    data      BLOB    NOT NULL,
    PRIMARY KEY (upload_id, n)
);

CREATE TABLE file_blobs (
    tenant     TEXT    NOT NULL,
    sha256     TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    upload_id  BLOB    NOT NULL,
    chunks     INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (tenant, sha256)
);

CREATE TABLE files (
    id           BLOB    PRIMARY KEY,
    tenant       TEXT    NOT NULL,
    sha256       TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    content_type TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    uploaded_by  TEXT    NOT NULL,
    created_us   INTEGER NOT NULL,
    FOREIGN KEY (tenant, sha256) REFERENCES file_blobs (tenant, sha256)
);
CREATE TRIGGER files_no_update BEFORE UPDATE ON files BEGIN SELECT RAISE(ABORT, 'files are immutable'); END;
CREATE TRIGGER files_no_delete BEFORE DELETE ON files BEGIN SELECT RAISE(ABORT, 'files are immutable'); END;
CREATE TRIGGER file_blobs_no_update BEFORE UPDATE ON file_blobs BEGIN SELECT RAISE(ABORT, 'files are immutable'); END;
CREATE TRIGGER file_blobs_no_delete BEFORE DELETE ON file_blobs BEGIN SELECT RAISE(ABORT, 'files are immutable'); END;

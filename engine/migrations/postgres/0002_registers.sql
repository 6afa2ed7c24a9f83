-- Per-tenant, per-year registers of numbered acts, and the number each document received.
CREATE TABLE registers (
    tenant   TEXT    NOT NULL,
    register TEXT    NOT NULL,
    year     BIGINT  NOT NULL,
    last     BIGINT  NOT NULL,
    PRIMARY KEY (tenant, register, year)
);
ALTER TABLE documents ADD COLUMN register TEXT;
ALTER TABLE documents ADD COLUMN number TEXT;
CREATE UNIQUE INDEX documents_numbered ON documents (tenant, register, number) WHERE number IS NOT NULL;

-- notary-server's PostgreSQL schema, for the end-to-end tests (tests/src/notary.rs).
--
-- From upstream Notary (github.com/notaryproject/notary, formerly theupdateframework/notary),
-- migrations/server/postgresql/0001_initial.up.sql and 0002_changefeed.up.sql, applied in
-- that order. The two files are the same at tag v0.7.0 (commit 9d266b2, the release Debian
-- packages as notary 0.7.0+ds1) and on the default branch (commit 9d2b3b3). They match
-- what v0.7.0's server/storage/sql_models.go reads and writes: tables `tuf_files` and
-- `changefeed`; `CheckHealth` only asks whether `tuf_files` exists.
--
-- Changes from upstream, none of which alter the tables:
-- * IF NOT EXISTS / ON CONFLICT DO NOTHING, so that applying the file twice is harmless;
-- * 0002's copy of existing timestamps into the changefeed runs only while the changefeed
--   is empty (it is a no-op on a fresh schema anyway);
-- * golang-migrate's own `schema_migrations` table (v4 layout, as upstream's migrate.sh
--   uses migrate v4.6.2) records version 2, so `migrate up` on these files finds nothing
--   to do. notary-server itself never reads it.
--
-- Names are unqualified: run it after `SET search_path TO <schema>` to fill that schema,
-- and point notary-server at it with `search_path=<schema>` in the db_url's query.

-- 0001_initial.up.sql
CREATE TABLE IF NOT EXISTS "tuf_files" (
  "id" serial PRIMARY KEY,
  "created_at" timestamp NULL DEFAULT NULL,
  "updated_at" timestamp NULL DEFAULT NULL,
  "deleted_at" timestamp NULL DEFAULT NULL,
  "gun" varchar(255) NOT NULL,
  "role" varchar(255) NOT NULL,
  "version" integer NOT NULL,
  "data" bytea NOT NULL,
  "sha256" char(64) DEFAULT NULL,
  UNIQUE ("gun","role","version")
);

CREATE INDEX IF NOT EXISTS tuf_files_sha256_idx ON tuf_files(sha256);

-- 0002_changefeed.up.sql
CREATE TABLE IF NOT EXISTS "change_category" (
    "category" VARCHAR(20) PRIMARY KEY
);

INSERT INTO "change_category" VALUES ('update'), ('deletion') ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS "changefeed" (
    "id" serial PRIMARY KEY,
    "created_at" timestamp DEFAULT CURRENT_TIMESTAMP,
    "gun" varchar(255) NOT NULL,
    "version" integer NOT NULL,
    "sha256" CHAR(64) DEFAULT NULL,
    "category" VARCHAR(20) NOT NULL DEFAULT 'update' REFERENCES "change_category"
);

CREATE INDEX IF NOT EXISTS "idx_changefeed_gun" ON "changefeed" ("gun");

INSERT INTO "changefeed" (
        "created_at",
        "gun",
        "version",
        "sha256"
    ) (SELECT
        "created_at",
        "gun",
        "version",
        "sha256"
    FROM
        "tuf_files"
    WHERE
        "role" = 'timestamp'
        AND NOT EXISTS (SELECT 1 FROM "changefeed")
    ORDER BY
        "created_at" ASC
);

-- golang-migrate's bookkeeping (not part of upstream's files).
CREATE TABLE IF NOT EXISTS "schema_migrations" (
    "version" bigint NOT NULL PRIMARY KEY,
    "dirty" boolean NOT NULL
);

INSERT INTO "schema_migrations" ("version", "dirty")
    SELECT 2, false WHERE NOT EXISTS (SELECT 1 FROM "schema_migrations");

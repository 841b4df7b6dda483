-- depends: 0001_jobs
-- An object store inside PostgreSQL: each object is a run of ~1 MiB chunks, so uploads and
-- downloads stream in bounded memory.
CREATE TABLE IF NOT EXISTS blobs (
    key text COLLATE "C" NOT NULL,  -- "C": prefix scans (LIKE 'jobs/id/%') use the index
    seq integer NOT NULL,
    data bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key, seq)
);
-- PDFs are compressed already: store chunks out of line without recompressing them.
ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTERNAL;

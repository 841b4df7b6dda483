-- depends: 0001_jobs
-- Extracted text, exactly one row per (job, page) however often a part is redelivered.
CREATE TABLE IF NOT EXISTS job_pages (
    job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    page_no integer NOT NULL,
    text text NOT NULL,
    chars integer NOT NULL,
    PRIMARY KEY (job_id, page_no)
);

-- The page ranges of a job, each processed by one message; done once, whoever finishes it.
-- claimed_at is the running part's heartbeat: a duplicate message skips a part that is
-- running elsewhere, and a part whose worker died is claimable again once it is stale.
CREATE TABLE IF NOT EXISTS job_parts (
    job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    part_no integer NOT NULL,
    pages integer[] NOT NULL,
    blob_key text,
    attempts integer NOT NULL DEFAULT 0,
    claimed_at timestamptz,
    done_at timestamptz,
    PRIMARY KEY (job_id, part_no)
);

-- Jobs: one row per accepted upload, from queued to a terminal state.
CREATE TABLE IF NOT EXISTS jobs (
    id uuid PRIMARY KEY,
    owner text NOT NULL,
    status text NOT NULL DEFAULT 'queued'
        CONSTRAINT jobs_status_check
        CHECK (status IN ('queued', 'processing', 'succeeded', 'failed', 'cancelled')),
    engine text NOT NULL,
    options jsonb NOT NULL DEFAULT '{}'::jsonb,
    filename text,
    size_bytes bigint NOT NULL,
    sha256 text NOT NULL,
    page_count integer,
    pages_total integer,
    pages_done integer NOT NULL DEFAULT 0,
    parts_total integer,
    parts_done integer NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    error_code text,
    error_message text,
    metadata jsonb,
    idempotency_key text,
    callback_url text,
    request_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    enqueued_at timestamptz,
    started_at timestamptz,
    finished_at timestamptz,
    heartbeat_at timestamptz,
    expires_at timestamptz,
    purged_at timestamptz
);

-- Listing: the caller's jobs, newest first, keyset-paginated on (created_at, id).
CREATE INDEX IF NOT EXISTS jobs_owner_created_idx ON jobs (owner, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS jobs_owner_status_created_idx
    ON jobs (owner, status, created_at DESC, id DESC);
-- The sweeper: only live jobs, a small partial index however many finished jobs pile up.
CREATE INDEX IF NOT EXISTS jobs_live_idx
    ON jobs (status, heartbeat_at) WHERE status IN ('queued', 'processing');
CREATE UNIQUE INDEX IF NOT EXISTS jobs_owner_idempotency_key_idx
    ON jobs (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_sha256_idx ON jobs (sha256);
-- Retention: finished jobs whose results expire.
CREATE INDEX IF NOT EXISTS jobs_expires_idx ON jobs (expires_at)
    WHERE expires_at IS NOT NULL AND purged_at IS NULL;

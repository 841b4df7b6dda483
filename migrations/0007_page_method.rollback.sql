ALTER TABLE job_pages
    DROP COLUMN IF EXISTS unread_reason,
    DROP COLUMN IF EXISTS ocr_confidence,
    DROP COLUMN IF EXISTS method;

-- depends: 0003_pages
-- How each page was read: from its text layer, by OCR (with Tesseract's mean word
-- confidence, 0-100), or not at all (with the reason: the page exceeded a limit, OCR failed).
ALTER TABLE job_pages
    ADD COLUMN IF NOT EXISTS method text NOT NULL DEFAULT 'text',
    ADD COLUMN IF NOT EXISTS ocr_confidence real,
    ADD COLUMN IF NOT EXISTS unread_reason text;

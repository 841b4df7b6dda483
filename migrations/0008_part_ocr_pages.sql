-- depends: 0007_page_method
-- Each part's pages to read by OCR, as its plan found them, so that a part does not look
-- for them again. NULL: a part planned before this column; it decides when it runs.
ALTER TABLE job_parts ADD COLUMN IF NOT EXISTS ocr_pages integer[];

-- depends: 0002_blobs 0003_pages
-- Blobs, pages and parts churn: every upload and split part is written, then deleted
-- minutes later. With the defaults (vacuum after 20% of a table is dead, cost-throttled)
-- dead rows and their TOAST pile up between runs and the database grows in a line under
-- load (docs/operations.md, "Bloat"). Vacuum these after 2% (at least 1,000 rows) are
-- dead, unthrottled; their TOAST tables (the blob chunks) likewise. Setting storage
-- parameters is idempotent.
ALTER TABLE blobs SET (
    autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0.05,
    toast.autovacuum_vacuum_scale_factor = 0.02, toast.autovacuum_vacuum_threshold = 1000,
    toast.autovacuum_vacuum_cost_delay = 0
);
ALTER TABLE job_pages SET (
    autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0.05,
    toast.autovacuum_vacuum_scale_factor = 0.02, toast.autovacuum_vacuum_threshold = 1000,
    toast.autovacuum_vacuum_cost_delay = 0
);
ALTER TABLE job_parts SET (
    autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0.05
);

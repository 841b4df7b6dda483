ALTER TABLE IF EXISTS blobs RESET (
    autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
    autovacuum_vacuum_cost_delay, autovacuum_analyze_scale_factor,
    toast.autovacuum_vacuum_scale_factor, toast.autovacuum_vacuum_threshold,
    toast.autovacuum_vacuum_cost_delay
);
ALTER TABLE IF EXISTS job_pages RESET (
    autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
    autovacuum_vacuum_cost_delay, autovacuum_analyze_scale_factor,
    toast.autovacuum_vacuum_scale_factor, toast.autovacuum_vacuum_threshold,
    toast.autovacuum_vacuum_cost_delay
);
ALTER TABLE IF EXISTS job_parts RESET (
    autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
    autovacuum_vacuum_cost_delay, autovacuum_analyze_scale_factor
);

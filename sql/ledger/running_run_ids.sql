-- Runs that left rows in status running: still running, or ended without finishing (a kill, a cancel).
-- One row per run id.
with final as (
    select distinct run_id
    from run_ledger
    where status = 'running'
)

select * from final

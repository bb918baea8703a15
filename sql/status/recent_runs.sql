-- The latest run-ledger rows, newest first: one row per run per entity per delivery day.
with final as (
    select
        run_id,
        entity,
        delivery_day,
        status,
        rows_in,
        rows_loaded,
        rows_quarantined,
        files_seen,
        files_rejected,
        started_at,
        finished_at,
        error
    from run_ledger
)

select * from final
order by started_at desc, delivery_day desc, entity asc
limit :row_limit

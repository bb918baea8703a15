-- The SQL-source window a succeeded run already read for this entity and delivery day, newest first.
with final as (
    select
        window_start,
        window_end,
        finished_at
    from run_ledger
    where
        entity = :entity
        and delivery_day = :delivery_day
        and status = 'succeeded'
        and window_start is not null
)

select * from final
order by finished_at desc

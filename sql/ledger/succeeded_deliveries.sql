-- Entity and delivery days in a range that a run finished successfully (any run, any number of times).
-- One row per entity per delivery day.
with final as (
    select distinct
        entity,
        delivery_day
    from run_ledger
    where
        status = 'succeeded'
        and delivery_day between :first_day and :last_day
)

select * from final

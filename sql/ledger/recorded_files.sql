-- The landing files the warehouse holds a record of, per entity and delivery day in a range, whatever
-- became of them (loaded, duplicate or rejected). One row per file per delivery day.
with final as (
    select
        entity,
        delivery_day,
        path,
        sha256
    from file_ledger
    where delivery_day between :first_day and :last_day
)

select * from final

-- Landing files recorded for one delivery day per entity and status (loaded, duplicate, rejected).
with final as (
    select
        entity,
        status,
        count(*) as count_files
    from file_ledger
    where delivery_day = :day
    group by entity, status
)

select * from final
order by entity asc, status asc

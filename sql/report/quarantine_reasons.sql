-- Quarantined rows per entity and first failed rule over the delivery days of one week.
with final as (
    select
        entity,
        reason,
        count(*) as count_rows
    from quarantine
    where delivery_day between :first_day and :last_day
    group by entity, reason
)

select * from final
order by entity asc, count_rows desc, reason asc

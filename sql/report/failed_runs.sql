-- Delivery days of one week whose latest run failed, with the error.
with latest as (
    select
        entity,
        delivery_day,
        max(started_at) as started_at
    from run_ledger
    where delivery_day between :first_day and :last_day
    group by entity, delivery_day
),

final as (
    select
        r.entity,
        r.delivery_day,
        r.error
    from run_ledger as r
    inner join latest as l
        on
            r.entity = l.entity
            and r.delivery_day = l.delivery_day
            and r.started_at = l.started_at
    where r.status = 'failed'
)

select * from final
order by delivery_day, entity

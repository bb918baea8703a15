-- Delivery days of one week whose latest run failed, with the error.
with latest as (
    select
        entity,
        load_date,
        max(started_at) as started_at
    from run_ledger
    where load_date between :first_day and :last_day
    group by entity, load_date
),

final as (
    select
        r.entity,
        r.load_date,
        r.error
    from run_ledger as r
    inner join latest as l
        on
            r.entity = l.entity
            and r.load_date = l.load_date
            and r.started_at = l.started_at
    where r.status = 'failed'
)

select * from final
order by load_date, entity

-- Rows and files per entity over the delivery days in [first_day, last_day]: the latest succeeded run of
-- each entity and day. `loyalty status` passes the widest range, the weekly report its week.
with latest as (
    select
        entity,
        delivery_day,
        max(finished_at) as finished_at
    from run_ledger
    where
        status = 'succeeded'
        and delivery_day between :first_day and :last_day
    group by entity, delivery_day
),

final as (
    select
        r.entity,
        count(*) as count_days,
        sum(r.rows_in) as rows_in,
        sum(r.rows_loaded) as rows_loaded,
        sum(r.rows_quarantined) as rows_quarantined,
        sum(r.files_loaded) as files_loaded,
        sum(r.files_duplicate) as files_duplicate,
        sum(r.files_rejected) as files_rejected
    from run_ledger as r
    inner join latest as l
        on
            r.entity = l.entity
            and r.delivery_day = l.delivery_day
            and r.finished_at = l.finished_at
    where r.status = 'succeeded'
    group by r.entity
)

select * from final
order by entity

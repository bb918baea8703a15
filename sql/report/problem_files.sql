-- Rejected and duplicate landing files over the delivery days of one week, with the reason.
with final as (
    select
        entity,
        delivery_day,
        path,
        status,
        coalesce(reason, duplicate_of) as reason
    from file_ledger
    where
        status in ('rejected', 'duplicate')
        and delivery_day between :first_day and :last_day
)

select * from final
order by delivery_day, entity, path

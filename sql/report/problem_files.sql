-- Rejected and duplicate landing files over the delivery days of one week, with the reason.
with final as (
    select
        entity,
        load_date,
        path,
        status,
        coalesce(reason, duplicate_of) as reason
    from file_ledger
    where
        status in ('rejected', 'duplicate')
        and load_date between :first_day and :last_day
)

select * from final
order by load_date, entity, path

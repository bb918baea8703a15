-- Files that were rejected whole, newest delivery day first.
with final as (
    select
        entity,
        delivery_day,
        path,
        reason
    from file_ledger
    where status = 'rejected'
)

select * from final
order by delivery_day desc, entity asc, path asc
limit :row_limit

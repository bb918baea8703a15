-- Files that were rejected whole, newest delivery day first.
with final as (
    select
        entity,
        load_date,
        path,
        reason
    from file_ledger
    where status = 'rejected'
)

select * from final
order by load_date desc, entity asc, path asc
limit :row_limit

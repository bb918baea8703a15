-- Every file loaded for an entity, with its delivery day and content hash. One row per loaded file.
with final as (
    select
        delivery_day,
        sha256,
        path
    from file_ledger
    where
        entity = :entity
        and status = 'loaded'
)

select * from final
order by delivery_day, path

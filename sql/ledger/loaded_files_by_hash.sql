-- Files already loaded for an entity on another delivery day, with their content hash.
-- One row per loaded file; the caller filters by the hashes it holds.
with final as (
    select
        sha256,
        path,
        delivery_day
    from file_ledger
    where
        entity = :entity
        and status = 'loaded'
        and delivery_day <> :delivery_day
)

select * from final

-- Files already loaded for an entity on another delivery day, with their content hash.
-- One row per loaded file; the caller filters by the hashes it holds.
with final as (
    select
        sha256,
        path,
        load_date
    from file_ledger
    where
        entity = :entity
        and status = 'loaded'
        and load_date <> :load_date
)

select * from final

-- Quarantined rows, oldest delivery day first, optionally of one delivery day and one entity. One row per
-- rejected source row. The flags say whether a filter applies (a null parameter has no type on PostgreSQL).
with final as (
    select
        delivery_day,
        entity,
        source,
        source_row,
        source_key,
        reason,
        reasons,
        raw_record
    from quarantine
    where
        (:is_any_day or delivery_day = :day)
        and (:is_any_entity or entity = :entity)
)

select * from final
order by delivery_day asc, entity asc, source asc, source_row asc

-- Quarantined rows, oldest delivery day first, optionally of one delivery day, one entity, and reasons
-- LIKE a pattern (a loose match: the caller checks the codes exactly). One row per rejected source row. The
-- flags say whether a filter applies (a null parameter has no type on PostgreSQL).
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
        and (:is_any_reason or reasons like :reason_like)
)

select * from final
order by delivery_day asc, entity asc, source asc, source_row asc

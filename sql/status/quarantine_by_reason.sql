-- Quarantined rows by entity and first failed rule, over all delivery days.
with final as (
    select
        entity,
        reason,
        count(*) as count_rows
    from quarantine
    group by entity, reason
)

select * from final
order by entity asc, count_rows desc, reason asc

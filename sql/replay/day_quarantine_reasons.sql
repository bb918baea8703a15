-- Quarantined rows of one delivery day per entity and list of reason codes (reasons holds every failed rule).
with final as (
    select
        entity,
        reasons,
        count(*) as count_rows
    from quarantine
    where delivery_day = :day
    group by entity, reasons
)

select * from final
order by entity asc, reasons asc

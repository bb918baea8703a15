-- The stored RETAIN lists of the weeks before last_week: cases opened from them decide whether a later
-- listing opens a new case or continues an open one. One row per week x customer on that week's list.
with final as (
    select
        week,
        customer_id,
        reason,
        value_at_risk,
        region,
        email_masked,
        is_detractor
    from retain_list
    where week < :last_week
)

select * from final
order by week, customer_id

-- The ISO weeks first_week .. last_week whose metrics are stored (labels sort in week order): every computed
-- week stores its seven KPI tiles. One row per week.
with final as (
    select distinct week
    from weekly_kpi_tiles
    where week between :first_week and :last_week
)

select * from final
order by week

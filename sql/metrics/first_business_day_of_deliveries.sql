-- The earliest business day among the metric rows (transactions, responses, outreach: tasks/chunk.py's
-- METRIC_ENTITIES, as a load's touched days) that deliveries of a range of delivery days loaded (late rows
-- reach back before their delivery day): where a metric recompute for those deliveries has to start. Not
-- customers: their business day is their creation day, years back for a CRM's first delivery, and a resumed
-- backfill recomputed every week since (131 weeks of the demo's 26, most before any purchase or response).
with days as (
    select min(business_day) as business_day from transactions
    where delivery_day between :first_day and :last_day
    union all
    select min(business_day) as business_day from survey_responses
    where delivery_day between :first_day and :last_day
    union all
    select min(business_day) as business_day from outreach
    where delivery_day between :first_day and :last_day
),

final as (
    select min(business_day) as first_business_day
    from days
)

select * from final

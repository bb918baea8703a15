-- The earliest business day among the rows that deliveries of a range of delivery days loaded (late rows
-- reach back before their delivery day): where a metric recompute for those deliveries has to start.
with days as (
    select min(business_day) as business_day from customers
    where delivery_day between :first_day and :last_day
    union all
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

-- The latest business day that holds a response or a transaction.
with days as (
    select max(business_day) as business_day from survey_responses
    union all
    select max(business_day) as business_day from transactions
),

final as (
    select max(business_day) as last_business_day
    from days
)

select * from final

-- The first and last business day of any transaction: the months a build of customer_months covers
-- (loyalty/derived.py). Two scalar subqueries, so each is one walk of the business_day index.
with final as (
    select
        (select min(business_day) from transactions) as first_day,
        (select max(business_day) from transactions) as last_day
)

select * from final

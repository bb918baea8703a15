-- The first business day of any transaction up to last_day (with or without a customer), per currency and
-- region: the cohort matrix labels customers created before it "existing".
with final as (
    select
        currency,
        region,
        min(business_day) as first_day
    from transactions
    where business_day <= :last_day
    group by currency, region
)

select * from final
order by currency, region

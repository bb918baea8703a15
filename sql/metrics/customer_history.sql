-- What the metrics need from each customer's whole past (analytics/history.py): per customer, currency and
-- region, the first transaction day, the first purchase day and the last purchase day before window_start,
-- up to last_day. One row per customer x currency x region (a customer has one region and few
-- currencies); the caller keeps the currencies it can convert and the region it reports on.
with final as (
    select
        customer_id,
        currency,
        region,
        min(business_day) as first_day,
        min(case when amount > 0 then business_day end) as first_purchase_day,
        max(case when amount > 0 and business_day < :window_start then business_day end)
            as last_purchase_before
    from transactions
    where
        customer_id is not null
        and business_day <= :last_day
    -- Grouped by currency first: grouped by customer_id first, SQLite walks ix_transactions_customer_occurred
    -- and looks every row up by its key (20.5 s at two years of history on SQLite, 9 s this way).
    group by currency, region, customer_id
)

select * from final
order by customer_id, currency, region

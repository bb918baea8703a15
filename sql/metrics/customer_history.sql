-- What the metrics need from each customer's past before the window (analytics/history.py), read from the
-- derived customer_months (loyalty/derived.py), not from the transactions: per customer, currency and
-- region, the first transaction day, the first purchase day and the last purchase day of the months before
-- window_month ('YYYY-MM'). The caller keeps the currencies it can convert and the region it reports on, and
-- adds what the window's own transactions say.
with final as (
    select
        customer_id,
        currency,
        region,
        min(first_day) as first_day,
        min(first_purchase_day) as first_purchase_day,
        max(last_purchase_day) as last_purchase_before
    from customer_months
    where business_month < :window_month
    group by customer_id, currency, region
)

select * from final
order by customer_id, currency, region

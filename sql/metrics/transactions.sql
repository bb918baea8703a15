-- Purchases and refunds on business days from first_day to last_day (of one region, unless all_regions = 1),
-- with the columns the metrics use. One row per transaction, in a stable order (sums of amounts then add up
-- in the same order every run). The metrics read a window (analytics/history.py); what they need from before
-- it is customer_history.sql's. No region column: the region is chosen here, and every value read costs
-- (a year's window is 4M rows, read value by value through the driver).
with final as (
    select
        transaction_id,
        customer_id,
        occurred_at,
        business_day,
        amount,
        currency
    from transactions
    where
        business_day between :first_day and :last_day
        and (:all_regions = 1 or region = :region)
)

select
    customer_id,
    occurred_at,
    business_day,
    amount,
    currency
from final
order by business_day, transaction_id

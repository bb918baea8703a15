-- Purchases and refunds on business days from first_day to last_day, with the columns the metrics use. One
-- row per transaction, in a stable order (sums of amounts then add up in the same order every run). The
-- metrics read a window (analytics/history.py); what they need from before it is customer_history.sql's.
with final as (
    select
        transaction_id,
        customer_id,
        occurred_at,
        business_day,
        amount,
        currency,
        region
    from transactions
    where business_day between :first_day and :last_day
)

select
    customer_id,
    occurred_at,
    business_day,
    amount,
    currency,
    region
from final
order by business_day, transaction_id

-- Purchases and refunds on business days up to last_day. One row per transaction.
with final as (
    select
        transaction_id,
        customer_id,
        occurred_at,
        business_day,
        amount,
        currency,
        channel,
        region
    from transactions
    where business_day <= :last_day
)

select * from final
order by business_day, transaction_id

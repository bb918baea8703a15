-- The customers and business days of one delivery partition of transactions: before the load replaces the
-- partition, the customer months it is about to change (loyalty/derived.py).
with final as (
    select distinct
        customer_id,
        business_day
    from transactions
    where delivery_day = :delivery_day
)

select * from final

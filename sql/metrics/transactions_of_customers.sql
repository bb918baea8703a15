-- Every transaction up to last_day of the customers asked for (a batch of customer_ids): the RETAIN cases
-- follow a listed customer's purchases from the listing on, however long ago it was. Same columns as
-- transactions.sql, and transaction_id to put batches back in that order.
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
    where
        business_day <= :last_day
        and customer_id in :customer_ids
)

select * from final
order by business_day, transaction_id

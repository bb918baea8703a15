-- The transactions the RETAIN cases look at for listings opened at one moment (a batch of that list's
-- customer_ids): each customer's rows from the opening to the cases' horizon (analytics/bundle.py), up to
-- last_day. The occurred_at range, a little wider than asked (loyalty/derived.py's margin), lets the customer
-- index (customer_id, occurred_at) find those rows without reading the customer's other years. Same columns
-- as transactions.sql, and transaction_id to put batches back in that order and drop repeats.
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
        customer_id in :customer_ids
        and occurred_at >= :occurred_from
        and occurred_at <= :occurred_until
        and business_day <= :last_day
)

select * from final
order by business_day, transaction_id

-- The source's transactions rows whose occurred_at falls in the run's window.
-- Window: [window_start, window_end). One row per source row, ordered by key so a re-read is identical.
with final as (
    select
        transaction_id,
        customer_id,
        occurred_at,
        amount,
        currency,
        channel,
        region
    from transactions
    where
        occurred_at >= :window_start
        and occurred_at < :window_end
)

select * from final
order by transaction_id

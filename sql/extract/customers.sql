-- The source's customers rows whose created_at falls in the run's window.
-- Window: [window_start, window_end). One row per source row, ordered by key so a re-read is identical.
with final as (
    select
        customer_id,
        created_at,
        region,
        segment,
        email
    from customers
    where
        created_at >= :window_start
        and created_at < :window_end
)

select * from final
order by customer_id

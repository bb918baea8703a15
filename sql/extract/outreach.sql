-- The source's outreach rows whose contacted_at falls in the run's window.
-- Window: [window_start, window_end). One row per source row, ordered by key so a re-read is identical.
with final as (
    select
        outreach_id,
        customer_id,
        contacted_at,
        channel,
        team,
        outcome,
        note
    from outreach
    where
        contacted_at >= :window_start
        and contacted_at < :window_end
)

select * from final
order by outreach_id

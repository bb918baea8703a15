-- The source's survey_responses rows whose submitted_at falls in the run's window.
-- Window: [window_start, window_end). One row per source row, ordered by key so a re-read is identical.
with final as (
    select
        response_id,
        customer_id,
        submitted_at,
        channel,
        nps,
        csat,
        ces,
        reliability,
        responsiveness,
        assurance,
        empathy,
        tangibles,
        comment,
        region
    from survey_responses
    where
        submitted_at >= :window_start
        and submitted_at < :window_end
)

select * from final
order by response_id

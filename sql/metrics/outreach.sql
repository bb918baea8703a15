-- Contact attempts on business days up to last_day, with the columns cases use. One row per attempt.
-- The note is never selected: it stays in the warehouse (untrusted free text, possibly personal data).
with final as (
    select
        outreach_id,
        customer_id,
        contacted_at,
        channel,
        team,
        outcome
    from outreach
    where business_day <= :last_day
)

select * from final
order by contacted_at, outreach_id

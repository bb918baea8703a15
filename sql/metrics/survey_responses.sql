-- Survey responses with the answering customer's segment, for business days in [first_day, last_day].
-- One row per answered survey; delivery_day is the delivery that brought it (completeness, restatements).
with responses as (
    select
        response_id,
        customer_id,
        submitted_at,
        business_day,
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
        region,
        delivery_day
    from survey_responses
    where business_day between :first_day and :last_day
),

final as (
    select
        responses.*,
        customers.segment
    from responses
    left join customers
        on responses.customer_id = customers.customer_id
)

select * from final
order by business_day, response_id

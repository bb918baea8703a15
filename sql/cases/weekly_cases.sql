-- One week's RETAIN cases as stored by the metrics step (one row per case active that week).
with final as (
    select
        week,
        case_id,
        customer_id,
        list_week,
        opened_day,
        status,
        reason,
        value_at_risk,
        region,
        team,
        email_masked,
        is_detractor,
        is_control,
        is_new,
        is_from_earlier_week,
        times_listed,
        last_listed_week,
        sla_due_day,
        first_contact_day,
        hours_to_first_contact,
        is_contacted_within_sla,
        contact_attempts,
        closed_day,
        age_days
    from weekly_cases
    where week = :week
)

select * from final
order by list_week, customer_id

-- Rows stored in each entity table now (after every replace): one row per entity.
with final as (
    select
        'customers' as entity,
        count(*) as count_rows
    from customers
    union all
    select
        'transactions' as entity,
        count(*) as count_rows
    from transactions
    union all
    select
        'survey_responses' as entity,
        count(*) as count_rows
    from survey_responses
    union all
    select
        'outreach' as entity,
        count(*) as count_rows
    from outreach
)

select * from final

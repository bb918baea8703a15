-- Rows loaded by one delivery day, per entity: one row per entity that has any.
with loaded as (
    select
        'customers' as entity,
        count(*) as count_rows
    from customers
    where delivery_day = :day
    union all
    select
        'transactions' as entity,
        count(*) as count_rows
    from transactions
    where delivery_day = :day
    union all
    select
        'survey_responses' as entity,
        count(*) as count_rows
    from survey_responses
    where delivery_day = :day
    union all
    select
        'outreach' as entity,
        count(*) as count_rows
    from outreach
    where delivery_day = :day
),

final as (
    select
        entity,
        count_rows
    from loaded
    where count_rows > 0
)

select * from final

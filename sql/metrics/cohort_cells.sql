-- The cohort matrix's cells of the months before window_start (analytics/history.py), added up by the
-- warehouse so that no Python process reads those transactions. Transactions in the given currencies (and
-- region, unless all_regions = 1) up to last_day. A customer's cohort is the month of their first purchase;
-- customers created before data_start are "existing" (cohort_month ''), counted from their first purchase
-- day; a new customer is counted from their first purchase month. Two kinds of rows: active customers per
-- cell (currency null), and net revenue per cell and currency (active_customers null). Months are
-- 'YYYY-MM': the ISO text of a date (SQLite stores it so; PostgreSQL's DateStyle ISO casts it so).
with rated as (
    select
        customer_id,
        business_day,
        amount,
        currency
    from transactions
    where
        customer_id is not null
        and business_day <= :last_day
        and currency in :currencies
        and (:all_regions = 1 or region = :region)
),

first_purchases as (
    select
        customer_id,
        min(business_day) as first_purchase_day
    from rated
    where amount > 0
    group by customer_id
),

members as (
    select
        first_purchases.customer_id,
        first_purchases.first_purchase_day,
        coalesce(
            customers.created_at < :data_start and (:all_regions = 1 or customers.region = :region), false
        ) as is_existing
    from first_purchases
    left join customers on first_purchases.customer_id = customers.customer_id
),

counted as (
    select
        members.is_existing,
        rated.customer_id,
        rated.amount,
        rated.currency,
        case
            when members.is_existing then ''
            else substr(cast(members.first_purchase_day as varchar(10)), 1, 7)
        end as cohort_month,
        substr(cast(rated.business_day as varchar(10)), 1, 7) as activity_month
    from rated
    inner join members on rated.customer_id = members.customer_id
    where
        rated.business_day < :window_start
        and (
            (members.is_existing and rated.business_day >= members.first_purchase_day)
            or (
                not members.is_existing
                and substr(cast(rated.business_day as varchar(10)), 1, 7)
                >= substr(cast(members.first_purchase_day as varchar(10)), 1, 7)
            )
        )
),

final as (
    select
        is_existing,
        cohort_month,
        activity_month,
        null as currency,
        count(distinct case when amount > 0 then customer_id end) as active_customers,
        null as revenue
    from counted
    group by is_existing, cohort_month, activity_month
    union all
    select
        is_existing,
        cohort_month,
        activity_month,
        currency,
        null as active_customers,
        sum(amount) as revenue
    from counted
    group by is_existing, cohort_month, activity_month, currency
)

select * from final
order by is_existing, cohort_month, activity_month, currency

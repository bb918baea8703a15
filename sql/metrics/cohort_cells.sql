-- The cohort matrix's cells of the months before window_start (analytics/history.py), added up by the
-- warehouse so that no Python process reads those transactions. Transactions in the given currencies (and
-- region, unless all_regions = 1) up to last_day. A customer's cohort is the month of their first purchase;
-- customers created before data_start are "existing" (cohort_month ''), counted from their first purchase
-- day; a new customer is counted from their first purchase month. Two kinds of rows: active customers per
-- cell (currency null), and net revenue per cell and currency (active_customers null). Months are
-- 'YYYY-MM': the ISO text of a date (SQLite stores it so; PostgreSQL's DateStyle ISO casts it so).
with rated as (
    -- Rows before the window only: a customer whose first purchase comes later counts in none of these
    -- months, so the first purchase among them is the one that matters.
    select
        customer_id,
        business_day,
        amount,
        currency,
        min(case when amount > 0 then business_day end) over (partition by customer_id) as first_purchase_day
    from transactions
    where
        customer_id is not null
        and business_day < :window_start
        and business_day <= :last_day
        and currency in :currencies
        and (:all_regions = 1 or region = :region)
),

members as (
    select
        rated.customer_id,
        rated.business_day,
        rated.amount,
        rated.currency,
        rated.first_purchase_day,
        coalesce(
            customers.created_at < :data_start and (:all_regions = 1 or customers.region = :region), false
        ) as is_existing
    from rated
    left join customers on rated.customer_id = customers.customer_id
    where rated.first_purchase_day is not null
),

counted as (
    select
        is_existing,
        customer_id,
        amount,
        currency,
        case
            when is_existing then ''
            else substr(cast(first_purchase_day as varchar(10)), 1, 7)
        end as cohort_month,
        substr(cast(business_day as varchar(10)), 1, 7) as activity_month
    from members
    where
        (is_existing and business_day >= first_purchase_day)
        or (
            not is_existing
            and substr(cast(business_day as varchar(10)), 1, 7)
            >= substr(cast(first_purchase_day as varchar(10)), 1, 7)
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

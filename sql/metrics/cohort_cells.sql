-- The cohort matrix's cells of the months before window_month ('YYYY-MM'; analytics/history.py), added up by
-- the warehouse from the derived customer_months (loyalty/derived.py), so that no Python process reads those
-- transactions. Rows in the given currencies (and region, unless all_regions = 1). A customer's cohort is the
-- month of their first purchase; customers created before data_start are "existing" (cohort_month ''),
-- counted from their first purchase day; a new customer is counted from their first purchase month. Two
-- kinds of rows: active customers per cell (currency null), and net revenue per cell and currency
-- (active_customers null). Months are 'YYYY-MM'.
with selected as (
    select
        customer_id,
        business_month,
        currency,
        region,
        first_day,
        first_purchase_day,
        net_amount,
        amount_before_purchase
    from customer_months
    where
        business_month < :window_month
        and currency in :currencies
        and (:all_regions = 1 or region = :region)
),

firsts as (
    -- Months before the window only: a customer whose first purchase comes later counts in none of them.
    select
        customer_id,
        min(first_purchase_day) as first_purchase_day
    from selected
    group by customer_id
),

members as (
    select
        selected.customer_id,
        selected.business_month,
        selected.currency,
        selected.region,
        selected.first_day,
        selected.first_purchase_day,
        selected.net_amount,
        selected.amount_before_purchase,
        firsts.first_purchase_day as customer_first_purchase_day,
        substr(cast(firsts.first_purchase_day as varchar(10)), 1, 7) as first_purchase_month,
        coalesce(
            customers.created_at < :data_start and (:all_regions = 1 or customers.region = :region), false
        ) as is_existing
    from selected
    inner join firsts on selected.customer_id = firsts.customer_id
    left join customers on selected.customer_id = customers.customer_id
    where firsts.first_purchase_day is not null
),

counted as (
    -- A new customer counts whole months from the first purchase month; an existing one counts from the
    -- first purchase day, so in that month the rows dated before it (refunds) are left out. A month's row
    -- knows what came before its own first purchase; a currency row of that month without the customer's
    -- first purchase but with rows before it (rare: refunds in two currencies) is added up from its
    -- transactions, found through the customer index.
    select
        is_existing,
        customer_id,
        currency,
        business_month as activity_month,
        first_purchase_day is not null as has_purchase,
        case when is_existing then '' else first_purchase_month end as cohort_month,
        case
            when not is_existing or business_month > first_purchase_month then net_amount
            when first_purchase_day = customer_first_purchase_day then net_amount - amount_before_purchase
            when first_day >= customer_first_purchase_day then net_amount
            else (
                select coalesce(sum(transactions.amount), 0)
                from transactions
                where
                    transactions.customer_id = members.customer_id
                    and transactions.currency = members.currency
                    and (
                        transactions.region = members.region
                        or (transactions.region is null and members.region is null)
                    )
                    and transactions.business_day >= members.customer_first_purchase_day
                    and substr(cast(transactions.business_day as varchar(10)), 1, 7) = members.business_month
            )
        end as amount
    from members
    where business_month >= first_purchase_month
),

final as (
    select
        is_existing,
        cohort_month,
        activity_month,
        null as currency,
        count(distinct case when has_purchase then customer_id end) as active_customers,
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

-- Rebuild customer_months (loyalty/derived.py) for one whole month, from its days' transactions: a month with
-- many pending customers (a backfill chunk), and the migration that builds the table month by month. The
-- rows were deleted just before.
with dated as (
    select
        customer_id,
        currency,
        region,
        business_day,
        amount,
        min(case when amount > 0 then business_day end) over (partition by customer_id, currency, region)
            as first_purchase_day
    from transactions
    where
        customer_id is not null
        and business_day >= :first_day
        and business_day < :next_month_day
),

final as (
    select
        customer_id,
        cast(:business_month as varchar(7)) as business_month,
        currency,
        region,
        min(business_day) as first_day,
        min(first_purchase_day) as first_purchase_day,
        max(case when amount > 0 then business_day end) as last_purchase_day,
        sum(amount) as net_amount,
        coalesce(
            sum(case when first_purchase_day is null or business_day < first_purchase_day then amount end), 0
        ) as amount_before_purchase
    from dated
    group by customer_id, currency, region
)

insert into customer_months (
    customer_id, business_month, currency, region, first_day, first_purchase_day, last_purchase_day,
    net_amount, amount_before_purchase
)
select
    customer_id,
    business_month,
    currency,
    region,
    first_day,
    first_purchase_day,
    last_purchase_day,
    net_amount,
    amount_before_purchase
from final

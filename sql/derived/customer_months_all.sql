-- Build customer_months (loyalty/derived.py) from every transaction: the migration that adds the table, and
-- a rebuild after a repair. The load keeps it current afterwards (customer_months_of_customers.sql), so
-- nothing reads all transactions again.
with dated as (
    select
        customer_id,
        currency,
        region,
        business_day,
        amount,
        substr(cast(business_day as varchar(10)), 1, 7) as business_month,
        min(case when amount > 0 then business_day end) over (
            partition by customer_id, currency, region, substr(cast(business_day as varchar(10)), 1, 7)
        ) as first_purchase_day
    from transactions
    where customer_id is not null
),

final as (
    select
        customer_id,
        business_month,
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
    group by customer_id, business_month, currency, region
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

-- Every customer (email is personal data: it only feeds the masked RETAIN list). One row per customer.
with final as (
    select
        customer_id,
        created_at,
        region,
        segment,
        email
    from customers
)

select * from final
order by customer_id

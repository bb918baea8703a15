-- Every region named by a customer or a survey response (the choices of a regional edition).
with named as (
    select region from customers
    union
    select region from survey_responses
),

final as (
    select distinct region
    from named
    where region is not null
)

select * from final
order by region

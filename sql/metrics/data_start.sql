-- The first business day of any transaction up to last_day (with or without a customer) in the given
-- currencies (and region, unless all_regions = 1): the cohort matrix labels customers created before it
-- "existing". Written as the first row in business-day order, not as min() grouped by currency and region, so
-- that the warehouse walks ix_transactions_business_day from its start and stops at the first match instead
-- of reading every transaction (3.3 s of a week's metrics at a year's history on SQLite).
select business_day as first_day
from transactions
where
    business_day <= :last_day
    and currency in :currencies
    and (:all_regions = 1 or region = :region)
order by business_day
limit 1

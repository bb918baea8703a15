-- The high-water mark: the end of the newest window read for this entity before this delivery day.
with final as (
    select max(window_end) as watermark_at
    from run_ledger
    where
        entity = :entity
        and delivery_day < :delivery_day
        and status = 'succeeded'
)

select * from final

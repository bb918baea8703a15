-- The high-water mark: the end of the newest window read for this entity before this delivery day.
with final as (
    select max(window_end) as watermark_at
    from run_ledger
    where
        entity = :entity
        and load_date < :load_date
        and status = 'succeeded'
)

select * from final

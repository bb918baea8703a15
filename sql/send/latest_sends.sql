-- The latest send of one report edition to each recipient, with how many sends that recipient has had.
-- One row per recipient of the edition (region '' is the company-wide edition).
with edition as (
    select
        send_id,
        week,
        region,
        recipient,
        status,
        attempts,
        error,
        message_id,
        pdf_sha256,
        run_id,
        attempted_at
    from report_sends
    where week = :week and region = :region
),

per_recipient as (
    select
        recipient,
        max(send_id) as latest_send_id,
        count(*) as sends
    from edition
    group by recipient
),

final as (
    select
        edition.send_id,
        edition.week,
        edition.region,
        edition.recipient,
        edition.status,
        edition.attempts,
        edition.error,
        edition.message_id,
        edition.pdf_sha256,
        edition.run_id,
        edition.attempted_at,
        per_recipient.sends
    from edition
    inner join per_recipient on edition.send_id = per_recipient.latest_send_id
)

select * from final
order by recipient

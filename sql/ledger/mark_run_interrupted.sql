-- A run ended without finishing its deliveries: its running rows become interrupted (they loaded nothing
-- that stays, since a delivery day is written in one transaction).
update run_ledger
set
    status = 'interrupted',
    finished_at = :finished_at,
    error = :reason
where
    run_id = :run_id
    and status = 'running'

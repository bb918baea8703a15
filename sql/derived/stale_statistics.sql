-- PostgreSQL only: which of the named tables have planner statistics missing or stale by autovacuum's default
-- rule (more than 50 + 10% of the live rows changed since the last ANALYZE or autoanalyze). Tables are found
-- through the search path (to_regclass), as the metrics' queries find them. One row per such table.
with wanted as (
    select name from unnest(cast(:tables as text[])) as t (name)
),

final as (
    select wanted.name
    from wanted
    inner join pg_stat_user_tables as s on to_regclass(wanted.name) = s.relid
    where
        (s.last_analyze is null and s.last_autoanalyze is null)
        or s.n_mod_since_analyze > 50 + 0.1 * s.n_live_tup
)

select * from final
order by name

"""The concurrency limit that protects the source database: how many reads of it run at once, across runs.

Reads of a SQL source hold a slot of the Prefect global concurrency limit ``loyalty-source`` while they run,
so a parallel backfill and the nightly run together never open more than its slots' worth of connections to
the source. The limit lives on the Prefect server, so it holds for every process and every Dask worker.
:func:`ensure_source_limit` creates it when missing, with ``Settings.source_concurrency`` slots; an
operator's later change (``prefect gcl update loyalty-source --limit N``) is kept.

Reading a landing folder takes no slot: files put no load on a database, and every slot costs two API calls
(on a server whose own database is SQLite, often a "database is locked" retry of about 2 s as well).

Outside a Prefect run (a task's ``.fn()`` in a test, a script) there is nothing to coordinate with, and
:func:`source_slot` is a no-op, so the limit never makes a server necessary.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from loyalty.settings import Settings

SOURCE_LIMIT = "loyalty-source"

log = logging.getLogger(__name__)


def _in_prefect_run() -> bool:
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


@contextlib.contextmanager
def source_slot(settings: Settings) -> Iterator[None]:
    """Hold one slot of ``loyalty-source`` while reading a SQL source (else, outside a run or at 0: no-op)."""
    if settings.source_kind != "sql" or settings.source_concurrency <= 0 or not _in_prefect_run():
        yield
        return
    from prefect.concurrency.sync import concurrency

    # strict=False: a server where nobody created the limit still runs the read, unthrottled.
    with concurrency(SOURCE_LIMIT, occupy=1, strict=False):
        yield


def ensure_source_limit(settings: Settings) -> None:
    """Create the ``loyalty-source`` limit on the current Prefect API when it is missing; keep an existing one."""
    if settings.source_concurrency <= 0:
        return
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(SOURCE_LIMIT)
            return
        except ObjectNotFound:
            pass
        with contextlib.suppress(ObjectAlreadyExists):  # another run created it a moment ago
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=SOURCE_LIMIT, limit=settings.source_concurrency, active=True)
            )
            log.info("created the global concurrency limit %s with %d slots", SOURCE_LIMIT, settings.source_concurrency)

"""Which task runner a backfill's chunks run on: none (serial, in the flow's own process) or Dask.

With ``dask``, one cluster serves every chunk of a backfill: the scheduler at ``Settings.dask_address`` when
set (a remote ``dask.distributed`` cluster), else a ``LocalCluster`` of ``Settings.dask_workers`` processes
started here and closed when the backfill ends. Dask workers receive each task's ``Settings`` as an argument
and report to the flow's Prefect API, so they need the project installed, the landing folder at the same
path, and a warehouse they can reach (PostgreSQL, for a remote cluster).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Literal

from prefect.task_runners import TaskRunner

from loyalty.settings import Settings

TaskRunnerName = Literal["serial", "dask"]


@contextlib.contextmanager
def chunk_task_runner(
    settings: Settings, name: TaskRunnerName, logger: logging.Logger | logging.LoggerAdapter
) -> Iterator[TaskRunner | None]:
    """The task runner for the chunks of one backfill, or None for serial; a LocalCluster lives as long as this."""
    if name == "serial":
        yield None
        return
    if name != "dask":
        raise ValueError(f"task runner must be 'serial' or 'dask', got {name!r}")
    from prefect_dask import DaskTaskRunner

    if settings.dask_address:
        logger.info("backfill on the Dask scheduler at %s", settings.dask_address)
        yield DaskTaskRunner(address=settings.dask_address)
        return
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=settings.dask_workers, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        logger.info("backfill on a local Dask cluster of %d workers", settings.dask_workers)
        yield DaskTaskRunner(address=cluster.scheduler_address)

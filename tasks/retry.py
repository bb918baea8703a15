"""Which failures of the warehouse or a source are worth a task retry, and how long to wait between tries.

One rule per concern: this module decides for database and network reads and writes (tasks retried by
Prefect). Email has its own rule, per recipient, in :func:`tasks.send.is_transient`, because a task retry
would re-send to those who already got the report.
"""

from __future__ import annotations

from typing import Any, SupportsIndex, overload

import sqlalchemy as sa
from prefect.tasks import exponential_backoff

from loyalty.db import DatabaseUnavailable
from loyalty.settings import get_settings

TRANSIENT = (
    DatabaseUnavailable,
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    ConnectionError,
    TimeoutError,
)


def retry_on_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry condition: retry connection and timeout errors, fail fast on everything else."""
    try:
        state.result()
    except TRANSIENT:
        return True
    except Exception:
        return False
    return False


# Each retry delay is stretched by up to this fraction at random (Prefect's ``retry_jitter_factor``), so tasks
# that failed together (a warehouse restart) do not all retry at the same instant.
JITTER = 0.5


class ScaledDelays(list[float]):
    """Retry delays in seconds, scaled by ``Settings.retry_backoff_scale`` when Prefect reads one.

    Prefect takes a task's delays when the task is defined (at import), but reads an item only when a retry
    is due: scaling there means the settings are read at run time, never at import.
    """

    @overload
    def __getitem__(self, index: SupportsIndex) -> float: ...
    @overload
    def __getitem__(self, index: slice) -> list[float]: ...
    def __getitem__(self, index: SupportsIndex | slice) -> float | list[float]:
        scale = get_settings().retry_backoff_scale
        if isinstance(index, slice):
            return [value * scale for value in super().__getitem__(index)]
        return super().__getitem__(index) * scale


def backoff(factor: float) -> ScaledDelays:
    """Three retry delays ``factor x 2^n`` seconds, scaled at run time; pair with ``retry_jitter_factor=JITTER``."""
    return ScaledDelays(exponential_backoff(backoff_factor=factor)(3))

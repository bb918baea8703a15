"""Which failures of the warehouse or a source are worth a task retry, and how long to wait between tries.

One rule per concern: this module decides for database and network reads and writes (tasks retried by
Prefect). Email has its own rule, per recipient, in :func:`tasks.send.is_transient`, because a task retry
would re-send to those who already got the report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from prefect.tasks import Task

from loyalty.db import DatabaseUnavailable
from loyalty.settings import get_settings

P = ParamSpec("P")
R = TypeVar("R")

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


class ScaledRetryTask(Task[P, R]):
    """A Prefect task whose retry delay is one number of seconds, multiplied by ``Settings.retry_backoff_scale``
    each time Prefect reads it (so settings are read at run time, never at import).

    One number, not a list of growing delays: Prefect records the delay on each task run
    (``empirical_policy.retry_delay``) and its UI shows that field as one duration, "Retry Delay NaNs" for a list.
    The delays were 5, 10 and 20 s (2, 4 and 8 s); a fixed delay of about the same total, 12 s (5 s), spread by
    ``JITTER``, waits out the same outage. ``with_options`` gives a plain Prefect task with the delay as scaled
    at that moment.
    """

    def __init__(self, *args: Any, retry_delay_seconds: float, **kwargs: Any) -> None:
        # Prefect reads the delay back inside __init__ (at import): 0 then, which needs no settings.
        super().__init__(*args, retry_delay_seconds=0, **kwargs)  # type: ignore[misc]
        self.__dict__["_base_retry_delay"] = float(retry_delay_seconds)

    @property  # type: ignore[override]
    def retry_delay_seconds(self) -> float:
        base = float(self.__dict__.get("_base_retry_delay") or 0.0)
        return base * get_settings().retry_backoff_scale if base else 0.0

    @retry_delay_seconds.setter
    def retry_delay_seconds(self, value: float) -> None:
        if not isinstance(value, int | float):
            raise TypeError(f"a scaled retry delay is one number of seconds, got {type(value).__name__}")
        self.__dict__["_base_retry_delay"] = value


def retrying_task(*, delay: float, retries: int = 3, **options: Any) -> Callable[[Callable[P, R]], Task[P, R]]:
    """``@task`` for a step that touches the outside world: ``retries`` tries after a transient failure
    (:func:`retry_on_transient`), ``delay`` seconds apart (scaled at run time, stretched by up to ``JITTER``)."""

    def wrap(fn: Callable[P, R]) -> Task[P, R]:
        return ScaledRetryTask(
            fn=fn,
            retries=retries,
            retry_delay_seconds=delay,
            retry_jitter_factor=JITTER,
            retry_condition_fn=retry_on_transient,
            **options,
        )

    return wrap

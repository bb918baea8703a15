"""Which failures are worth a retry: the outside world being briefly away, not bad input."""

from __future__ import annotations

import smtplib
from typing import Any

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
    smtplib.SMTPException,
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


def backoff(factor: float) -> list[float]:
    """Retry delays ``factor x 2^n`` seconds, scaled by LOYALTY_RETRY_BACKOFF_SCALE; pair with ``JITTER``.

    Prefect evaluates the delays when a task is defined, so the scale is read at import time.
    """
    scaled = factor * get_settings().retry_backoff_scale
    return exponential_backoff(backoff_factor=scaled)(3)

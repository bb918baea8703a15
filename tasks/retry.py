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


def backoff(factor: float) -> list[float]:
    """Retry delays ``factor x 2^n`` seconds (with Prefect's jitter), scaled by LOYALTY_RETRY_BACKOFF_SCALE.

    Prefect evaluates the delays when a task is defined, so the scale is read at import time.
    """
    scaled = factor * get_settings().retry_backoff_scale
    return exponential_backoff(backoff_factor=scaled)(3)

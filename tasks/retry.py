"""Which failures are worth a retry: the outside world being briefly away, not bad input."""

from __future__ import annotations

import smtplib
from typing import Any

import sqlalchemy as sa

from loyalty.db import DatabaseUnavailable

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

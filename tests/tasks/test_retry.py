"""tasks/retry.py: which failures a task retries, and delays scaled by the settings at run time."""

from __future__ import annotations

import smtplib

import pytest
import sqlalchemy as sa
from prefect import task

from loyalty.db import DatabaseUnavailable
from loyalty.settings import reset_settings
from tasks.retry import ScaledDelays, backoff, retry_on_transient


class _State:
    def __init__(self, error: BaseException | None) -> None:
        self.error = error

    def result(self) -> None:
        if self.error is not None:
            raise self.error


@pytest.fixture
def scale(monkeypatch: pytest.MonkeyPatch):
    def set_scale(value: float) -> None:
        monkeypatch.setenv("LOYALTY_RETRY_BACKOFF_SCALE", str(value))
        reset_settings()

    yield set_scale
    reset_settings()


def test_delays_follow_the_scale_when_read_not_when_the_task_was_defined(scale) -> None:
    delays = backoff(5)  # 5 x 2^n for n = 0, 1, 2: 5, 10, 20 seconds before scaling

    @task(retries=3, retry_delay_seconds=delays)
    def flaky() -> None: ...

    assert isinstance(flaky.retry_delay_seconds, ScaledDelays)
    scale(2.0)
    assert [flaky.retry_delay_seconds[i] for i in range(3)] == [10.0, 20.0, 40.0]
    scale(0.5)
    assert [flaky.retry_delay_seconds[i] for i in range(3)] == [2.5, 5.0, 10.0]
    assert flaky.retry_delay_seconds[1:] == [5.0, 10.0]


def test_a_task_imported_before_the_setting_changed_still_follows_it(scale) -> None:
    from tasks.metrics import recompute_metrics  # defined with backoff(5) at import

    scale(3.0)
    assert recompute_metrics.retry_delay_seconds[0] == 15.0


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (DatabaseUnavailable("warehouse down"), True),
        (sa.exc.OperationalError("select 1", {}, Exception("server closed the connection")), True),
        (ConnectionResetError("reset by peer"), True),
        (TimeoutError("read timed out"), True),
        (ValueError("bad input"), False),
        # Email is decided per recipient by tasks.send.is_transient: a task retry would re-send to everyone.
        (smtplib.SMTPServerDisconnected("gone"), False),
        (None, False),
    ],
)
def test_only_the_outside_world_being_away_is_retried(error: BaseException | None, retried: bool) -> None:
    assert retry_on_transient(None, None, _State(error)) is retried

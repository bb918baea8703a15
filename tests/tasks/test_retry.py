"""tasks/retry.py: which failures a task retries, and delays scaled by the settings at run time."""

from __future__ import annotations

import smtplib

import pytest
import sqlalchemy as sa

from loyalty.db import DatabaseUnavailable
from loyalty.settings import reset_settings
from tasks.retry import ScaledRetryTask, retry_on_transient, retrying_task


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


def test_the_delay_follows_the_scale_when_read_not_when_the_task_was_defined(scale) -> None:
    @retrying_task(name="flaky", delay=5)
    def flaky() -> None: ...

    assert isinstance(flaky, ScaledRetryTask)
    assert (flaky.retries, flaky.retry_jitter_factor, flaky.retry_condition_fn) == (3, 0.5, retry_on_transient)
    scale(2.0)
    assert flaky.retry_delay_seconds == 10.0
    scale(0.5)
    assert flaky.retry_delay_seconds == 2.5


def test_a_task_imported_before_the_setting_changed_still_follows_it(scale) -> None:
    from tasks.metrics import recompute_metrics  # defined with a 12 s delay at import

    scale(3.0)
    assert recompute_metrics.retry_delay_seconds == 36.0


def test_the_task_run_records_one_number_the_ui_can_show(scale) -> None:
    """The UI's task page shows empirical_policy.retry_delay as one duration: a list read "NaNs"."""
    from prefect.client.schemas.objects import TaskRunPolicy

    from tasks.load import load_days, prepare_warehouse

    scale(1.0)
    for task_, seconds in ((load_days, 12.0), (prepare_warehouse, 5.0)):
        # what the engine records when it creates a task run (prefect/task_engine.py)
        policy = TaskRunPolicy(retries=task_.retries, retry_delay=task_.retry_delay_seconds)
        assert policy.retry_delay == seconds and isinstance(policy.retry_delay, float)
        assert policy.model_dump(mode="json")["retry_delay"] == seconds


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

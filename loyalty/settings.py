"""The one settings object, and the one place that decides the environment.

Every value comes from an environment variable prefixed ``LOYALTY_`` or from a ``.env`` file at the project
root; ``.env.example`` lists them all. Everything else in the project reads :func:`get_settings`, never
``os.environ``. Every path is resolved against :data:`PROJECT_ROOT`.
"""

from __future__ import annotations

import contextlib
import os
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = PROJECT_ROOT / "state"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOYALTY_",
        env_file=PROJECT_ROOT / ".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    environment: Literal["dev", "test", "prod"] = "dev"

    # Warehouse: SQLite in the git-ignored state folder by default, PostgreSQL in production.
    warehouse_url: str = Field(default=f"sqlite:///{STATE_DIR / 'warehouse.db'}")

    # Source: either a landing folder of file drops, or a SQLAlchemy URL of a source database.
    source_kind: Literal["files", "sql"] = "files"
    landing_dir: Path = STATE_DIR / "landing"
    source_url: str | None = None

    # Hostile-source guards. A row whose timestamp is before earliest_timestamp, or more than max_future_hours
    # after the end of the delivery day being loaded, is quarantined as timestamp_out_of_range:<column>: one
    # far-dated row would otherwise reopen thousands of weeks of metrics (or overflow the calendar).
    earliest_timestamp: date = date(2000, 1, 1)
    max_future_hours: float = Field(default=24.0, ge=0)
    # A landing file larger than this is rejected (file_too_large) before it is read: peak memory never
    # scales with one file's size. 0 disables the guard.
    max_file_bytes: int = Field(default=256 * 1024 * 1024, ge=0)

    # Column mapping of vendor headers onto contract names.
    column_mapping_path: Path = PROJECT_ROOT / "config" / "column_mapping.yaml"

    # Time: rows belong to the business day of their timestamp in business_tz; naive source timestamps are
    # read in source_tz.
    business_tz: str = "Europe/London"
    source_tz: str = "Europe/London"

    # Where Prefect keeps its local database and results when no PREFECT_API_URL is set.
    prefect_home: Path = STATE_DIR / "prefect"

    # Retention: a customer is churned after this many days without a purchase.
    churn_days: int = 90
    # The RETAIN list's RFM scores, value at risk and purchase rhythm look back this many days; the metrics
    # read transactions from about this long before the first week they compute (analytics/history.py).
    value_window_days: int = Field(default=365, ge=28)
    # Metrics add money up in one currency. The rates are the value of one unit in the reporting currency;
    # a fixed table stands in for a rates feed. Transactions in a currency without a rate are left out of
    # money metrics and counted in the log.
    reporting_currency: str = "GBP"
    fx_rates: dict[str, float] = Field(default_factory=lambda: {"EUR": 0.86, "USD": 0.79})
    # A load recomputes the metrics of the weeks its rows fall in and of every later week up to its delivery
    # day, at most this many weeks (the most recent ones; tasks/metrics.py:weeks_to_recompute).
    recompute_max_weeks: int = Field(default=156, ge=1)
    # Weeks are recomputed in batches of at most this many, each computed and stored before the next is read:
    # one batch holds its window of transactions and its weeks' frames, so memory does not grow with the number
    # of weeks a backfill reopens (104 weeks in one batch were killed at 23 GiB); a week's rows do not depend
    # on its batch (tests/tasks/test_week_is_a_function_of_its_inputs.py).
    metric_batch_weeks: int = Field(default=13, ge=1)
    # Trending terms are tested against this many trailing weeks.
    baseline_weeks: int = 8
    # Multiplies every retry delay (tasks that touch the source, the warehouse or SMTP retry 3 times with
    # exponential backoff). Tests set it small; read when tasks are defined.
    retry_backoff_scale: float = 1.0
    # How many customers the RETAIN list keeps per week.
    retain_top_n: int = 50
    # RETAIN cases (analytics/cases.py): a case still open this many weeks after it opened expires; a first
    # contact within this many business days (Monday-Friday, business time zone) is on time; this share of
    # each week's new cases is held out as a control group ("do not contact"); 0 turns the control group off
    # and the outreach effect is then reported as observational only.
    retain_case_expiry_weeks: int = Field(default=8, ge=1)
    retain_sla_business_days: int = Field(default=2, ge=1)
    retain_control_share: float = Field(default=0.1, ge=0.0, lt=1.0)

    # Operations (cli/server.py). `loyalty serve` starts a Prefect server on this host and port, its database
    # SQLite under prefect_home unless prefect_server_database_url names PostgreSQL
    # (postgresql+asyncpg://...; use it for parallel backfills: SQLite locks under many concurrent runs).
    prefect_server_host: str = "127.0.0.1"
    prefect_server_port: int = 4200
    prefect_server_database_url: str | None = None
    # Reads of a SQL source hold a slot of the Prefect global concurrency limit "loyalty-source", created with
    # this many slots when missing (an operator's later change is kept). 0: no limit. Landing files take none.
    source_concurrency: int = 2
    # Backfills: days per chunk (one subflow each, three task runs per entity: extract, validate and load of all
    # its days; one validation call per entity and chunk, so a chunk's cost is mostly fixed: bigger is cheaper,
    # up to memory: a chunk's rows of one entity are held at once); "serial" or "dask" (a chunk's entities are
    # extracted and validated side by side on Dask; loads stay in day order).
    backfill_chunk_days: int = 28
    backfill_task_runner: Literal["serial", "dask"] = "serial"
    # A running dask.distributed scheduler (tcp://host:8786); unset: a LocalCluster of dask_workers processes.
    dask_address: str | None = None
    dask_workers: int = 2
    # Failed or crashed flow runs are posted here by the automations of ops/automations.yaml.
    alert_webhook_url: str | None = None

    # Weekly report (reports/, flows/weekly_report.py): written to reports_dir/<YYYY-Www>/weekly-report.{pdf,html}
    # (regional editions to reports_dir/<YYYY-Www>/<region>/). The company name heads every page.
    report_company: str = "Loyalty Analytics"
    reports_dir: Path = STATE_DIR / "reports"
    # The URL at which reports_dir is served, for the report link in the Prefect UI (browsers refuse file://
    # links from a web page). `loyalty serve` serves reports_dir read-only at http://<host>:<reports_port>
    # and sets this for its runs when it is unset. Unset and not served: the link is a file:// path.
    reports_url: str | None = None
    reports_port: int = 4281
    # Comments are cut to this many characters in the report (full text stays in the warehouse).
    report_comment_chars: int = 280
    # Who gets the PDF by email: comma-separated addresses (LOYALTY_REPORT_RECIPIENTS=a@x.com,b@x.com).
    report_recipients: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # SMTP for the report and alert emails. The password is a secret: never logged or printed.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = "loyalty-reports@localhost"
    smtp_timeout_seconds: float = 30.0
    # SMTP credentials over an unencrypted connection (smtp_security=none) go out in clear text: refused unless
    # the host is a loopback address or this is set on purpose.
    smtp_allow_plaintext_auth: bool = False
    # Permission bits of the report files (octal, e.g. 644, 640): readable by the people meant to read them.
    report_file_mode: str = "644"

    @field_validator("report_recipients", mode="before")
    @classmethod
    def _split_recipients(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("report_file_mode")
    @classmethod
    def _octal_mode(cls, value: str) -> str:
        text = str(value).removeprefix("0o")
        if re.fullmatch(r"[0-7]{3,4}", text) is None or int(text, 8) & 0o7000:
            raise ValueError(f"report_file_mode must be octal permission bits like 644, got {value!r}")
        return text

    @property
    def report_file_mode_bits(self) -> int:
        return int(self.report_file_mode, 8)

    @field_validator("business_tz", "source_tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("landing_dir", "column_mapping_path", "prefect_home", "reports_dir")
    @classmethod
    def _anchor_path(cls, value: Path) -> Path:
        return value if value.is_absolute() else PROJECT_ROOT / value

    def smtp_plaintext_auth_refusal(self) -> str | None:
        """Why the SMTP login must not be sent, or None: credentials over ``smtp_security=none`` to a host that is
        not loopback travel in clear text, so they are refused unless ``smtp_allow_plaintext_auth`` is set."""
        if self.smtp_security != "none" or not self.smtp_user or self.smtp_allow_plaintext_auth:
            return None
        if _is_loopback(self.smtp_host or ""):
            return None
        return (
            "refused to send SMTP credentials in clear text: LOYALTY_SMTP_SECURITY=none to a host that is not "
            "loopback; use starttls or ssl, or set LOYALTY_SMTP_ALLOW_PLAINTEXT_AUTH=true"
        )

    @property
    def business_zone(self) -> ZoneInfo:
        return ZoneInfo(self.business_tz)

    @property
    def source_zone(self) -> ZoneInfo:
        return ZoneInfo(self.source_tz)


def _is_loopback(host: str) -> bool:
    import ipaddress

    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and the CLI change them)."""
    get_settings.cache_clear()


def configure_runtime(settings: Settings | None = None, *, quiet: bool = False) -> None:
    """Point third-party libraries at project-local state before they are imported.

    This is the only place the project writes environment variables: Prefect and Great Expectations read
    their configuration from the process environment at import time.
    """
    settings = settings or get_settings()
    os.environ.setdefault("PREFECT_HOME", str(settings.prefect_home))
    # Prefect creates its home one level deep only: on a fresh clone (no state/ yet) every command warned
    # "Failed to create the Prefect home directory".
    with contextlib.suppress(OSError):
        Path(os.environ["PREFECT_HOME"]).expanduser().mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    # No telemetry: these machines reach no network beyond package registries, and the attempt is logged.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")  # Prefect's client-side usage data, and its notice on `loyalty serve`
    # Prefect's local result store is not isolated by its test harness; keep it under PREFECT_HOME.
    os.environ.setdefault("PREFECT_RESULTS_LOCAL_STORAGE_PATH", str(settings.prefect_home / "results"))
    # The temporary local server gets 20 s to start by default; on a busy 2-core machine it took longer and
    # `loyalty demo` stopped with "Timed out while attempting to connect to ephemeral Prefect API server".
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    if quiet:
        # The CLI draws its own progress and summary, so the terminal shows warnings only. The level of the
        # console handler, not PREFECT_LOGGING_LEVEL: that level also stops INFO lines reaching the Prefect
        # API, and the run's page in the UI would say "This run didn't generate logs".
        os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "WARNING"

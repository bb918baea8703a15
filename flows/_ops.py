"""What the flows show a data engineer in the Prefect UI besides their logs: the run's progress artifact, its
failures table and its validation table.

The progress artifact is created at the very start of the run, with a key of its own per range, so the UI's
artifact page follows this run (the server updates a key's page only while this artifact is the key's
latest, so a shared key would freeze the page at the first run's last value once another run created one).
A retried run finds the artifact it created before and updates it instead of adding a second.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote
from uuid import UUID

from prefect import runtime
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact

from loyalty import progress
from loyalty.failures import Failure, failure_rows
from loyalty.settings import Settings


def artifact_key(*parts: object) -> str:
    """A Prefect artifact key from ``parts``: lowercase letters, digits and dashes only."""
    text = "-".join(str(p) for p in parts).lower()
    return "-".join(filter(None, "".join(c if c.isalnum() and c.isascii() else "-" for c in text).split("-")))


def _existing_artifact(key: str) -> UUID | None:
    flow_run_id = runtime.flow_run.id
    if not flow_run_id:
        return None
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(str(flow_run_id))]),
                key=ArtifactFilterKey(any_=[key]),
            ),
            limit=1,
        )
    return found[0].id if found else None


def percent(done: int, total: int) -> float:
    return round(100.0 * done / max(total, 1), 1)


def progress_text(what: str, done: int, total: int) -> str:
    """The progress artifact's description, with the figure in it: the run's Artifacts tab shows each artifact
    as a card of type, key and description only (Prefect 3.8.8's UI draws the bar on the artifact's own page
    and on the run graph), so without this the card never says how far the run is. The figure comes first: the
    card cuts the description to one line."""
    return f"{percent(done, total):g}% done: {done:,} of {total:,} {what}"


def move_progress(artifact_id: UUID, what: str, done: int, total: int) -> None:
    update_progress_artifact(artifact_id, progress=percent(done, total), description=progress_text(what, done, total))


class RunProgress:
    """The run's progress artifact (``key``) and the CLI's in-process bar, moved together. ``what`` names the
    units counted (``delivery days of backfill 2026-11-01 .. 2026-11-28``)."""

    def __init__(self, key: str, what: str, total: int) -> None:
        self.key, self.what, self.total = key, what, max(total, 1)
        existing = _existing_artifact(key)
        if existing is not None:  # a retry of this run: one artifact, back to where the run now starts
            move_progress(existing, what, 0, self.total)
            self.artifact_id = existing
        else:
            self.artifact_id = create_progress_artifact(
                progress=0.0, key=key, description=progress_text(what, 0, self.total)
            )

    def report(self, done: int, label: str) -> None:
        move_progress(self.artifact_id, self.what, done, self.total)
        progress.report(done, self.total, label)


def publish_failures(key: str, what: str, failures: list[Failure]) -> None:
    """Every failure of the run as a table artifact (the state message names each distinct error once)."""
    create_table_artifact(key=key, table=failure_rows(failures), description=f"{what}: every failure")


def publish_validation(key: str, what: str, rows: list[dict]) -> None:
    """The run's validation results as a table artifact: per delivery day and entity, the rules rows failed and
    how many (``loyalty.quality.validation_rows``: counts and reason codes, never a value from a row). The
    rows themselves are in the warehouse's ``quarantine`` table: ``loyalty quarantine --day D``."""
    failing = sum(1 for r in rows if r.get("rows failing"))
    create_table_artifact(
        key=key,
        table=rows,
        description=(
            f"{what}: validation results per delivery day and entity ({failing} failed rules). Rows in = loaded +"
            " quarantined; a row may fail several rules. The rows: `loyalty quarantine --day D`."
        ),
    )


class JobVariablesIgnored(RuntimeError):
    """A served run was given job variables it cannot apply."""


def refuse_ignored_job_variables() -> None:
    """Fail a run of a served deployment (``loyalty serve``) that was given job variables, before it does anything.

    A served run is started by the serving process with that process's environment; its job variables (an
    ``env`` from the UI's run form, say) are accepted by the server but never applied. Running anyway would
    quietly use other settings than the ones asked for (the default landing folder instead of the ``env`` one).
    A worker of a work pool applies them. Only the variables' names are shown: their values may be secrets.
    """
    from prefect.context import FlowRunContext

    from loyalty.textsafe import display_line

    context = FlowRunContext.get()
    run = context.flow_run if context else None
    if run is None or run.deployment_id is None or run.work_pool_name or not run.job_variables:
        return
    names = ", ".join(display_line(name)[:40] for name in sorted(run.job_variables))
    raise JobVariablesIgnored(
        f"this run has job variables ({names}) but its deployment is served by `loyalty serve`, which ignores"
        " job variables, so nothing was run: start it without them, or use `make deploy` + `make worker` (the"
        " loyalty-process work pool), whose runs apply them"
    )


def report_link(settings: Settings, path: Path) -> str:
    """A link the UI can open: under ``reports_url`` when it is set (and the file is under reports_dir); else
    under the reports server of a running ``loyalty serve`` (http://<prefect_server_host>:<reports_port>) when
    it serves this very file, so a report rendered from the CLI links as well as a served run's; else a
    ``file://`` path (which a browser will not open from the UI)."""
    path = path.resolve()
    try:
        relative = quote(path.relative_to(settings.reports_dir.resolve()).as_posix())
    except ValueError:
        return path.as_uri()
    if settings.reports_url:
        return settings.reports_url.rstrip("/") + "/" + relative
    served = f"http://{settings.prefect_server_host}:{settings.reports_port}/{relative}"
    if _serves_this_file(served, path):
        return served
    return path.as_uri()


def _serves_this_file(url: str, path: Path) -> bool:
    """Whether ``url`` answers with this file (status 200 and the same size): another reports folder, or
    nothing listening (refused at once on localhost), gives False."""
    import httpx

    try:
        answer = httpx.head(url, timeout=2.0)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200 and answer.headers.get("content-length") == str(path.stat().st_size)

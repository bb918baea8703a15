"""Failure alerts as code: applying ``ops/automations.yaml`` to a Prefect server.

The file names notification blocks and automations; this module creates the blocks from settings (the URL
is ``Settings.alert_webhook_url``, never written in the file) and replaces each automation by name, so
applying twice leaves one copy. The server's trigger and action services do the rest: a flow run that ends
Failed or Crashed is posted to the webhook within seconds.

Links: the server's ``ui_url`` template filter builds a run's link from the *server's* ``PREFECT_UI_URL``, and
a server started without it (``prefect server start`` by hand, not ``loyalty serve``) gives nothing. So
``${ui_url}`` in an action's text is replaced, when applied, by the UI address this command knows: its own
``PREFECT_UI_URL``, which Prefect derives from ``PREFECT_API_URL`` (the API's address without ``/api``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cli.server import OpsError
from loyalty.settings import PROJECT_ROOT, Settings

AUTOMATIONS_YAML = PROJECT_ROOT / "ops" / "automations.yaml"


def _save_block(spec: dict[str, Any], settings: Settings) -> Any:
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    if spec.get("type") != "custom-webhook":
        raise OpsError(f"block {spec.get('name')}: only type custom-webhook is supported, got {spec.get('type')!r}")
    if not settings.alert_webhook_url:
        raise OpsError("LOYALTY_ALERT_WEBHOOK_URL is not set: alerts need somewhere to go")
    block = CustomWebhookNotificationBlock(
        name=spec["name"],
        url=settings.alert_webhook_url,
        method=spec.get("method", "POST"),
        json_data=spec.get("json_data"),
    )
    return block.save(spec["name"], overwrite=True)


UI_URL_MARK = "${ui_url}"


def ui_base_url() -> str | None:
    """The Prefect UI's address as this process sees it: PREFECT_UI_URL, else PREFECT_API_URL without /api."""
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

    url = PREFECT_UI_URL.value() or (PREFECT_API_URL.value() or "").removesuffix("/").removesuffix("/api")
    return str(url).rstrip("/") or None


def fill_ui_url(action: dict[str, Any], ui_url: str | None) -> dict[str, Any]:
    """``action`` with ``${ui_url}`` in its texts replaced by ``ui_url`` (a quoted Jinja string in the template)."""
    if ui_url is None:
        raise OpsError("no Prefect UI address: set PREFECT_API_URL (or PREFECT_UI_URL) to apply the alerts")
    return {k: v.replace(UI_URL_MARK, ui_url) if isinstance(v, str) else v for k, v in action.items()}


def apply_automations(settings: Settings, path: Path = AUTOMATIONS_YAML) -> list[str]:
    """Create the file's blocks and replace its automations on the current Prefect API; their names."""
    from prefect.automations import Automation
    from prefect.client.orchestration import get_client

    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    ui_url = ui_base_url()
    block_ids = {spec["name"]: _save_block(spec, settings) for spec in config.get("blocks") or []}
    applied = []
    for spec in config.get("automations") or []:
        actions = []
        for action in spec.get("actions") or []:
            action = fill_ui_url(dict(action), ui_url)
            if "block" in action:
                name = action.pop("block")
                if name not in block_ids:
                    raise OpsError(f"automation {spec['name']}: block {name!r} is not defined under blocks:")
                action["block_document_id"] = str(block_ids[name])
            actions.append(action)
        automation = Automation.model_validate({**spec, "actions": actions})
        with get_client(sync_client=True) as client:
            for existing in client.read_automations_by_name(automation.name):
                client.delete_automation(existing.id)
        automation.create()
        applied.append(automation.name)
    return applied

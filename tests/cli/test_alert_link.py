"""The failure alert links to the run even from a server started without PREFECT_UI_URL: the UI address is
written into the template when the automations are applied (from PREFECT_API_URL), and the server's own
``ui_url`` filter still wins where it knows one. Rendered with the server's own template environment."""

from __future__ import annotations

from uuid import uuid4

import pytest
import yaml

from cli.automations import AUTOMATIONS_YAML, UI_URL_MARK, fill_ui_url, ui_base_url
from cli.server import OpsError


def _body(ui_url: str | None, server_ui_url: str | None) -> tuple[str, str]:
    from prefect.server.events.jinja_filters import all_filters
    from prefect.server.schemas.core import FlowRun
    from prefect.server.utilities.user_templates import register_user_template_filters, render_user_template_sync
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

    spec = yaml.safe_load(AUTOMATIONS_YAML.read_text(encoding="utf-8"))["automations"][0]
    action = fill_ui_url(dict(spec["actions"][0]), ui_url)
    register_user_template_filters(all_filters)
    run = FlowRun(id=uuid4(), flow_id=uuid4(), name="backfill-2026-11-20-to-2026-11-19")
    # the server's settings: PREFECT_UI_URL as given, and no PREFECT_API_URL to derive one from
    # restore_defaults: an earlier test in this process may have pointed PREFECT_API_URL at its own server
    with temporary_settings(updates={PREFECT_UI_URL: server_ui_url}, restore_defaults={PREFECT_API_URL}):
        return render_user_template_sync(action["body"], {"flow_run": run, "flow": None}), str(run.id)


def test_a_server_without_ui_url_still_sends_a_link():
    body, run_id = _body("http://10.0.0.5:4200", server_ui_url=None)
    assert body.splitlines()[-1] == f"http://10.0.0.5:4200/runs/flow-run/{run_id}"


def test_the_servers_own_link_wins_when_it_has_one():
    body, run_id = _body("http://10.0.0.5:4200", server_ui_url="https://prefect.example.com")
    assert body.splitlines()[-1] == f"https://prefect.example.com/runs/flow-run/{run_id}"


def test_the_ui_address_comes_from_the_api_url():
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: "http://10.0.0.5:4200/api"}, set_defaults={PREFECT_UI_URL: None}):
        assert ui_base_url() == "http://10.0.0.5:4200"
    assert UI_URL_MARK in AUTOMATIONS_YAML.read_text(encoding="utf-8")
    with pytest.raises(OpsError, match="no Prefect UI address"):
        fill_ui_url({"body": UI_URL_MARK}, None)

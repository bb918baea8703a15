"""Every prefect.yaml entrypoint imports and names a Prefect flow."""

from __future__ import annotations

import importlib.util

import pytest
import yaml
from prefect import Flow

from loyalty.settings import PROJECT_ROOT

DEPLOYMENTS = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())["deployments"]


def test_prefect_yaml_has_the_three_deployments():
    assert [d["name"] for d in DEPLOYMENTS] == ["nightly-etl", "weekly-report", "backfill"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_every_deployment_entrypoint_is_a_flow(deployment):
    entrypoint = deployment["entrypoint"]
    path, name = entrypoint.split(":")
    spec = importlib.util.spec_from_file_location(f"entrypoint_{name}", PROJECT_ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert isinstance(getattr(module, name), Flow), entrypoint


def test_every_flow_parameter_has_a_description_for_the_run_form():
    # The UI's run form shows these; the weekly report's form had none and a free-text week.
    from prefect.utilities.callables import parameter_schema

    from flows.backfill import backfill
    from flows.nightly_etl import nightly_etl
    from flows.weekly_report import weekly_report

    for flow in (nightly_etl, backfill, weekly_report):
        props = parameter_schema(flow.fn).model_dump()["properties"]
        assert all(props[name].get("description") for name in props), (flow.name, props)
        assert all(p["description"][0].isupper() for p in props.values()), flow.name
    week = parameter_schema(weekly_report.fn).model_dump()["properties"]["week"]["anyOf"][0]["pattern"]
    import re

    assert [bool(re.match(week, w)) for w in ("2026-W47", "2026-W53", "2026-W54", "2026-47", "2026-W7")] == [
        True,
        True,
        False,
        False,
        False,
    ]

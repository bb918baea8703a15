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

"""Every prefect.yaml entrypoint imports and names a Prefect flow."""

from __future__ import annotations

import importlib.util

import yaml
from prefect import Flow

from loyalty.settings import PROJECT_ROOT


def test_every_deployment_entrypoint_is_a_flow():
    config = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
    entrypoints = [d["entrypoint"] for d in config["deployments"]]
    assert entrypoints
    for entrypoint in entrypoints:
        path, name = entrypoint.split(":")
        spec = importlib.util.spec_from_file_location(f"entrypoint_{name}", PROJECT_ROOT / path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert isinstance(getattr(module, name), Flow), entrypoint

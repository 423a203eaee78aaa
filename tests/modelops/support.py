"""Shared set-up for the model registry's tests: a cell's edge device with its secret, the device's model client,
and versions registered from the shipped model (no training needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_worker.credentials import Credentials
from edge_worker.model_update import ModelClient
from edge_worker.vision.backends import DEFAULT_MODEL_DIR, MODEL_JSON
from inspection.actions.edge_auth import ensure_edge_secret
from inspection.models import EdgeDevice
from modelops import actions
from modelops.models import ModelVersion
from tests.support import factories

SHIPPED_ONNX = DEFAULT_MODEL_DIR / "defect_classifier.onnx"


def device_of(cell: Any, actor: Any, device_id: str | None = None) -> tuple[EdgeDevice, Credentials]:
    device, _ = EdgeDevice.objects.get_or_create(device_id=device_id or f"jetson-{cell.code}")
    device.cell = cell
    device.save()
    return device, Credentials(device.device_id, ensure_edge_secret(device, actor=actor))


# The profiling protocol a device runs on each delivered version, cut to a few images (no power sensor here).
QUICK_PROFILE = {"images": 4, "warmup": 0, "rounds": 1, "power_sampler": "none"}


def client(url: str, credentials: Credentials, models_dir: Path, **options: Any) -> ModelClient:
    return ModelClient(url, credentials, models_dir, timeout_s=10, **{"profile": QUICK_PROFILE, **options})


def shipped_version(actor: Any) -> ModelVersion:
    card = json.loads((DEFAULT_MODEL_DIR / MODEL_JSON).read_text())
    return actions.register_version(
        onnx=SHIPPED_ONNX.read_bytes(),
        card=card,
        provenance={"shipped": True},
        golden_set="",
        golden_metrics={},
        actor=actor,
        code="test",
    )


def other_version(actor: Any, tag: str) -> ModelVersion:
    """A second registered version: the shipped graph with a different producer string (valid ONNX, new sha)."""
    import onnx

    graph = onnx.load_from_string(SHIPPED_ONNX.read_bytes())
    graph.producer_version = f"test-{tag}"
    data = graph.SerializeToString()
    card = json.loads((DEFAULT_MODEL_DIR / MODEL_JSON).read_text())
    import hashlib

    card["files"]["onnx"]["sha256"] = hashlib.sha256(data).hexdigest()
    card["files"]["onnx"]["bytes"] = len(data)
    card["model_version"] = f"defect-test-{tag}"
    return actions.register_version(
        onnx=data, card=card, provenance={"test": tag}, golden_set="", golden_metrics={}, actor=actor, code="test"
    )


PASSWORD = factories.PASSWORD

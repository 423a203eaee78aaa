"""On the device: a delivered champion replaces the shipped model, and a delivered candidate runs in shadow on
every capture without touching the champion's verdict."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from edge_worker.contracts import Capture, encode_image, utc_now
from edge_worker.model_update import CARD_NAME, ONNX_NAME
from edge_worker.power import NoneSampler, PowerMonitor
from edge_worker.runtime import EdgeRuntime, result_id_for
from edge_worker.vision.backends import DEFAULT_MODEL_DIR, MODEL_JSON
from edge_worker.vision.parts import DEMO_PART_TYPES
from edge_worker.vision.render import encode_png, render_part

DEVICE = "jetson-shadow-01"


def install(models_dir: Path, alias: str, version: str) -> str:
    target = models_dir / alias
    target.mkdir(parents=True)
    shutil.copyfile(DEFAULT_MODEL_DIR / "defect_classifier.onnx", target / ONNX_NAME)
    card = json.loads((DEFAULT_MODEL_DIR / MODEL_JSON).read_text())
    card["model_version"] = version
    (target / CARD_NAME).write_text(json.dumps(card))
    return card["files"]["onnx"]["sha256"]


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: Any) -> Any:
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("TWINWEB_EDGE_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("TWINWEB_SERVER_URL", raising=False)
    install(tmp_path / "models", "champion", "delivered-champion")
    install(tmp_path / "models", "candidate", "delivered-candidate")
    rt = EdgeRuntime(device_id=DEVICE, backend="onnxruntime", monitor=PowerMonitor(NoneSampler()))
    yield rt
    rt.close()


def test_it_runs_the_candidate_beside_the_champion_and_only_the_champion_counts(runtime: Any) -> None:
    png = encode_png(render_part("CF-80", seed=3, defect="scratch").image)
    capture = Capture(
        uuid.uuid4(), "SN-1", "visual", "c", DEMO_PART_TYPES["CF-80"].to_dict(), encode_image(png), utc_now(), DEVICE
    )

    result = runtime.inspect(capture)

    assert (result.model.version, result.model.alias) == ("delivered-champion", "champion")  # not the shipped one
    [comparison] = list(runtime.shadow_pending)
    assert comparison["result_id"] == str(result_id_for(capture.capture_id, DEVICE))
    assert comparison["champion_class"] == result.defect_class == "scratch"  # the same model, the same input
    assert runtime.shadow_classifier.model.version == "delivered-candidate"
    assert "TWINWEB_SERVER_URL not set" in runtime.sync_models()  # nothing to send to: kept for later
    assert len(runtime.shadow_pending) == 1

"""A tiny training run: one epoch on a few images writes a loadable model and its card."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch not installed (requirements-train.txt)")

from edge_worker.vision import train  # noqa: E402
from edge_worker.vision.backends import create_backend  # noqa: E402


def test_it_trains_exports_and_loads_a_tiny_model(tmp_path):
    card = train.main(["--out", str(tmp_path), "--train-per-class", "1", "--test-per-class", "1", "--epochs", "1", "--batch", "7"])
    for name in ("defect_classifier.onnx", "defect_classifier.pt", "defect_classifier.json", "MODEL_CARD.md"):
        assert (tmp_path / name).is_file()
    data = json.loads((tmp_path / "defect_classifier.json").read_text())
    assert data == json.loads(json.dumps(card))
    assert data["files"]["onnx"]["sha256"] == train.sha256_file(tmp_path / "defect_classifier.onnx")
    x = np.zeros((3, *data["input"]["shape"][1:]), np.float32)
    p_ort = create_backend("onnxruntime", model_dir=tmp_path).predict(x)
    p_torch = create_backend("torch", model_dir=tmp_path).predict(x)
    assert p_ort.shape == (3, 7) and np.abs(p_ort - p_torch).max() < 1e-4

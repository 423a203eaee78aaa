"""A tiny training run: one epoch on a few images writes a loadable model and its card."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch not installed (requirements-train.txt)")

from edge_worker.vision import train  # noqa: E402
from edge_worker.vision.backends import create_backend  # noqa: E402

TINY = ["--train-per-class", "1", "--test-per-class", "1", "--epochs", "1", "--batch", "7"]


def test_it_trains_exports_and_loads_a_tiny_model(tmp_path):
    card = train.main(["--out", str(tmp_path), *TINY])
    for name in ("defect_classifier.onnx", "defect_classifier.pt", "defect_classifier.json", "MODEL_CARD.md"):
        assert (tmp_path / name).is_file()
    data = json.loads((tmp_path / "defect_classifier.json").read_text())
    assert data == json.loads(json.dumps(card))
    assert data["files"]["onnx"]["sha256"] == train.sha256_file(tmp_path / "defect_classifier.onnx")
    x = np.zeros((3, *data["input"]["shape"][1:]), np.float32)
    p_ort = create_backend("onnxruntime", model_dir=tmp_path).predict(x)
    p_torch = create_backend("torch", model_dir=tmp_path).predict(x)
    assert p_ort.shape == (3, 7) and np.abs(p_ort - p_torch).max() < 1e-4


def test_the_same_seed_trains_the_same_model_bit_for_bit(tmp_path):
    first = train.main(["--out", str(tmp_path / "first"), *TINY])
    second = train.main(["--out", str(tmp_path / "second"), *TINY])
    assert first["files"]["state_dict"]["sha256"] == second["files"]["state_dict"]["sha256"]
    assert first["files"]["onnx"]["sha256"] == second["files"]["onnx"]["sha256"]
    other_seed = train.main(["--out", str(tmp_path / "other"), *TINY, "--seed", "7"])
    assert other_seed["files"]["state_dict"]["sha256"] != first["files"]["state_dict"]["sha256"]

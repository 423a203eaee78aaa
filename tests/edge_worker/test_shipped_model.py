"""The model shipped in edge_worker/models: small, hashed, and as good as its card says."""

import json

from edge_worker.vision.backends import DEFAULT_MODEL_DIR, ModelInfo

CARD = json.loads((DEFAULT_MODEL_DIR / "defect_classifier.json").read_text())


def test_it_ships_onnx_and_state_dict_under_15_mb_with_matching_hashes():
    info = ModelInfo()
    total = info.verified_path("onnx").stat().st_size + info.verified_path("pt").stat().st_size
    assert total < 15 * 1024 * 1024
    assert (DEFAULT_MODEL_DIR / "MODEL_CARD.md").is_file()
    assert CARD["model_version"].startswith("defect-mnv2-")


def test_its_card_reports_the_required_accuracy_and_defect_recall_on_another_seed():
    ev = CARD["evaluation"]
    assert ev["test_seed"] != CARD["training"]["seed"]
    assert ev["accuracy"] >= 0.97
    assert ev["defect_recall"] >= 0.99
    assert set(ev["per_class"]) == set(CARD["classes"])


def test_the_shipped_onnx_model_meets_the_targets_on_images_it_has_never_seen():
    """An independent check of the card's claim: a fresh test set (seed 3, neither the training nor the card's
    test seed), through the production backend."""

    from edge_worker.vision.backends import create_backend
    from edge_worker.vision.dataset import render_arrays
    from edge_worker.vision.preprocess import normalise_uint8
    from edge_worker.vision.render import DEFECT_CLASSES

    x, y, _ = render_arrays(2 * len(DEFECT_CLASSES) * 12, seed=3)
    predicted = create_backend("onnxruntime").predict(normalise_uint8(x)).argmax(axis=1)
    ok = DEFECT_CLASSES.index("ok")
    accuracy = float((predicted == y).mean())
    defective = y != ok
    defect_recall = float((predicted[defective] != ok).mean())
    assert accuracy >= 0.97, accuracy
    assert defect_recall >= 0.99, defect_recall

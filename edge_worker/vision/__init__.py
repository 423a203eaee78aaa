"""Inspection vision library for the edge worker (pure Python: no Django, no ORM).

Modules:
    parts       part type specifications (features with nominal and tolerances)
    render      procedural top-view images of the demo parts with ground truth
    measure     sub-pixel dimensional inspection with OpenCV
    preprocess  the classifier's input pipeline (shared by training and inference)
    backends    interchangeable inference backends (torch, onnxruntime, opencv, tensorrt)
    inspect     one call: image bytes + spec -> InspectionOutcome
    cli         ``python -m edge_worker.vision.cli inspect|render``

torch is optional: only ``backends.torch_backend``, ``model`` and ``train`` import it.
"""

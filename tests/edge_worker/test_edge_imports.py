"""The edge side imports nothing of the server, and creates no inference or CUDA state at import time (a prefork
parent must not hold it when it forks)."""

from __future__ import annotations

import json
import subprocess
import sys

# (Celery itself imports django.utils.version when Django is installed; the ORM and settings are what matter.)
HEAVY = [
    "django.db",
    "django.conf",
    "twinweb",
    "traceability",
    "inspection",
    "tensorrt",
    "pycuda",
    "onnxruntime",
    "torch",
    "jtop",
    "pynvml",
]


def test_it_imports_the_edge_task_without_the_server_or_an_inference_runtime() -> None:
    code = (
        "import json, sys\n"
        "import edge_worker.tasks, edge_worker.contracts, edge_worker.celery_app, edge_worker.simulated_cobot\n"
        "import edge_worker.profiling.tasks, edge_worker.power, edge_worker.runtime, edge_worker.worker\n"
        "import edge_worker.runtime as r\n"
        f"print(json.dumps({{'loaded': [m for m in {HEAVY!r} if m in sys.modules], 'runtime': r._runtime is not None}}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"loaded": [], "runtime": False}

"""The profiling code runs on the Jetson: it imports nothing of the server, and nothing that starts CUDA at
import time (a Celery prefork parent must not hold CUDA state before it forks)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.processes import ROOT as BASE_DIR


@pytest.mark.e2e  # spawns a fresh interpreter
def test_importing_the_edge_profiling_modules_pulls_in_no_server_code_and_no_gpu_runtime() -> None:
    code = (
        "import sys, edge_worker.profiling, edge_worker.profiling.tasks, edge_worker.contracts.profiling\n"
        # kombu imports django.utils.functional when Django is installed; the ORM and settings must stay out.
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('inspection', 'traceability', 'twinweb', 'tensorrt', 'pycuda', 'torch', 'onnxruntime', 'pynvml', 'jtop')"
        " or m.startswith(('django.db', 'django.conf', 'django.apps')))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""

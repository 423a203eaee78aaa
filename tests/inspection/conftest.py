"""Fixtures of the ingest tests: images stored in a folder of each test's own, and a registered edge device with a
part of its cell to report on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from tests.support import ingest_builders as builders


@pytest.fixture(autouse=True)
def media(tmp_path: Path) -> Iterator[Path]:
    with override_settings(MEDIA_ROOT=tmp_path / "media"):
        yield tmp_path / "media"


@pytest.fixture
def edge(cell: Any) -> dict[str, Any]:
    device = builders.make_device(cell)
    part = builders.make_edge_part(cell)
    return {"cell": cell, "device": device, "part": part}

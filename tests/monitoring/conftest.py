"""Images stored by the ingest path go to a folder of each test's own; each test's cell has a code of its own
(the gateway heartbeat's key is named by the cell's code alone, and runs may share a Redis)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from tests.support import factories


@pytest.fixture
def cell(db: Any) -> Any:
    return factories.make_cell(code=f"mon-{uuid.uuid4().hex[:10]}")


@pytest.fixture(autouse=True)
def media(tmp_path: Path) -> Iterator[Path]:
    with override_settings(MEDIA_ROOT=tmp_path / "media"):
        yield tmp_path / "media"

"""Every inspection records the model that judged it (version, sha256) and the registry alias it ran as."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inspection.actions.ingest import record_inspection_result
from tests.support import ingest_builders as builders

pytestmark = pytest.mark.django_db


@pytest.fixture
def edge_part(cell: Any, settings: Any, tmp_path: Path) -> Any:
    settings.MEDIA_ROOT = tmp_path / "media"
    builders.make_device(cell)
    return builders.make_edge_part(cell)


def test_it_records_the_alias_the_device_ran_the_model_as(edge_part: Any) -> None:
    body = builders.body(serial=edge_part.serial)
    body["model"]["alias"] = "champion"
    inspection, _ = record_inspection_result(builders.signed(body))
    inspection.refresh_from_db()
    assert (inspection.model_alias, inspection.model_sha256) == ("champion", "ab" * 32)


def test_a_device_from_before_model_delivery_sends_no_alias(edge_part: Any) -> None:
    body = builders.body(serial=edge_part.serial)
    body["model"].pop("alias", None)
    inspection, _ = record_inspection_result(builders.signed(body))
    inspection.refresh_from_db()
    assert inspection.model_alias == ""

"""A part's status change locks the part, not its batch: every part of a cell's day shares the batch, and the
gateway registers new parts in it (their foreign-key check takes the batch row FOR KEY SHARE) while results and the
cell change other parts' statuses. A batch locked FOR UPDATE made those writers wait for each other, and deadlock
against the audit chain's lock."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import DatabaseError, connection, connections, transaction

from tests.support import factories
from traceability import actions
from traceability.choices import PartStatus
from traceability.models import Batch, Part


def foreign_key_check_on(batch: Batch) -> str:
    """What a new part's foreign-key check on the batch meets, from another connection: free or locked."""

    def probe() -> str:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT 1 FROM traceability_batch WHERE id = %s FOR KEY SHARE NOWAIT", [batch.pk])
            return "free"
        except DatabaseError:
            return "locked"
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:  # a thread of its own: a connection of its own
        return pool.submit(probe).result()


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_it_leaves_the_batch_free_while_a_part_status_change_is_uncommitted() -> None:
    part = factories.make_part(factories.make_batch())
    with transaction.atomic():
        actions.set_part_status(part, status=PartStatus.ON_HOLD, actor=None, reason="held for a test")
        during = foreign_key_check_on(part.batch)
    assert during == "free"
    assert Part.objects.get(pk=part.pk).status == PartStatus.ON_HOLD


@pytest.mark.postgresql
@pytest.mark.django_db
def test_ingest_locks_the_parts_of_its_results_and_not_their_batch(edge_part_and_result: dict) -> None:
    from django.test.utils import CaptureQueriesContext

    from inspection.actions.ingest import record_inspection_results

    with CaptureQueriesContext(connection) as captured:
        [outcome] = record_inspection_results([edge_part_and_result["payload"]])
    assert outcome.created
    locks = [q["sql"] for q in captured.captured_queries if " FOR " in q["sql"] and "traceability_part" in q["sql"]]
    assert locks and all('FOR NO KEY UPDATE OF "traceability_part"' in sql for sql in locks), locks


@pytest.fixture
def edge_part_and_result(cell: object, settings: object, tmp_path: object) -> dict:
    from tests.support import ingest_builders as builders

    settings.MEDIA_ROOT = tmp_path / "media"  # type: ignore[attr-defined,operator]
    builders.make_device(cell)  # type: ignore[arg-type]
    part = builders.make_edge_part(cell)  # type: ignore[arg-type]
    return {"part": part, "payload": builders.payload(serial=part.serial)}

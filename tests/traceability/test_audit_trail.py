"""The audit trail is append-only, hash-chained, and tells exactly where it was tampered with."""

from __future__ import annotations

import importlib
import json
import sqlite3
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from tests.support import factories
from traceability import actions, audit
from traceability.choices import LotStatus
from traceability.models import AuditRecord

pytestmark = pytest.mark.django_db


def _without_purge_permit() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM twinweb_audit_purge_permit")


def _force_update(record_id: int, payload: str) -> None:
    """What an attacker with DBA rights does: switch the guard off, change a record, switch it back on."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")  # a superuser skips triggers
            cursor.execute("UPDATE traceability_auditrecord SET payload = %s WHERE id = %s", [payload, record_id])
            cursor.execute("SET LOCAL session_replication_role = origin")
        else:
            cursor.execute("DROP TRIGGER audit_record_no_update")
            cursor.execute("UPDATE traceability_auditrecord SET payload = %s WHERE id = %s", [payload, record_id])
            cursor.execute(
                "CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON traceability_auditrecord "
                "BEGIN SELECT RAISE(ABORT, 'audit records are append-only: UPDATE refused'); END"
            )


def _force_sql(sql: str, params: list[Any]) -> None:
    """Any statement on the audit table with the guard switched off, as _force_update."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(sql, params)
            cursor.execute("SET LOCAL session_replication_role = origin")
        else:
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'traceability_auditrecord'"
            )
            triggers = [row[0] for row in cursor.fetchall()]
            for name in ("audit_record_no_update", "audit_record_no_delete"):
                cursor.execute(f"DROP TRIGGER {name}")
            cursor.execute(sql, params)
            for trigger in triggers:
                cursor.execute(trigger)


def test_it_writes_one_chained_record_per_action(quality_engineer: Any) -> None:
    lot = factories.make_lot(actor=quality_engineer)
    actions.set_lot_status(lot, status=LotStatus.ON_HOLD, actor=quality_engineer, reason="supplier notice")

    record = AuditRecord.objects.filter(action="lot.status").get()
    previous = AuditRecord.objects.filter(id__lt=record.id).order_by("-id").first()
    assert record.previous_hash == previous.record_hash
    assert record.record_hash == audit.chain_hash(record.previous_hash, record.payload)
    payload = json.loads(record.payload)
    assert payload["before"] == {"status": "released"}
    assert payload["after"] == {"status": "on_hold"}
    assert payload["reason"] == "supplier notice"
    assert record.actor == quality_engineer
    assert record.actor_name == "Quinn Tester (quinn)"


def test_a_write_and_its_audit_record_commit_or_roll_back_together(quality_engineer: Any, monkeypatch: Any) -> None:
    lot = factories.make_lot(actor=quality_engineer)
    records = AuditRecord.objects.count()

    def audit_store_fails(*args: Any, **kwargs: Any) -> None:
        raise DatabaseError("disk full while writing the audit record")

    monkeypatch.setattr(AuditRecord.objects, "bulk_create", audit_store_fails)
    with pytest.raises(DatabaseError, match="disk full"):
        actions.set_lot_status(lot, status=LotStatus.ON_HOLD, actor=quality_engineer, reason="supplier notice")
    monkeypatch.undo()

    lot.refresh_from_db()
    assert lot.status == LotStatus.RELEASED  # the status change went with the audit record
    assert AuditRecord.objects.count() == records


def test_it_refuses_audit_writes_outside_a_transaction(transactional_db: Any) -> None:
    with pytest.raises(RuntimeError, match="inside the action's transaction"):
        audit.append_many([audit.PendingRecord(None, "x", ("t", "1"))])


def test_it_refuses_raw_sql_update_of_an_audit_record(quality_engineer: Any) -> None:
    factories.make_lot(actor=quality_engineer)
    record = AuditRecord.objects.latest("id")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE traceability_auditrecord SET action = 'lot.forged' WHERE id = %s", [record.id])
    assert AuditRecord.objects.get(id=record.id).action == "lot.receive"


def test_it_refuses_raw_sql_delete_of_an_audit_record(quality_engineer: Any) -> None:
    factories.make_lot(actor=quality_engineer)
    record = AuditRecord.objects.latest("id")
    _without_purge_permit()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM traceability_auditrecord WHERE id = %s", [record.id])
    assert AuditRecord.objects.filter(id=record.id).exists()


def test_it_refuses_deleting_through_the_orm_too(quality_engineer: Any) -> None:
    factories.make_lot(actor=quality_engineer)
    _without_purge_permit()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditRecord.objects.all().delete()


def _migration(name: str) -> Any:
    return importlib.import_module(f"traceability.migrations.{name}")


GUARD_MIGRATIONS = ("0002_audit_append_only", "0004_audit_delete_always_refused")


def test_the_production_guard_refuses_delete_even_to_someone_who_recreates_the_old_permit() -> None:
    """The migrations' own guard, not the test suite's teardown variant: deletion is refused outright."""
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("CREATE SCHEMA guard_check")
            cursor.execute("SET LOCAL search_path TO guard_check")
            cursor.execute("CREATE TABLE traceability_auditrecord (id integer PRIMARY KEY)")
            for name in GUARD_MIGRATIONS:
                for sql in _migration(name).POSTGRES_FORWARD:
                    cursor.execute(sql)
            cursor.execute("INSERT INTO traceability_auditrecord VALUES (1)")
            cursor.execute("CREATE TABLE twinweb_audit_purge_permit (id integer)")
            cursor.execute("INSERT INTO twinweb_audit_purge_permit VALUES (1)")
            for statement in ("DELETE FROM traceability_auditrecord", "TRUNCATE traceability_auditrecord"):
                with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                    cursor.execute(statement)
            cursor.execute("SELECT count(*) FROM traceability_auditrecord")
            assert cursor.fetchone() == (1,)
            transaction.set_rollback(True)
    else:
        db = sqlite3.connect(":memory:")
        db.execute("CREATE TABLE traceability_auditrecord (id integer PRIMARY KEY)")
        for name in GUARD_MIGRATIONS:
            for sql in _migration(name).SQLITE_FORWARD:
                db.execute(sql)
        db.execute("INSERT INTO traceability_auditrecord VALUES (1)")
        db.execute("CREATE TABLE twinweb_audit_purge_permit (id integer)")
        db.execute("INSERT INTO twinweb_audit_purge_permit VALUES (1)")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM traceability_auditrecord")
        assert db.execute("SELECT count(*) FROM traceability_auditrecord").fetchone() == (1,)


def test_verify_audit_passes_on_an_intact_trail(quality_engineer: Any, capsys: Any) -> None:
    factories.make_part(actor=quality_engineer)
    call_command("verify_audit")
    assert "audit trail intact" in capsys.readouterr().out


def test_verify_audit_names_the_first_record_changed_behind_the_guard(quality_engineer: Any) -> None:
    factories.make_part(actor=quality_engineer)
    victim = AuditRecord.objects.order_by("id")[2]
    forged = victim.payload.replace('"actor_id"', '"actor_id_"', 1)
    assert forged != victim.payload
    _force_update(victim.id, forged)

    with pytest.raises(CommandError) as failure:
        call_command("verify_audit")
    assert failure.value.returncode == 1
    assert f"record #{victim.id}" in str(failure.value)
    assert "content does not match its hash" in str(failure.value)


def test_verify_audit_exits_non_zero_from_the_command_line(quality_engineer: Any) -> None:
    factories.make_part(actor=quality_engineer)
    victim = AuditRecord.objects.latest("id")
    _force_update(victim.id, victim.payload + " ")
    with pytest.raises(SystemExit) as exit_info:
        from django.core.management import execute_from_command_line

        execute_from_command_line(["manage.py", "verify_audit"])
    assert exit_info.value.code == 1


def test_a_correction_points_at_the_original_which_stays_visible(quality_engineer: Any) -> None:
    lot = factories.make_lot(actor=quality_engineer)
    original = AuditRecord.objects.get(action="lot.receive", subject_key=lot.lot_key)

    correction = actions.correct_record(
        lot,
        corrects=original,
        changes={"supplier_lot_number": "ALU-778812"},
        reason="typo in the supplier's lot number",
        actor=quality_engineer,
    )

    lot.refresh_from_db()
    assert lot.supplier_lot_number == "ALU-778812"
    assert correction.corrects == original
    assert json.loads(AuditRecord.objects.get(id=original.id).payload) == json.loads(original.payload)
    assert json.loads(correction.payload)["corrects"] == original.record_hash
    call_command("verify_audit")


def test_verify_audit_prints_a_head_that_later_reveals_records_removed_from_the_end(
    quality_engineer: Any, capsys: Any
) -> None:
    factories.make_part(actor=quality_engineer)
    call_command("verify_audit")
    head = capsys.readouterr().out.split("head ", 1)[1].split()[0]
    newest = AuditRecord.objects.latest("id")
    assert head == f"{newest.id}:{newest.record_hash}"
    factories.make_lot(actor=quality_engineer)
    call_command("verify_audit", anchor=head)  # more records since: still intact

    _force_sql("DELETE FROM traceability_auditrecord WHERE id >= %s", [newest.id])
    call_command("verify_audit")  # the chain alone cannot tell that its end is missing
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit", anchor=head)
    assert failure.value.returncode == 1 and "anchored record is gone" in str(failure.value)


def test_verify_audit_names_a_correction_repointed_at_another_record(quality_engineer: Any) -> None:
    lot = factories.make_lot(actor=quality_engineer)
    original = AuditRecord.objects.get(action="lot.receive", subject_key=lot.lot_key)
    correction = actions.correct_record(
        lot, corrects=original, changes={"supplier": "Alu Norte"}, reason="wrong supplier", actor=quality_engineer
    )
    other = AuditRecord.objects.exclude(id__in=[original.id, correction.id]).earliest("id")
    _force_sql("UPDATE traceability_auditrecord SET corrects_id = %s WHERE id = %s", [other.id, correction.id])

    with pytest.raises(CommandError) as failure:
        call_command("verify_audit")
    assert f"record #{correction.id}" in str(failure.value) and "corrects column" in str(failure.value)


def test_a_correction_needs_a_reason(quality_engineer: Any) -> None:
    lot = factories.make_lot(actor=quality_engineer)
    original = AuditRecord.objects.get(action="lot.receive", subject_key=lot.lot_key)
    from traceability.errors import RefusedByRule

    with pytest.raises(RefusedByRule):
        actions.correct_record(lot, corrects=original, changes={"supplier": "x"}, reason=" ", actor=quality_engineer)

"""Trace-query benchmark (PostgreSQL only).

Generates a plant history of >= 1,000,000 parts and 5,000,000 station events in the database `twinweb_bench`
with set-based SQL (generate_series, no ORM, no per-row round trips), then measures:

- the backward trace (`traceability.genealogy.backward_trace`) of random serials: p50 / p95 / max;
- the forward trace (`traceability.genealogy.forward_trace`) of a supplier lot that reached 10,000 parts.

    .venv/bin/python bench/trace.py              # generate (or --reuse an earlier generation) and measure
    .venv/bin/python bench/trace.py --reuse --write-docs

The generated genealogy: supplier aluminium lots are each split in two lots consumed by 5,000 parts each (so
supplier lot LOT-S-00000 reaches parts 1..10,000); O-ring lots are each a merge of two supplier lots and feed 2,000
parts each; the last 10 % of parts are assemblies, each built from one earlier part (a sub-assembly), so traces go
through PartComponent, splits and merges. Every part has 5 station events, one inspection with 2 measurements
and one audit record; 1 part in 37 failed and has a failure case.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/twinweb_bench"
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Trace queries (`bench/trace.py`)"
ASSEMBLY_SHARE = 10  # the last 1/10 of the parts are assemblies
EVENTS_PER_PART = 5
RECALL_LOT = "LOT-S-00000"


def setup_django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")  # never start an embedded redis for this
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "twinweb.settings")
    import django

    django.setup()


def ensure_database(db_url: str, *, recreate: bool) -> None:
    import psycopg

    base, name = db_url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and recreate:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def generated_parts() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_meta') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute("SELECT parts FROM bench_meta")
        row = cursor.fetchone()
        return int(row[0]) if row else 0


def _tables() -> dict[str, str]:
    from inspection.models import Inspection, Measurement
    from traceability import models as m

    named: dict[str, Any] = {
        "site": m.Site,
        "area": m.Area,
        "line": m.Line,
        "cell": m.Cell,
        "station": m.Station,
        "parttype": m.PartType,
        "material": m.MaterialDefinition,
        "lot": m.MaterialLot,
        "lotlink": m.LotLink,
        "batch": m.Batch,
        "pallet": m.Pallet,
        "part": m.Part,
        "consumption": m.LotConsumption,
        "component": m.PartComponent,
        "event": m.StationEvent,
        "defect": m.DefectCode,
        "failure": m.FailureCase,
        "audit": m.AuditRecord,
        "inspection": Inspection,
        "measurement": Measurement,
    }
    return {key: model._meta.db_table for key, model in named.items()}


def _secondary_indexes(cursor: Any, table: str) -> list[tuple[str, str]]:
    """Indexes not backing a constraint: dropped during the load and rebuilt after (much faster than upkeep)."""
    cursor.execute(
        """SELECT i.indexname, i.indexdef FROM pg_indexes i
           WHERE i.tablename = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""",
        [table],
    )
    return list(cursor.fetchall())


def _layout(parts: int) -> tuple[Any, ...]:
    """The generated plant's proportions: lots, assemblies, batches, pallets, and the shipped share."""
    n = parts
    alu_lots = n // 5000  # each consumed by 5,000 parts
    supplier_alu = (alu_lots + 1) // 2  # each split into two aluminium lots
    ring_lots = n // 2000  # each consumed by 2,000 parts
    supplier_rings = ring_lots * 2  # merged pairwise into the ring lots
    # lot ids: aluminium 1.., rings after, supplier aluminium after, supplier rings last
    ring0, salu0, sring0 = alu_lots, alu_lots + ring_lots, alu_lots + ring_lots + supplier_alu
    first_assembly = n - n // ASSEMBLY_SHARE + 1
    component_offset = n // 2  # assembly j is built from part j - n/2 (a sub-assembly, never packed itself)
    comp_lo, comp_hi = first_assembly - component_offset, n - component_offset
    batches = (n + 499) // 500
    pallets = (n + 119) // 120
    shipped_below = int(n * 0.8)
    t0 = "TIMESTAMPTZ '2026-01-05 06:00:00+00'"
    return (
        n,
        alu_lots,
        supplier_alu,
        ring_lots,
        supplier_rings,
        ring0,
        salu0,
        sring0,
        first_assembly,
        component_offset,
        comp_lo,
        comp_hi,
        batches,
        pallets,
        shipped_below,
        t0,
    )


def _master_data_steps(parts: int) -> list[tuple[str, str]]:
    """SQL for the plant, its material lots (split and merged), batches and pallets."""
    t = _tables()
    (
        n,
        alu_lots,
        supplier_alu,
        ring_lots,
        supplier_rings,
        ring0,
        salu0,
        sring0,
        first_assembly,
        component_offset,
        comp_lo,
        comp_hi,
        batches,
        pallets,
        shipped_below,
        t0,
    ) = _layout(parts)
    return [
        (
            "plant",
            f"""
            INSERT INTO {t["site"]} (id, code, name) VALUES (1, 'bench', 'Bench plant');
            INSERT INTO {t["area"]} (id, site_id, code, name) VALUES (1, 1, 'hvac', 'HVAC');
            INSERT INTO {t["line"]} (id, area_id, code, name) VALUES (1, 1, 'line-1', 'Line 1');
            INSERT INTO {t["cell"]} (id, line_id, code, name, target_cycle_time_s) VALUES (1, 1, 'bench-cell', 'Bench cell', 15);
            INSERT INTO {t["station"]} (id, cell_id, code, name, kind, position, inspection_job, camera_view) VALUES
              (1, 1, 'load', 'Loading', 'loading', 1, '', 'front'),
              (2, 1, 'visual', 'Visual', 'visual_inspection', 2, 'defect_model', 'front'),
              (3, 1, 'dimensional', 'Dimensional', 'dimensional_inspection', 3, 'measurement', 'backlit'),
              (4, 1, 'cobot', 'Cobot', 'failure_analysis', 4, '', 'front'), (5, 1, 'unload', 'Unloading', 'unloading', 5, '', 'front');
            INSERT INTO {t["parttype"]} (id, code, name, family, drawing_number, revision, gtin, four_eyes_override) VALUES
              (1, 'CF-80', 'Compressor flange', 'flange', 'D-1', 'A', '07891234000014', false),
              (2, 'ASM-80', 'Flange assembly', 'flange', 'D-2', 'A', '07891234000021', false);
            INSERT INTO {t["material"]} (id, code, name, unit, gtin) VALUES
              (1, 'al-6061', 'Aluminium billet', 'kg', '07891234009017'), (2, 'o-ring-80', 'O-ring', 'pcs', '07891234009024');
            INSERT INTO {t["defect"]} (id, code, name, description, severity) VALUES (1, 'scratch', 'Scratch', '', 'minor');
        """,
        ),
        (
            "lots",
            f"""
            INSERT INTO {t["lot"]} (id, lot_key, material_id, supplier, supplier_lot_number, received_at, quantity, status,
                                    status_before_containment)
            SELECT k, CASE WHEN k <= {alu_lots} THEN 'LOT-A-' || lpad((k - 1)::text, 5, '0')
                           WHEN k <= {salu0} THEN 'LOT-R-' || lpad((k - {ring0} - 1)::text, 5, '0')
                           WHEN k <= {sring0} THEN 'LOT-S-' || lpad((k - {salu0} - 1)::text, 5, '0')
                           ELSE 'LOT-SR-' || lpad((k - {sring0} - 1)::text, 5, '0') END,
                   CASE WHEN k <= {ring0} OR (k > {salu0} AND k <= {sring0}) THEN 1 ELSE 2 END,
                   'Bench supplier', 'S' || k, {t0} - interval '10 days', 5000, 'released', ''
            FROM generate_series(1, {sring0 + supplier_rings}) AS k;
            INSERT INTO {t["lotlink"]} (parent_id, child_id, kind, quantity, linked_at)
            SELECT {salu0} + 1 + (k - 1) / 2, k, 'split', 2500, {t0} - interval '9 days' FROM generate_series(1, {alu_lots}) AS k
            UNION ALL
            SELECT {sring0} + 1 + 2 * (r - 1) + s, {ring0} + r, 'merge', 2500, {t0} - interval '9 days'
            FROM generate_series(1, {ring_lots}) AS r, generate_series(0, 1) AS s;
        """,
        ),
        (
            "batches and pallets",
            f"""
            INSERT INTO {t["batch"]} (id, batch_number, part_type_id, cell_id, planned_quantity, status, created_at)
            SELECT b, 'BB-' || lpad(b::text, 6, '0'), CASE WHEN (b - 1) * 500 + 1 >= {first_assembly} THEN 2 ELSE 1 END,
                   1, 500, 'completed', {t0} + (b - 1) * interval '7500 seconds'
            FROM generate_series(1, {batches}) AS b;
            INSERT INTO {t["pallet"]} (id, sscc, status, created_at, shipped_at)
            SELECT p, '0789123400' || lpad(p::text, 7, '0') || '0',
                   CASE WHEN p * 120 <= {shipped_below} THEN 'shipped' ELSE 'closed' END,
                   {t0} + p * interval '1800 seconds',
                   CASE WHEN p * 120 <= {shipped_below} THEN {t0} + p * interval '1800 seconds' + interval '1 day' END
            FROM generate_series(1, {pallets}) AS p;
        """,
        ),
    ]


def _production_steps(parts: int) -> list[tuple[str, str]]:
    """SQL for the parts and everything they left behind: consumptions, components, station events,
    inspections and measurements, failure cases, audit records."""
    t = _tables()
    (
        n,
        alu_lots,
        supplier_alu,
        ring_lots,
        supplier_rings,
        ring0,
        salu0,
        sring0,
        first_assembly,
        component_offset,
        comp_lo,
        comp_hi,
        batches,
        pallets,
        shipped_below,
        t0,
    ) = _layout(parts)
    return [
        (
            "parts",
            f"""
            INSERT INTO {t["part"]} (id, serial, part_type_id, batch_id, status, created_at, status_changed_at, pallet_id, packed_at,
                                     status_on_release)
            SELECT i, 'BS-' || lpad(i::text, 7, '0'), CASE WHEN i >= {first_assembly} THEN 2 ELSE 1 END,
                   (i - 1) / 500 + 1,
                   CASE WHEN i BETWEEN {comp_lo} AND {comp_hi} THEN 'passed' WHEN i % 37 = 0 THEN 'failed'
                        WHEN i <= {shipped_below} THEN 'shipped' ELSE 'passed' END,
                   {t0} + i * interval '15 seconds', {t0} + i * interval '15 seconds' + interval '90 seconds',
                   CASE WHEN i BETWEEN {comp_lo} AND {comp_hi} OR i % 37 = 0 THEN NULL ELSE (i - 1) / 120 + 1 END,
                   CASE WHEN i BETWEEN {comp_lo} AND {comp_hi} OR i % 37 = 0 THEN NULL
                        ELSE {t0} + i * interval '15 seconds' + interval '120 seconds' END, ''
            FROM generate_series(1, {n}) AS i;
        """,
        ),
        (
            "lot consumptions",
            f"""
            INSERT INTO {t["consumption"]} (part_id, lot_id, quantity, consumed_at)
            SELECT i, (i - 1) / 5000 + 1, 0.420, {t0} + i * interval '15 seconds' FROM generate_series(1, {n}) AS i
            UNION ALL
            SELECT i, {ring0} + (i - 1) / 2000 + 1, 1, {t0} + i * interval '15 seconds' FROM generate_series(1, {n}) AS i;
        """,
        ),
        (
            "components",
            f"""
            INSERT INTO {t["component"]} (assembly_id, component_id, assembled_at)
            SELECT j, j - {component_offset}, {t0} + j * interval '15 seconds' FROM generate_series({first_assembly}, {n}) AS j;
        """,
        ),
        (
            "station events",
            f"""
            INSERT INTO {t["event"]} (part_id, station_id, entered_at, left_at, outcome, parameters)
            SELECT i, s, {t0} + i * interval '15 seconds' + s * interval '15 seconds',
                   {t0} + i * interval '15 seconds' + s * interval '15 seconds' + interval '12.5 seconds',
                   CASE WHEN s = 2 AND i % 37 = 0 THEN 'nok' ELSE 'ok' END, '{{"cycle_time_s": 12.5}}'::jsonb
            FROM generate_series(1, {n}) AS i, generate_series(1, {EVENTS_PER_PART}) AS s;
        """,
        ),
        (
            "inspections",
            f"""
            INSERT INTO {t["inspection"]} (id, result_id, capture_id, part_id, station_id, verdict, reason, defect_class,
                class_probabilities, findings, model_version, model_sha256, model_alias, backend, backend_version,
                precision, timings_ms, power_note, captured_at, inspected_at, received_at, needs_review, latency_ms)
            SELECT i, md5('r' || i)::uuid, md5('c' || i)::uuid, i, 3,
                   CASE WHEN i % 37 = 0 THEN 'fail' ELSE 'pass' END, '', '', '{{}}'::jsonb, '[]'::jsonb,
                   'bench-1.0', '', '', 'opencv', '4', 'fp32', '{{}}'::jsonb, '',
                   {t0} + i * interval '15 seconds' + interval '50 seconds',
                   {t0} + i * interval '15 seconds' + interval '51 seconds',
                   {t0} + i * interval '15 seconds' + interval '52 seconds', false, 40
            FROM generate_series(1, {n}) AS i;
            INSERT INTO {t["measurement"]} (inspection_id, name, kind, value, nominal, lower_tol, upper_tol, unit, passed, geometry)
            SELECT i, f.name, f.kind, f.nominal + ((i % 7) - 3) * 0.01, f.nominal, -0.05, 0.05, 'mm', true, '{{}}'::jsonb
            FROM generate_series(1, {n}) AS i,
                 (VALUES ('bore_diameter', 'diameter', 30.0), ('outer_size', 'outer_size', 80.0)) AS f(name, kind, nominal);
        """,
        ),
        (
            "failure cases",
            f"""
            INSERT INTO {t["failure"]} (part_id, defect_code_id, found_by, station_id, description, disposition, status,
                                        pending_disposition, opened_at)
            SELECT i, 1, 'machine', 2, '', '', 'open', '', {t0} + i * interval '15 seconds' + interval '60 seconds'
            FROM generate_series(37, {n}, 37) AS i;
        """,
        ),
        (
            "audit records",
            f"""
            INSERT INTO {t["audit"]} (created_at, actor_name, action, subject_type, subject_key, payload, previous_hash, record_hash)
            SELECT {t0} + i * interval '15 seconds', 'system', 'part.import', 'traceability.part',
                   'BS-' || lpad(i::text, 7, '0'), '{{"bench": true}}', encode(sha256(('p' || (i - 1))::bytea), 'hex'),
                   encode(sha256(('p' || i)::bytea), 'hex')
            FROM generate_series(1, {n}) AS i;
        """,
        ),
    ]


def generate(parts: int, *, log: Any) -> float:
    from django.core.management import call_command
    from django.db import connection, transaction

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    log(f"migrated in {time.perf_counter() - started:.1f} s")
    t = _tables()
    n = parts
    steps = _master_data_steps(parts) + _production_steps(parts)
    load_tables = [
        t[key]
        for key in (
            "lot",
            "lotlink",
            "batch",
            "pallet",
            "part",
            "consumption",
            "component",
            "event",
            "inspection",
            "measurement",
            "failure",
            "audit",
        )
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # no FK / append-only triggers during the load
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        dropped: list[tuple[str, str]] = []
        for table in load_tables:
            for name, definition in _secondary_indexes(cursor, table):
                cursor.execute(f'DROP INDEX "{name}"')
                dropped.append((name, definition))
        for label, sql in steps:
            step_started = time.perf_counter()
            cursor.execute(sql)
            log(f"  {label}: {time.perf_counter() - step_started:.1f} s")
        step_started = time.perf_counter()
        for _, definition in dropped:
            cursor.execute(definition)
        log(f"  rebuilt {len(dropped)} indexes: {time.perf_counter() - step_started:.1f} s")
        cursor.execute("""
            SELECT 'SELECT setval(' || quote_literal(pg_get_serial_sequence(c.table_name, c.column_name)) ||
                   ', COALESCE((SELECT max(' || c.column_name || ') FROM ' || c.table_name || '), 1))'
            FROM information_schema.columns c
            WHERE c.table_schema = 'public' AND (c.column_default LIKE 'nextval%' OR c.is_identity = 'YES')
        """)
        for (statement,) in cursor.fetchall():
            if statement:
                cursor.execute(statement)
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_meta (parts integer, events bigint, generated_at timestamptz)")
        cursor.execute("DELETE FROM bench_meta")
        cursor.execute("INSERT INTO bench_meta VALUES (%s, %s, now())", [n, n * EVENTS_PER_PART])
    with connection.cursor() as cursor:
        step_started = time.perf_counter()
        cursor.execute("ANALYZE")
        log(f"  analyze: {time.perf_counter() - step_started:.1f} s")
        elapsed = time.perf_counter() - started
        cursor.execute("ALTER TABLE bench_meta ADD COLUMN IF NOT EXISTS generation_s double precision")
        cursor.execute("UPDATE bench_meta SET generation_s = %s", [elapsed])
    return elapsed


def earlier_generation() -> str:
    """How long the reused generation took, as recorded when it ran."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE bench_meta ADD COLUMN IF NOT EXISTS generation_s double precision")
        cursor.execute("SELECT generation_s, generated_at FROM bench_meta")
        row = cursor.fetchone()
    if not row or row[0] is None:
        return "reused an earlier generation (its time was not recorded)"
    return f"{row[0]:.0f} s (reused the generation of {row[1]:%Y-%m-%d %H:%M} UTC)"


def counts() -> dict[str, int]:
    from django.db import connection

    t = _tables()
    out = {}
    with connection.cursor() as cursor:
        for key in (
            "part",
            "event",
            "consumption",
            "component",
            "lot",
            "lotlink",
            "inspection",
            "measurement",
            "audit",
        ):
            cursor.execute(f"SELECT count(*) FROM {t[key]}")
            out[key] = cursor.fetchone()[0]
    return out


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _relation_reads(node: dict[str, Any]) -> list[str]:
    """Each table a plan reads, how (index or full scan) and the rows that node returned."""
    reads = []
    if "Relation Name" in node:
        how = node["Node Type"] + (f" ({node['Index Name']})" if "Index Name" in node else "")
        reads.append(f"{node['Relation Name']}: {how}, {node.get('Actual Rows', 0)} rows")
    for child in node.get("Plans", []):
        reads += _relation_reads(child)
    return reads


def explain(parts: int, seed: int) -> list[str]:
    """The plan of every query of one backward trace and of the recall's forward trace (EXPLAIN ANALYZE): which
    tables are read by index and which in full, with the rows each node touched. A trace stays flat as history
    grows when no table that grows with history is read in full."""
    import json as json_module

    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from traceability import genealogy, selectors
    from traceability.models import MaterialLot

    serial = f"BS-{random.Random(seed).randint(1, parts):07d}"
    lines: list[str] = []
    for label, run in (
        (f"backward trace of {serial}", lambda: genealogy.backward_trace(selectors.parts().get(serial=serial))),
        (
            f"forward trace of {RECALL_LOT}",
            lambda: genealogy.forward_trace(MaterialLot.objects.get(lot_key=RECALL_LOT)),
        ),
    ):
        with CaptureQueriesContext(connection) as captured:
            run()
        reads = [q for q in captured.captured_queries if q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))]
        for number, query in enumerate(reads, 1):
            with transaction.atomic(), connection.cursor() as cursor:
                if "reached(" in query["sql"]:  # a wide trace query runs under these settings (genealogy._rows)
                    cursor.execute(genealogy.WIDE_QUERY_SETTINGS)
                cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query["sql"])
                answer = cursor.fetchone()[0]
                plan = (json_module.loads(answer) if isinstance(answer, str) else answer)[0]
            nodes = _relation_reads(plan["Plan"])
            lines.append(f"{label}, query {number} ({plan['Execution Time']:.2f} ms): " + "; ".join(nodes))
    return lines


def measure(parts: int, *, samples: int, seed: int, with_epcis: bool) -> dict[str, Any]:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from traceability import genealogy, selectors
    from traceability.models import MaterialLot

    niceness = os.getpriority(os.PRIO_PROCESS, 0)
    if niceness < 0:  # started with `nice -n -N`: give this run's PostgreSQL backend the same priority
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            os.setpriority(os.PRIO_PROCESS, cursor.fetchone()[0], niceness)
    rng = random.Random(seed)
    serials = [f"BS-{rng.randint(1, parts):07d}" for _ in range(samples + 20)]
    backward_ms: list[float] = []
    queries: list[int] = []
    sizes: list[int] = []
    for index, serial in enumerate(serials):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            part = selectors.parts().get(serial=serial)
            trace = genealogy.backward_trace(part)
            elapsed = (time.perf_counter() - started) * 1000
        if index >= 20:  # the first 20 warm the connection and the caches
            backward_ms.append(elapsed)
            queries.append(len(captured))
            sizes.append(len(trace.lots) + len(trace.station_events) + len(trace.inspections) + len(trace.parts))
        reset_queries()
    lot = MaterialLot.objects.get(lot_key=RECALL_LOT)
    forward_ms: list[float] = []
    reached = 0
    forward_queries = 0
    for _ in range(6):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            forward = genealogy.forward_trace(lot)
            forward_ms.append((time.perf_counter() - started) * 1000)
        reached = len(forward.parts)
        forward_queries = len(captured)
    ids_started = time.perf_counter()
    id_count = len(genealogy.reached_part_ids(lot))
    ids_ms = (time.perf_counter() - ids_started) * 1000
    contain_ms, held = _time_containment(lot)
    epcis_s: float | None = None
    epcis_events = 0
    if with_epcis:
        from traceability import epcis

        epcis_started = time.perf_counter()
        document = epcis.streamed_lot_document(genealogy.forward_trace(lot))  # what export_epcis writes
        for _ in document:
            pass
        epcis_s = time.perf_counter() - epcis_started
        epcis_events = document.event_count
    return {
        "samples": len(backward_ms),
        "backward_p50": percentile(backward_ms, 0.50),
        "backward_p95": percentile(backward_ms, 0.95),
        "backward_max": max(backward_ms),
        "backward_queries": max(queries),
        "backward_nodes": statistics.mean(sizes),
        "forward_parts": reached,
        "forward_first": forward_ms[0],
        "forward_median": statistics.median(forward_ms[1:]),
        "forward_queries": forward_queries,
        "ids_parts": id_count,
        "ids_ms": ids_ms,
        "contain_ms": contain_ms,
        "contain_held": held,
        "epcis_s": epcis_s,
        "epcis_events": epcis_events,
    }


def _time_containment(lot: Any) -> tuple[float, int]:
    """The whole containment action on the recall lot (hold rows, status changes, one audit record per part), timed
    and then rolled back so the generated history stays as it was for --reuse."""
    from django.db import transaction

    from traceability import actions
    from traceability.models import ContainmentHold

    with transaction.atomic():
        started = time.perf_counter()
        actions.contain_lot(lot, actor=None, reason="benchmark (rolled back)")
        elapsed = (time.perf_counter() - started) * 1000
        held = ContainmentHold.objects.count()
        transaction.set_rollback(True)
    lot.refresh_from_db()
    return elapsed, held


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    return f"{cpu}, {os.cpu_count()} cores{memory}; PostgreSQL {version} on the same machine; Python {platform.python_version()}"


def table(result: dict[str, Any], sizes: dict[str, int], generation_s: float | None) -> str:
    rows = [
        ("Parts / station events in the database", f"{sizes['part']:,} / {sizes['event']:,}"),
        (
            "Lot consumptions / sub-assembly links / lots / lot links",
            f"{sizes['consumption']:,} / {sizes['component']:,} / {sizes['lot']:,} / {sizes['lotlink']:,}",
        ),
        (
            "Inspections / measurements / audit records",
            f"{sizes['inspection']:,} / {sizes['measurement']:,} / {sizes['audit']:,}",
        ),
        (
            "Generation time (migrate, load, indexes, analyze)",
            f"{generation_s:.0f} s" if generation_s is not None else earlier_generation(),
        ),
        (f"Backward trace p50 ({result['samples']} random serials)", f"{result['backward_p50']:.1f} ms"),
        ("Backward trace p95", f"{result['backward_p95']:.1f} ms"),
        ("Backward trace max", f"{result['backward_max']:.1f} ms"),
        ("Backward trace queries (incl. the serial lookup)", str(result["backward_queries"])),
        (f"Forward trace of {RECALL_LOT}: parts reached", f"{result['forward_parts']:,}"),
        ("Forward trace time (median of 5 warm runs)", f"{result['forward_median']:.0f} ms"),
        ("Forward trace time (first, cold run)", f"{result['forward_first']:.0f} ms"),
        ("Forward trace queries", str(result["forward_queries"])),
        (
            "Containment's reached-part ids only (1 query)",
            f"{result['ids_ms']:.0f} ms for {result['ids_parts']:,} parts",
        ),
        (
            f"Containment of {RECALL_LOT} (holds, statuses, audit; rolled back)",
            f"{result['contain_ms']:.0f} ms for {result['contain_held']:,} parts held",
        ),
        (
            f"EPCIS 2.0 export of {RECALL_LOT} (trace, events, CBV 2.0 hash ids)",
            f"{result['epcis_s']:.1f} s for {result['epcis_events']:,} events"
            if result["epcis_s"] is not None
            else "not measured: run without --no-epcis",
        ),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"| {'Measure'.ljust(width)} | Result |", f"|{'-' * (width + 2)}|--------|"]
    lines += [f"| {label.ljust(width)} | {value} |" for label, value in rows]
    return "\n".join(lines)


def write_docs(text: str) -> None:
    content = DOCS.read_text()
    start = content.index(SECTION)
    following = re.search(r"^## ", content[start + len(SECTION) :], flags=re.MULTILINE)
    end = start + len(SECTION) + following.start() if following else len(content)
    DOCS.write_text(content[:start] + SECTION + "\n\n" + text.strip() + "\n\n" + content[end:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB_URL))
    parser.add_argument("--parts", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=500, help="random serials for the backward trace")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-epcis", action="store_true", help="skip timing the recall lot's EPCIS export")
    parser.add_argument("--reuse", action="store_true", help="reuse the database if it already holds the history")
    parser.add_argument("--explain", action="store_true", help="print the plans of one backward and the forward trace")
    parser.add_argument(
        "--write-docs", action="store_true", help=f"replace the section {SECTION!r} of docs/benchmarks.md"
    )
    args = parser.parse_args()
    if not args.db_url.startswith("postgres"):
        sys.exit("bench/trace.py runs on PostgreSQL only (it generates data with generate_series).")
    if args.parts < 20_000:
        sys.exit("--parts must be at least 20,000 (the recall lot reaches 10,000 parts).")

    def log(message: str) -> None:
        print(message, flush=True)

    ensure_database(args.db_url, recreate=False)
    setup_django(args.db_url)
    generation_s: float | None = None
    if args.reuse and generated_parts() >= args.parts:
        log(f"reusing {args.db_url} ({generated_parts():,} parts)")
    else:
        from django.db import connections

        connections.close_all()
        ensure_database(args.db_url, recreate=True)
        log(f"generating {args.parts:,} parts and {args.parts * EVENTS_PER_PART:,} station events in {args.db_url}")
        generation_s = generate(args.parts, log=log)
        log(f"generated in {generation_s:.0f} s")
    sizes = counts()
    if args.explain:
        for line in explain(generated_parts() or args.parts, args.seed):
            print(line)
    load_before = os.getloadavg()[0]
    result = measure(
        generated_parts() or args.parts, samples=args.samples, seed=args.seed, with_epcis=not args.no_epcis
    )
    report = table(result, sizes, generation_s)
    print()
    print(report)
    aims = (
        f"Aim: backward p95 < 50 ms ({'met' if result['backward_p95'] < 50 else 'NOT met'}); "
        f"10,000-part recall < 1 s ({'met' if result['forward_median'] < 1000 else 'NOT met'})."
    )
    print(aims)
    if args.write_docs:
        command = "    .venv/bin/python bench/trace.py" + (" --reuse" if args.reuse else "") + " --write-docs"
        if args.parts != 1_000_000:
            command += f" --parts {args.parts}"
        try:
            commit = subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
            ).stdout.strip()
        except OSError:
            commit = ""
        text = "\n".join(
            [
                "Backward trace (`traceability.genealogy.backward_trace`: the part, its sub-assemblies, consumed lots and",
                "their ancestors through splits and merges, station events, inspections with measurements, failure cases",
                "and audit records) of random serials, and forward trace (`forward_trace`: every part a lot reached through",
                "splits, merges and sub-assemblies, with pallets) of a supplier lot that reached 10,000 parts. Times are",
                "wall-clock in the Django process, including the ORM building the objects; synthetic history generated",
                "by set-based SQL (see the script's docstring). The EPCIS export line is the streamed document of",
                "`manage.py export_epcis` (bench/epcis_export.py measures it against the reference hash code).",
                "",
                command,
                "",
                f"Machine: {machine()}. Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
                + (f", commit {commit}" if commit else "")
                + f". Load average during the run: {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
                " (the machine is shared: other work running at the same time slows every figure)"
                + (
                    f"; the script and its PostgreSQL backend ran at nice {os.getpriority(os.PRIO_PROCESS, 0)}."
                    if os.getpriority(os.PRIO_PROCESS, 0) < 0
                    else "."
                ),
                "",
                report,
                "",
                aims,
            ]
        )
        write_docs(text)
        print(f"wrote {SECTION!r} in {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

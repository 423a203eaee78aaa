"""SPC benchmark (PostgreSQL): page and API time of a characteristic with 10,000 and with 100,000 values.

Creates the database `twinweb_bench_spc` (dropped and re-created each run), migrates it, and stores 100,000 parts
measured at the dimensional station (one inspection each, naming the drawing revision): `bore_diameter` on all of
them (100,000 values), `outer_diameter` on the first 10,000. A quality engineer freezes limits of both from their
first 125 values. Then, through Django's test client (the whole request: URL routing, session, view, template,
JSON), each is requested REPEATS times and the percentiles printed:
- API: GET /api/spc/characteristics/<id>/ (chart points of the latest 250 points, limits, rule hits, capability);
- page: GET /spc/characteristics/<id>/ (the server-rendered page: limits, capability table, violations);
- summary: GET /spc/part-types/<code>/ (both characteristics analysed);
- watch_spc pass: one rule pass over both with no new values since the last (the idle cost of the watcher; the
  warm-up pass before it evaluated every Phase II point of both).

    .venv/bin/python bench/spc.py [--db-url postgres://postgres@127.0.0.1:5432/twinweb_bench_spc] [--repeats 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/twinweb_bench_spc"


def setup(db_url: str) -> None:
    import psycopg

    base, name = db_url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "twinweb.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(total: int, small: int) -> dict[str, Any]:
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from edge_worker.vision.parts import DEMO_PART_TYPES
    from inspection.models import Inspection, Measurement
    from traceability import actions, roles
    from traceability.models import Area, Cell, Line, Part, Site, Station

    site = actions.save_record(Site(code="bench", name="Bench plant"), actor=None)
    area = actions.save_record(Area(site=site, code="hvac", name="HVAC"), actor=None)
    line = actions.save_record(Line(area=area, code="l1", name="Line 1"), actor=None)
    cell = actions.save_record(Cell(line=line, code="c1", name="Cell 1"), actor=None)
    station = actions.save_record(
        Station(cell=cell, code="dimensional", name="Dimensional", kind="dimensional_inspection", position=1),
        actor=None,
    )
    pt = actions.create_part_type(
        code="CF-80",
        name="Flange",
        family="flange",
        drawing_number="DRW-B",
        revision="A",
        features=actions.feature_inputs(DEMO_PART_TYPES["CF-80"].features),
        actor=None,
    )
    batch = actions.create_batch(batch_number="B-1", part_type=pt, cell=cell, planned_quantity=total, actor=None)
    drawing = pt.drawings.get()
    bore, outer = drawing.features.get(name="bore_diameter"), drawing.features.get(name="outer_diameter")
    rng = np.random.default_rng(1)
    bores = rng.normal(30.042, 0.007, total)
    outers = rng.normal(80.0, 0.02, small)
    t0 = timezone.now() - dt.timedelta(days=30)
    step = 5000
    for start in range(0, total, step):
        idx = range(start, min(total, start + step))
        parts = Part.objects.bulk_create(
            [
                Part(
                    serial=f"SN-{i:07d}",
                    part_type=pt,
                    batch=batch,
                    created_at=t0 + dt.timedelta(seconds=15 * i),
                    status_changed_at=t0 + dt.timedelta(seconds=15 * i),
                )
                for i in idx
            ]
        )
        insp = Inspection.objects.bulk_create(
            [
                Inspection(
                    result_id=uuid.uuid4(),
                    capture_id=uuid.uuid4(),
                    part=p,
                    station=station,
                    drawing=drawing,
                    verdict="pass",
                    captured_at=p.created_at,
                    inspected_at=p.created_at,
                    received_at=p.created_at,
                )
                for p in parts
            ]
        )
        ms = []
        for i, ins in zip(idx, insp):
            ms.append(
                Measurement(
                    inspection=ins,
                    name=bore.name,
                    kind=bore.kind,
                    value=float(bores[i]),
                    nominal=bore.nominal,
                    lower_tol=bore.lower_tol,
                    upper_tol=bore.upper_tol,
                    passed=True,
                )
            )
            if i < small:
                ms.append(
                    Measurement(
                        inspection=ins,
                        name=outer.name,
                        kind=outer.kind,
                        value=float(outers[i]),
                        nominal=outer.nominal,
                        lower_tol=outer.lower_tol,
                        upper_tol=outer.upper_tol,
                        passed=True,
                    )
                )
        Measurement.objects.bulk_create(ms)
    roles.sync_roles()
    user = get_user_model().objects.create_user("quinn-bench", password="x")
    user.groups.add(Group.objects.get(name=roles.QUALITY_ENGINEER))
    from django.db import connection

    with connection.cursor() as c:
        c.execute("ANALYZE")
    return {
        "user": user,
        "part_type": pt,
        "station": station,
        "bore": bore,
        "outer": outer,
        "t_next": t0 + dt.timedelta(seconds=15 * total),
    }


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(ms: list[float]) -> str:
    s = sorted(ms)
    p95 = s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]
    return f"p50 {statistics.median(s):7.1f} ms  p95 {p95:7.1f} ms  max {s[-1]:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db-url", default=DEFAULT_DB_URL)
    parser.add_argument("--values", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    setup(args.db_url)
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from spc import actions
    from spc.models import Characteristic

    t = time.perf_counter()
    env = seed(args.values, args.small)
    print(f"seeded {args.values} parts ({args.values + args.small} measurements) in {time.perf_counter() - t:.0f} s")
    actions.sync_characteristics()
    client = Client()
    client.force_login(env["user"])
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared), PostgreSQL, {args.repeats} requests each after one warm-up"
    )
    chars = {}
    for feature, count in ((env["outer"], args.small), (env["bore"], args.values)):
        ch = Characteristic.objects.get(feature=feature)
        ch.study_size = 0  # capability over every value: the whole array, not a window
        ch.save()
        actions.freeze_limits(ch, actor=env["user"], baseline_size=125, baseline_start=0)  # Phase II: the rest
        chars[count] = ch
    from spc import selectors

    for count, ch in chars.items():
        assert selectors.analyse(ch).total_values == count
        api = reverse("api-spc-characteristic", args=[ch.pk])
        page = ch.get_absolute_url()
        r = client.get(api)
        assert r.status_code == 200, r.status_code
        print(f"{count:>7} values  API  {pct(timed(lambda api=api: client.get(api), args.repeats))}")
        print(f"{count:>7} values  page {pct(timed(lambda page=page: client.get(page), args.repeats))}")
        print(
            f"{count:>7} values  CSV  {pct(timed(lambda ch=ch: client.get(reverse('spc-chart-csv', args=[ch.pk])), 3))}"
        )
    summary = reverse("spc-part-type", args=[env["part_type"].code])
    print(f"summary of both     {pct(timed(lambda: client.get(summary), args.repeats))}")
    print(
        f"watch_spc pass      {pct(timed(lambda: call_command('watch_spc', '--once', stdout=open(os.devnull, 'w')), 3))}"
    )


if __name__ == "__main__":
    main()

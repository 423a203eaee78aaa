"""Ingest-path benchmark: edge results through Redis and Celery ingest workers into PostgreSQL.

    .venv/bin/python bench/ingest.py [--results 6000] [--rate 500] [--workers 2] [--image real|small] [--write-docs]

Full path, real parts: a producer sends `inspection.tasks.ingest_result` messages (valid InspectionResult payloads,
each with its own PNG image) to a private redis-server at a paced rate; `--workers` Celery ingest workers
(`celery -A twinweb worker -Q ingest --pool solo`, one process each) validate and store them with
`record_inspection_result` (image file under its hash, inspection, measurements, audit record, live event after
commit) in the PostgreSQL database `twinweb_bench_ingest` (dropped and re-created).

Reported: sustained results/s (results committed / time from first send to last commit), p50/p99/max latency
from `sent_at` (stamped by the producer just before sending) to `committed_at` (stamped by the worker's commit
hook, read from the live events on the cell's channel-layer group), and a count check: rows stored vs sent,
distinct result ids, dead letters.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import re
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/twinweb_bench_ingest"
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Ingest path (`bench/ingest.py`)"
DEVICE = "jetson-bench-01"


# --- environment ----------------------------------------------------------------------------------------


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    from twinweb.embedded_redis import redis_server_executable

    sock = workdir / "redis.sock"
    proc = subprocess.Popen(
        [
            redis_server_executable(),
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--dir",
            str(workdir),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--logfile",
            str(workdir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    for _ in range(100):
        try:
            if redis.Redis(unix_socket_path=str(sock)).ping():
                return proc, sock
        except redis.RedisError:
            time.sleep(0.05)
    raise RuntimeError("private redis-server did not start")


def ensure_database(db_url: str) -> None:
    import psycopg

    base, name = db_url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(db_url: str, redis_sock: Path, media: Path) -> dict[str, str]:
    env = {
        "DATABASE_URL": db_url,
        "REDIS_URL": f"unix://{redis_sock}",
        "MEDIA_ROOT": str(media),
        "DJANGO_SETTINGS_MODULE": "twinweb.settings",
        "CHANNEL_LAYER_PREFIX": "twinweb-bench",
        "LOG_LEVEL": "WARNING",
        "CELERY_VISIBILITY_TIMEOUT_S": "300",
    }
    os.environ.update(env)
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()
    return env


# --- data -----------------------------------------------------------------------------------------------


def png_with_id(base_png: bytes, tag: str) -> bytes:
    """The same picture with a tEXt chunk naming the result: a distinct file (and hash) per result, as in the
    plant where every capture is a new photo."""
    data = b"result\x00" + tag.encode()
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data) & 0xFFFFFFFF)
    iend = base_png.rindex(b"IEND") - 4
    return base_png[:iend] + chunk + base_png[iend:]


def seed(parts: int) -> tuple[int, list[str]]:
    from inspection.actions.edge import register_edge_device
    from inspection.actions.edge_auth import ensure_edge_secret
    from traceability import actions
    from traceability.choices import StationKind
    from traceability.models import Area, Cell, Line, Part, PartType, Site, Station

    site = actions.save_record(Site(code="bench", name="Bench plant"), actor=None)
    area = actions.save_record(Area(site=site, code="hvac", name="HVAC"), actor=None)
    line = actions.save_record(Line(area=area, code="line-1", name="Line 1"), actor=None)
    cell = actions.save_record(Cell(line=line, code="bench-cell", name="Bench cell"), actor=None)
    for pos, (code, kind) in enumerate(
        [
            ("load", StationKind.LOADING),
            ("visual", StationKind.VISUAL_INSPECTION),
            ("dimensional", StationKind.DIMENSIONAL_INSPECTION),
            ("cobot", StationKind.FAILURE_ANALYSIS),
            ("unload", StationKind.UNLOADING),
        ],
        1,
    ):
        actions.save_record(Station(cell=cell, code=code, name=code.title(), kind=kind, position=pos), actor=None)
    device, _ = register_edge_device(DEVICE, cell=cell, actor=None)  # type: ignore[arg-type]
    ensure_edge_secret(device, actor=None)  # the producer signs as this device
    part_type = actions.save_record(
        PartType(
            code="CF-80", name="Compressor flange 80", drawing_number="DRW-CF-0080", revision="C", gtin="07891234000014"
        ),
        actor=None,
    )
    batch = actions.create_batch(
        batch_number="BENCH-1", part_type=part_type, cell=cell, planned_quantity=parts, actor=None
    )  # type: ignore[arg-type]
    now = dt.datetime.now(dt.timezone.utc)
    Part.objects.bulk_create(
        [
            Part(serial=f"CF-80-BENCH-{n:06d}", part_type=part_type, batch=batch, created_at=now, status_changed_at=now)  # type: ignore[misc]
            for n in range(parts)
        ]
    )
    return cell.pk, [f"CF-80-BENCH-{n:06d}" for n in range(parts)]


def build_payloads(count: int, serials: list[str], image: str, defect_rate: float) -> list[dict[str, Any]]:
    import hashlib
    import random

    from edge_worker.contracts.inspection import MeasurementRow, ModelRef, PowerSummary, InspectionResult, encode_image
    from edge_worker.vision.inspect import inspect_image
    from edge_worker.vision.parts import DEMO_PART_TYPES
    from edge_worker.vision.render import encode_png, render_part

    import numpy as np

    spec = DEMO_PART_TYPES["CF-80"]
    if image == "real":
        base = encode_png(render_part(spec, seed=3).image)
    else:
        base = encode_png(np.random.default_rng(3).integers(0, 255, size=(32, 32), dtype=np.uint8))
    outcome = inspect_image(encode_png(render_part(spec, seed=3).image), spec, classifier=None)
    rows = tuple(MeasurementRow.from_vision(r) for r in outcome.measurements)
    rng = random.Random(5)
    t0 = dt.datetime.now(dt.timezone.utc)
    payloads = []
    for n in range(count):
        result_id = uuid.uuid4()
        png = png_with_id(base, str(result_id))
        fail = rng.random() < defect_rate
        captured = t0 + dt.timedelta(milliseconds=n)
        payloads.append(
            InspectionResult(
                result_id=result_id,
                capture_id=uuid.uuid4(),
                device_id=DEVICE,
                serial=serials[n % len(serials)],
                station="visual" if n % 2 else "dimensional",
                verdict="fail" if fail else "pass",
                reason="defect scratch (0.97)" if fail else "",
                measurements=rows,
                findings=[{"kind": "defect", "name": "scratch", "bbox": [100, 100, 300, 300], "confidence": 0.97}]
                if fail
                else [],
                defect_class="scratch" if fail else "ok",
                defect_confidence=0.97,
                class_probabilities={"ok": 0.03, "scratch": 0.97} if fail else {"ok": 0.97, "scratch": 0.03},
                model=ModelRef("bench", "0" * 64, "none", "", "", "cpu"),
                latency_ms=40.0,
                timings_ms={"measure": 40.0},
                power=PowerSummary.not_measured("bench payload"),
                image_png_b64=encode_image(png),
                image_sha256=hashlib.sha256(png).hexdigest(),
                captured_at=captured,
                inspected_at=captured,
            ).to_dict()
        )
    return payloads


# --- CPU accounting (machine-load independent: CPU seconds each part of the path spent per result) ---------


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def group_pids(leader: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == leader:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def postgres_backends(db_name: str) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [db_name])
        return [row[0] for row in cursor.fetchall()]


def cpu_snapshot(parts: dict[str, list[int]]) -> dict[str, dict[int, float]]:
    return {name: {pid: cpu_seconds(pid) for pid in pids} for name, pids in parts.items()}


def cpu_used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    return {name: sum(after[name].get(pid, 0.0) - t for pid, t in before[name].items()) for name in before}


# --- latency listener (a child process: reads the live events the workers publish after commit) ------------


async def listen(group: str, out: Path, expected: int, timeout_s: float) -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    out.with_suffix(".ready").write_text("1")
    seen: list[tuple[str, str, str]] = []
    deadline = time.monotonic() + timeout_s
    with open(out, "w") as handle:
        while len(seen) < expected and time.monotonic() < deadline:
            try:
                message = await asyncio.wait_for(layer.receive(channel), timeout=max(0.1, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                break
            event = message.get("event", {})
            if event.get("type") == "inspection.recorded":
                seen.append((event["result_id"], event["sent_at"], event["committed_at"]))
                handle.write(json.dumps(seen[-1]) + "\n")


# --- run ------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="tw-bench-ingest-"))
    redis_proc, sock = start_redis(work)
    children: list[subprocess.Popen[bytes]] = []
    try:
        if "django.apps" in sys.modules and sys.modules["django.apps"].apps.ready:
            from django.db import connections

            connections.close_all()  # a previous run's connection would be cut by DROP DATABASE ... FORCE
        ensure_database(args.db_url)
        env = setup_django(args.db_url, sock, work / "media")
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        cell_id, serials = seed(args.parts)
        from edge_worker.contracts.queues import INGEST_RESULT_TASK, INGEST_RESULTS_TASK
        from edge_worker.credentials import Credentials
        from inspection.actions.edge_auth import current_secret
        from inspection.models import EdgeDevice

        secret = current_secret(EdgeDevice.objects.get(device_id=DEVICE))
        assert secret is not None
        credentials = Credentials(DEVICE, secret)
        print(f"seeded {len(serials)} parts; building {args.results} payloads ({args.image} images)", flush=True)
        payloads = build_payloads(args.results, serials, args.image, args.defect_rate)
        image_bytes = statistics.mean(len(p["image_png_b64"]) * 3 // 4 for p in payloads[:50])
        message_bytes = statistics.mean(len(json.dumps(p)) for p in payloads[:50])
        from django.db import connections

        connections.close_all()

        child_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1", "TWINWEB_INGEST_BATCH": str(args.batch)}
        events = work / "events.jsonl"
        listener = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--listen",
                f"cell.{cell_id}",
                "--listen-out",
                str(events),
                "--results",
                str(args.results),
                "--listen-timeout",
                str(args.timeout + 60),
            ],
            env=child_env,
            start_new_session=True,
        )
        children.append(listener)
        for n in range(args.workers):
            log = open(work / f"worker-{n}.log", "wb")
            children.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "twinweb",
                        "worker",
                        "-Q",
                        "ingest",
                        "--pool",
                        args.pool,
                        "--concurrency",
                        str(args.concurrency),
                        "-n",
                        f"bench-{n}@%h",
                        "--without-gossip",
                        "--without-mingle",
                        "--without-heartbeat",
                        "--prefetch-multiplier",
                        str(args.prefetch),
                        "--loglevel",
                        "WARNING",
                    ],
                    env=child_env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    cwd=ROOT,
                )
            )
        for _ in range(300):
            if events.with_suffix(".ready").exists():
                break
            time.sleep(0.1)
        time.sleep(args.warmup_s)  # workers connected and idle

        from celery import Celery

        from inspection.models import DeadLetter, Inspection

        app = Celery("bench-producer", broker=f"redis+socket://{sock}")
        workers = children[1:]
        accounted = {
            "ingest workers": [pid for w in workers for pid in group_pids(w.pid)],
            "PostgreSQL backends": postgres_backends(args.db_url.rsplit("/", 1)[1]),
            "redis-server": [redis_proc.pid],
            "producer (edge side)": [os.getpid()],
            "latency listener": [listener.pid],
        }
        before_cpu = cpu_snapshot(accounted)
        period = 1.0 / args.rate if args.rate > 0 else 0.0
        print(f"sending {args.results} results at {args.rate or 'max'}/s to {args.workers} worker(s)", flush=True)
        first_sent = time.time()
        next_at = time.monotonic()
        wire_batch = max(1, args.wire_batch)
        with app.producer_or_acquire() as producer:
            for start in range(0, len(payloads), wire_batch):
                if period:
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    next_at += period * wire_batch
                messages = []
                for payload in payloads[start : start + wire_batch]:
                    payload["sent_at"] = dt.datetime.now(dt.timezone.utc).isoformat()
                    messages.append(credentials.sign(payload, INGEST_RESULT_TASK))  # as the edge signs it
                if wire_batch == 1:
                    app.send_task(INGEST_RESULT_TASK, args=messages, queue="ingest", producer=producer)
                else:  # as an edge device with a backlog sends them (edge_worker.messaging.ResultSender)
                    app.send_task(INGEST_RESULTS_TASK, args=[messages], queue="ingest", producer=producer)
        last_sent = time.time()
        deadline = time.monotonic() + args.timeout
        stored = 0
        while time.monotonic() < deadline:
            stored = Inspection.objects.count()
            if stored >= args.results:
                break
            time.sleep(0.2)
        # Workers open their database connections on their first task: count backends that appeared since.
        late = [
            pid
            for pid in postgres_backends(args.db_url.rsplit("/", 1)[1])
            if pid not in before_cpu["PostgreSQL backends"]
        ]
        before_cpu["PostgreSQL backends"].update({pid: 0.0 for pid in late})
        after_cpu = cpu_snapshot({name: list(pids) for name, pids in before_cpu.items()})
        listener.wait(timeout=max(5.0, args.timeout))
        lines = [json.loads(line) for line in events.read_text().splitlines()] if events.exists() else []
        latencies = sorted(
            (dt.datetime.fromisoformat(c) - dt.datetime.fromisoformat(s)).total_seconds() * 1000 for _, s, c in lines
        )
        last_commit = max((dt.datetime.fromisoformat(c).timestamp() for _, _, c in lines), default=time.time())
        distinct = Inspection.objects.values("result_id").distinct().count()
        dead = DeadLetter.objects.count()
        sent_ids = {p["result_id"] for p in payloads}
        stored_ids = {str(r) for r in Inspection.objects.values_list("result_id", flat=True)}
        elapsed = last_commit - first_sent

        def pct(q: float) -> float:
            return (
                latencies[min(len(latencies) - 1, int(round(q * (len(latencies) - 1))))] if latencies else float("nan")
            )

        return {
            "results": args.results,
            "workers": args.workers,
            "rate": args.rate,
            "image": args.image,
            "image_bytes": int(image_bytes),
            "message_bytes": int(message_bytes),
            "prefetch": args.prefetch,
            "pool": args.pool,
            "concurrency": args.concurrency,
            "batch": args.batch,
            "wire_batch": args.wire_batch,
            "send_s": last_sent - first_sent,
            "elapsed_s": elapsed,
            "throughput": stored / elapsed if elapsed > 0 else 0,
            "stored": stored,
            "distinct": distinct,
            "missing": len(sent_ids - stored_ids),
            "dead_letters": dead,
            "latency_samples": len(latencies),
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": latencies[-1] if latencies else float("nan"),
            "cpu_ms_per_result": {
                k: round(v * 1000 / max(1, stored), 3) for k, v in cpu_used(before_cpu, after_cpu).items()
            },
        }
    finally:
        for child in children:
            try:
                os.killpg(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        redis_proc.terminate()
        redis_proc.wait(10)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pg = "?"
    try:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            pg = cursor.fetchone()[0]
    except Exception:
        pass
    from twinweb.embedded_redis import redis_server_executable

    redis_version = subprocess.run(
        [redis_server_executable(), "--version"], capture_output=True, text=True
    ).stdout.split()[2]
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL {pg}, "
        f"redis-server {redis_version.removeprefix('v=')}; load average after the run {load}"
    )


SERVER_SIDE = ("ingest workers", "PostgreSQL backends", "redis-server")


def cpu_md(rows: list[dict[str, Any]]) -> str:
    names = list(rows[0]["cpu_ms_per_result"])
    lines = [
        "| run | " + " | ".join(names) + " | server side total | 2 dedicated cores at this cost (derived) |",
        "|---|" + "---|" * (len(names) + 2),
    ]
    for r in rows:
        cpu = r["cpu_ms_per_result"]
        server = sum(cpu[n] for n in SERVER_SIDE)
        rate = format(r["rate"], "g") if r["rate"] else "max"
        lines.append(
            f"| {r['image']} @ {rate} | "
            + " | ".join(f"{cpu[n]:.2f}" for n in names)
            + f" | {server:.2f} | {2000 / server:.0f} results/s |"
        )
    return "\n".join(lines)


def report_md(rows: list[dict[str, Any]], commands: list[str]) -> str:
    lines = [
        "| results | offered rate /s | workers x pool (threads) | group commit | image (bytes) | message (bytes) | sustained results/s | p50 ms | p99 ms | max ms | stored / distinct / missing / dead letters |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['results']} | {format(r['rate'], 'g') if r['rate'] else 'max'} | {r['workers']} x {r['pool']} ({r['concurrency'] if r['pool'] == 'threads' else 1}) | "
            f"{r['batch'] if r['batch'] > 1 else 'off'} | {r['image']} ({r['image_bytes']}) | {r['message_bytes']} | "
            f"**{r['throughput']:.0f}** | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['max_ms']:.0f} | "
            f"{r['stored']} / {r['distinct']} / {r['missing']} / {r['dead_letters']} (latency from {r['latency_samples']} live events) |"
        )
    return "\n".join(lines)


def write_docs(body: str) -> None:
    text = DOCS.read_text()
    pattern = re.compile(re.escape(SECTION) + r".*?(?=^## |\Z)", re.S | re.M)
    if not pattern.search(text):
        raise SystemExit(f"section {SECTION!r} not found in {DOCS}")
    DOCS.write_text(pattern.sub(lambda _: body.rstrip() + "\n\n", text, count=1))
    print(f"wrote {SECTION} in {DOCS}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=int, default=6000)
    p.add_argument("--parts", type=int, default=1000)
    p.add_argument(
        "--rate", default="500", help="Offered results per second (0: as fast as possible); a comma list runs each."
    )
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--prefetch", type=int, default=2)
    p.add_argument("--pool", choices=["solo", "threads"], default="threads")
    p.add_argument("--concurrency", type=int, default=32, help="Threads per worker (threads pool).")
    p.add_argument("--batch", type=int, default=64, help="TWINWEB_INGEST_BATCH: results per group commit (1: none).")
    p.add_argument(
        "--wire-batch",
        type=int,
        default=1,
        help="Results per message (1: one `ingest_result` each; N: `ingest_results` with N, as a device with a backlog).",
    )
    p.add_argument(
        "--image",
        default="real",
        help="real (a rendered 512x512 part, ~140 kB) or small (32x32); a comma list runs each.",
    )
    p.add_argument("--defect-rate", type=float, default=0.05)
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--warmup-s", type=float, default=3.0)
    p.add_argument("--db-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB_URL))
    p.add_argument("--write-docs", action="store_true")
    p.add_argument("--note", default="", help="Extra line for the docs section.")
    p.add_argument("--listen", help=argparse.SUPPRESS)
    p.add_argument("--listen-out", help=argparse.SUPPRESS)
    p.add_argument("--listen-timeout", type=float, default=600, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.listen:
        import django

        django.setup()
        asyncio.run(listen(args.listen, Path(args.listen_out), args.results, args.listen_timeout))
        return
    started = dt.datetime.now(dt.timezone.utc)
    rows = []
    for image in args.image.split(","):
        for rate in args.rate.split(","):
            one = argparse.Namespace(**{**vars(args), "image": image.strip(), "rate": float(rate)})
            rows.append(run(one))
            print(json.dumps(rows[-1], indent=2), flush=True)
    if args.write_docs:
        command = "  ".join(sys.argv)
        body = "\n".join(
            [
                SECTION,
                "",
                f"Command: `.venv/bin/python {' '.join(sys.argv)}`  ",
                f"Machine: {machine()}  ",
                f"Date: {started:%Y-%m-%d %H:%M} UTC",
                "",
                report_md(rows, [command]),
                "",
                "CPU milliseconds spent per stored result (utime + stime from /proc over the send-and-drain phase; "
                "PostgreSQL = the backends connected to the bench database; WAL writer and checkpointer not counted). "
                "The last column is derived, not measured: 2000 CPU-ms per second / server-side CPU-ms per result, "
                "i.e. what two cores doing nothing else could sustain at that cost per result. It is meaningful for the "
                "saturated runs (`max`), where group-commit batches fill; paced runs commit small batches and pay more "
                "per result.",
                "",
                cpu_md(rows),
                "",
                "Path measured: producer -> private redis-server (AOF on) -> Celery ingest worker(s) -> "
                "`record_inspection_result` (validation, image file under its sha256, one durable transaction with "
                "inspection, measurements, audit record; failure case and part status on fails) -> commit -> live event. "
                "Latency = `committed_at` (worker's commit hook) - `sent_at` (producer), read from the live events; "
                "sustained = results stored / (last commit - first send). Each result carries its own PNG (a distinct "
                "file and hash per result).",
                *([args.note] if args.note else []),
            ]
        )
        write_docs(body)


if __name__ == "__main__":
    main()

"""Cell-link benchmark: PLC tag change -> station event stored -> live event sent, and how many cells one gateway
process keeps up with.

    .venv/bin/python bench/gateway.py [--ticks 60] [--cells 1,10,25] [--seconds 40] [--write-docs]

Real parts: simulated PLCs are asyncua OPC UA servers in a child process (demo/plc.py, no Django); the gateways
(gateway/link.py, one CellGateway per cell, all in this process's event loop, as `run_cell_gateway` runs one) store
into PostgreSQL (`twinweb_bench_gateway`, dropped and re-created) and publish on a private redis-server.

1. Latency, one cell: the PLC stamps each event's time just before it writes the slot and raises EventSequence.
   Reported: p50/p95/p99 from that stamp to (a) the CycleRecord row's `received_at` (stamped inside the event's
   transaction, before its commit) and (b) the StationEntered/StationLeft live event arriving on the cell's
   channel-layer group (after commit), as a live page receives it.
2. Capacity: K cells at the deck's 15 s cycle would produce K x 10/15 events/s (5 stations, a start and an end each
   per takt). Each PLC runs at a speed-up factor so that K cells load the gateway process like `K x speed` cells
   at 15 s; the run passes when every event is stored (nothing behind) and p95 stays under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/twinweb_bench_gateway"
EVENTS_PER_TAKT = 10  # 5 stations, start and end

LISTENER_CHILD = r"""
import asyncio, datetime as dt, json, sys
sys.path.insert(0, sys.argv[1])
import django
django.setup()
from channels.layers import get_channel_layer
from twinweb.live import cell_group
async def main():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(cell_group(int(sys.argv[2])), channel)
    print("ready", flush=True)
    latencies = []
    loop = asyncio.get_running_loop()
    end = loop.time() + float(sys.argv[3])
    while loop.time() < end:
        try:
            message = await asyncio.wait_for(layer.receive(channel), timeout=0.5)
        except asyncio.TimeoutError:
            continue
        event = message.get("event") or {}
        if event.get("type") in ("station.entered", "station.left") and event.get("at"):
            latencies.append((dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(event["at"])).total_seconds())
    print(json.dumps(latencies), flush=True)
asyncio.run(main())
"""

PLC_CHILD = r"""
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
from demo.plc import PlcConfig, SimulatedPLC
spec = json.loads(sys.argv[2])
async def main():
    plcs = [SimulatedPLC(PlcConfig(**c)) for c in spec["plcs"]]
    for p in plcs:
        await p.start()
    print("ready", flush=True)
    await asyncio.sleep(spec["warmup_s"])
    stop = asyncio.Event()
    async def stopper():
        await asyncio.sleep(spec["seconds"]); stop.set()
    await asyncio.gather(stopper(), *[p.run(stop) for p in plcs])
    print(json.dumps({p.config.cell_code: p.sequences for p in plcs}), flush=True)
    await asyncio.sleep(spec["drain_s"])
    for p in plcs:
        await p.stop()
asyncio.run(main())
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def ensure_database(db_url: str) -> None:
    import psycopg

    base, name = db_url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def start_redis(work: Path) -> tuple[subprocess.Popen[bytes], Path]:
    import redis
    from twinweb.embedded_redis import redis_server_executable

    sock = work / "redis.sock"
    proc = subprocess.Popen(
        [redis_server_executable(), "--port", "0", "--unixsocket", str(sock), "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            if redis.Redis(unix_socket_path=str(sock)).ping():
                return proc, sock
        except redis.RedisError:
            time.sleep(0.05)
    raise RuntimeError("private redis-server did not start")


def make_cells(count: int) -> list[Any]:
    from inspection.models import EdgeDevice
    from tests.support import factories
    from traceability.models import PartType

    if not PartType.objects.filter(code="CF-80").exists():
        factories.make_part_type(code="CF-80")
    cells = []
    for index in range(count):
        cell = factories.make_cell(code=f"bench-cell-{index:03d}")
        EdgeDevice.objects.create(device_id=f"bench-edge-{index:03d}", cell=cell, name="bench")
        cells.append(cell)
    return cells


async def run_round(cells: list[Any], *, takt_s: float, seconds: float, port0: int) -> dict[str, Any]:
    from gateway.link import CellGateway, GatewayConfig
    from gateway.models import CycleRecord
    from traceability.models import Station

    def stations_of(cell: Any) -> list[tuple[str, str]]:
        return [(s.code, s.kind) for s in Station.objects.filter(cell=cell).order_by("position")]

    plcs = []
    for index, cell in enumerate(cells):
        plcs.append(
            {
                "cell_code": cell.code,
                "endpoint": f"opc.tcp://127.0.0.1:{port0 + index}/twinweb/",
                "stations": await asyncio.to_thread(stations_of, cell),
                "cycle_s": takt_s,
                "speed": 1.0,
                "part_types": ["CF-80"],
                "result_timeout_s": 0.0,
                "buffer_size": 64,
                "cobot_move_s": 0.0,
                "seed": index,
            }
        )
    spec = {"plcs": plcs, "seconds": seconds, "warmup_s": 3.0, "drain_s": 8.0}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PLC_CHILD, str(ROOT), json.dumps(spec), stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    assert (await child.stdout.readline()).strip() == b"ready"
    # The live page's side in its own process (its own event loop and channel-layer connections, as daphne's).
    listener = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LISTENER_CHILD,
        str(ROOT),
        str(cells[0].pk),
        str(spec["warmup_s"] + seconds + 6),
        stdout=asyncio.subprocess.PIPE,
    )
    assert listener.stdout is not None
    assert (await listener.stdout.readline()).strip() == b"ready"
    stop = asyncio.Event()
    gateways = [
        CellGateway(GatewayConfig(cell=c.code, endpoint=p["endpoint"], poll_s=1.0)) for c, p in zip(cells, plcs)
    ]
    started = time.monotonic()
    round_started = dt.datetime.now(dt.timezone.utc)
    tasks = [asyncio.create_task(g.run(stop)) for g in gateways]
    cpu0 = time.process_time()
    emitted = json.loads((await child.stdout.readline()).decode())
    await child.wait()
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    live_latency: list[float] = json.loads((await listener.stdout.readline()).decode() or "[]")
    await listener.wait()
    cpu_s = time.process_time() - cpu0

    def stored() -> tuple[int, list[float]]:
        rows = list(
            CycleRecord.objects.filter(station__cell__in=cells, received_at__gte=round_started).values_list(
                "source_timestamp", "received_at"
            )
        )
        return len(rows), [(r - s).total_seconds() for s, r in rows]

    count, latency = await asyncio.to_thread(stored)
    total_emitted = sum(sum(v.values()) for v in emitted.values())
    return {
        "cells": len(cells),
        "takt_s": takt_s,
        "emitted": total_emitted,
        "stored": count,
        "wall_s": round(time.monotonic() - started, 1),
        "gateway_cpu_ms_per_event": round(1000 * cpu_s / max(count, 1), 2),
        "record_p50_ms": round(1000 * percentile(latency, 50), 1),
        "record_p95_ms": round(1000 * percentile(latency, 95), 1),
        "record_p99_ms": round(1000 * percentile(latency, 99), 1),
        "live_events": len(live_latency),
        "live_p50_ms": round(1000 * percentile(live_latency, 50), 1),
        "live_p95_ms": round(1000 * percentile(live_latency, 95), 1),
        "live_p99_ms": round(1000 * percentile(live_latency, 99), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB_URL))
    parser.add_argument("--cells", default="1,10,25", help="Cell counts for the capacity rounds.")
    parser.add_argument("--speed", type=float, default=10.0, help="Speed-up of the capacity rounds' 15 s cycle.")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--latency-takt", type=float, default=0.5)
    args = parser.parse_args()
    ensure_database(args.db_url)
    work = Path(tempfile.mkdtemp(prefix="twinweb-bench-gateway-"))
    redis_proc, sock = start_redis(work)
    os.environ.update(
        {
            "DATABASE_URL": args.db_url,
            "REDIS_URL": f"unix://{sock}",
            "DJANGO_SETTINGS_MODULE": "twinweb.settings",
            "LOG_LEVEL": "ERROR",
            "CHANNEL_LAYER_PREFIX": "twinweb-bench",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        "PostgreSQL + private redis-server"
    )

    async def rounds() -> None:  # one event loop: the channel layer's connections belong to it
        cells = await asyncio.to_thread(make_cells, max(int(c) for c in args.cells.split(",")))
        port0 = 48400
        result = await run_round(cells[:1], takt_s=args.latency_takt, seconds=args.seconds, port0=port0)
        print("latency (1 cell, takt %.2f s): %s" % (args.latency_takt, json.dumps(result)), flush=True)
        for count in (int(c) for c in args.cells.split(",")):
            port0 += 100
            result = await run_round(cells[:count], takt_s=15.0 / args.speed, seconds=args.seconds, port0=port0)
            result["equivalent_cells_at_15s"] = round(count * args.speed)
            result["kept_up"] = result["stored"] == result["emitted"] and result["record_p95_ms"] < 1000
            print("capacity: %s" % json.dumps(result), flush=True)

    try:
        asyncio.run(rounds())
    finally:
        redis_proc.terminate()


if __name__ == "__main__":
    main()

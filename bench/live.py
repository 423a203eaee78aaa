"""Live view latency: one headless Chromium page plus N WebSocket clients on one cell while results flow.

    .venv/bin/python bench/live.py [--clients 50] [--results 200] [--rate 10] [--write-docs]

What runs (all real, on loopback): a fresh database (SQLite in a temporary directory unless --database-url), the
project's Redis (embedded or REDIS_URL) with a channel-layer prefix of this run's own, Daphne serving TwinWeb,
N WebSocket clients in a separate process (so their clocks are not held up by this process), and Chromium on the
live page. This process stores results through the real ingest action (`record_inspection_result`: validate,
store image, commit, stamp committed_at, publish), at --rate per second.

Reported: p50/p95/p99 of committed -> received by the WebSocket clients, of committed -> received and
committed -> DOM updated in the browser (after the next animation frame), and whether every client received
every event (no sequence gap, nothing coalesced). `--write-docs` replaces only the section
"## Live view latency (`bench/live.py`)" of docs/benchmarks.md.
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
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from tests.support import browser as chromium

BASE_DIR = Path(__file__).resolve().parents[1]
SECTION = "## Live view latency (`bench/live.py`)"


# --- WebSocket clients (child process) ------------------------------------------------------------------


async def _client(
    index: int,
    url: str,
    cookie: str,
    origin: str,
    ready: asyncio.Queue[int],
    stop: asyncio.Event,
    frames: list[dict[str, Any]],
) -> None:
    import websockets

    for attempt in range(6):  # as the page does: retry with backoff when the server is busy
        try:
            ws = await websockets.connect(
                url, additional_headers={"Cookie": cookie, "Origin": origin}, max_size=2**24, open_timeout=30
            )
            first = json.loads(await ws.recv())
            break
        except Exception as exc:
            frames.append({"type": "retry", "error": repr(exc), "recv_ms": time.time() * 1000})
            await asyncio.sleep(0.5 * 2**attempt)
    else:
        frames.append({"type": "error", "error": "could not connect", "recv_ms": time.time() * 1000})
        await ready.put(index)
        return
    async with ws:
        frames.append({"type": first["type"], "seq": first.get("seq"), "recv_ms": time.time() * 1000})
        await ready.put(index)
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except TimeoutError:
                continue
            now_ms = time.time() * 1000
            frame = json.loads(raw)
            if frame.get("type") != "event":
                continue
            event = frame.get("event", {})
            frames.append(
                {
                    "type": "event",
                    "seq": frame["seq"],
                    "recv_ms": now_ms,
                    "coalesced": frame.get("coalesced", 0),
                    "event": event.get("type"),
                    "result_id": event.get("result_id"),
                    "committed_at": event.get("committed_at"),
                    "sent_at": event.get("sent_at"),
                    "captured_at": event.get("captured_at"),
                    "published_at": frame.get("published_at"),
                }
            )


async def _clients_main(args: argparse.Namespace) -> None:
    ready: asyncio.Queue[int] = asyncio.Queue()
    stop = asyncio.Event()
    frames: list[list[dict[str, Any]]] = [[] for _ in range(args.clients)]
    tasks = []
    for i in range(args.clients):
        tasks.append(asyncio.create_task(_client(i, args.url, args.cookie, args.origin, ready, stop, frames[i])))
        await asyncio.sleep(0.02)  # browsers do not all open at the same millisecond
    for _ in range(args.clients):
        await ready.get()
    print("READY", flush=True)
    # Stop when told on stdin.
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    stop.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, BaseException):
            frames[index].append({"type": "error", "error": repr(outcome), "recv_ms": time.time() * 1000})
    Path(args.out).write_text(json.dumps(frames))
    print("DONE", flush=True)


# --- Orchestration --------------------------------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="twinweb-bench-live-"))
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["CHANNEL_LAYER_PREFIX"] = f"bench-{uuid.uuid4().hex[:8]}"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["MEDIA_ROOT"] = str(tmp / "media")
    os.environ["DJANGO_SETTINGS_MODULE"] = "twinweb.settings"
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    from inspection.actions.ingest import record_inspection_result
    from tests.support import factories
    from tests.support import ingest_builders as edge
    from tests.support import processes
    from traceability import roles
    from twinweb.live import current_sequence

    print(f"database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, redis {settings.REDIS_URL}")
    call_command("migrate", verbosity=0)
    cell = factories.make_cell(code=f"bench-{uuid.uuid4().hex[:6]}")
    user = factories.make_user(f"bench-{uuid.uuid4().hex[:6]}", roles.SUPERVISOR)
    edge.make_device(cell)
    batch = factories.make_batch(cell=cell)
    parts = [factories.make_part(batch) for _ in range(args.results)]
    images = [edge.png(seed=i) for i in range(args.results)]

    env = processes.child_env()
    env["MEDIA_ROOT"] = os.environ["MEDIA_ROOT"]
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API keeps a loop in this thread
    from playwright.sync_api import sync_playwright

    with processes.daphne(env, tmp / "daphne.log") as server, sync_playwright() as pw:
        cookie = chromium.session_cookie_for(user, server.url)
        clients = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--_clients",
                "--clients",
                str(args.clients),
                "--url",
                f"ws://127.0.0.1:{server.port}/ws/cells/{cell.pk}/",
                "--cookie",
                f"sessionid={cookie['value']}",
                "--origin",
                server.url,
                "--out",
                str(tmp / "clients.json"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=BASE_DIR,
        )
        assert clients.stdout is not None and clients.stdin is not None
        browser = chromium.launch(pw)
        context = browser.new_context(viewport={"width": 1920, "height": 1080})
        context.add_cookies([cookie])
        page = context.new_page()
        page.goto(f"{server.url}/cells/{cell.pk}/")
        page.wait_for_selector('#conn[data-state="live"]', timeout=30_000)
        print("browser live", flush=True)
        line = clients.stdout.readline().strip()
        print(f"clients: {line}", flush=True)
        if line != "READY":
            raise RuntimeError(f"WebSocket clients did not start: {line!r}")

        first_seq = current_sequence(cell.pk) + 1

        def store_results() -> tuple[list[str], float]:
            # In a thread of its own: Playwright's sync API keeps an event loop in the main thread, and the
            # publish helper must not run inside one.
            from django.db import connection

            interval = 1.0 / args.rate
            started = time.monotonic()
            ids: list[str] = []
            try:
                for i, part in enumerate(parts):
                    delay = started + i * interval - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    payload = edge.payload(
                        serial=part.serial,
                        station="visual",
                        verdict="fail" if i % 7 == 3 else "pass",
                        defect_class="scratch" if i % 7 == 3 else "ok",
                        captured_at=timezone.now(),
                        image=images[i],
                    )
                    inspection, created = record_inspection_result(payload)
                    assert created
                    ids.append(str(inspection.result_id))
            finally:
                connection.close()
            return ids, time.monotonic() - started

        with ThreadPoolExecutor(max_workers=1) as pool:
            result_ids, publish_s = pool.submit(store_results).result()
        last_seq = current_sequence(cell.pk)
        page.wait_for_timeout(3000)  # stragglers
        browser_rows = page.evaluate("window.__twin.latencies")
        browser_probe = page.evaluate(
            "({gaps: window.__twin.gaps, resyncs: window.__twin.resyncs, "
            "events: window.__twin.events, status: window.__twin.status})"
        )
        page.screenshot(path=str(tmp / "bench-live.png"))
        browser.close()
        clients.stdin.write("stop\n")
        clients.stdin.flush()
        clients.wait(timeout=60)
        frames: list[list[dict[str, Any]]] = json.loads((tmp / "clients.json").read_text())

    expected = set(range(first_seq, last_seq + 1))
    wanted = set(result_ids)
    ws_latency: list[float] = []
    complete_clients = 0
    coalesced_frames = 0
    missing_total = 0
    for client_frames in frames:
        events = [f for f in client_frames if f["type"] == "event"]
        seqs = {f["seq"] for f in events}
        missing = expected - seqs
        missing_total += len(missing)
        coalesced_frames += sum(1 for f in events if f.get("coalesced"))
        got = {f["result_id"] for f in events if f.get("event") == "inspection.recorded"}
        if not missing and wanted <= got:
            complete_clients += 1
        for f in events:
            if f.get("event") == "inspection.recorded" and f.get("committed_at") and f["result_id"] in wanted:
                ws_latency.append(f["recv_ms"] - dt.datetime.fromisoformat(f["committed_at"]).timestamp() * 1000)
    browser_mine = [r for r in browser_rows if r.get("result_id") in wanted and r.get("committed_at")]
    browser_recv = [r["received_at"] - r["committed_at"] for r in browser_mine]
    browser_dom = [r["dom_at"] - r["committed_at"] for r in browser_mine]
    return {
        "clients": args.clients,
        "results": args.results,
        "rate": args.rate,
        "publish_s": publish_s,
        "events": len(expected),
        "first_seq": first_seq,
        "last_seq": last_seq,
        "ws": {p: percentile(ws_latency, p) for p in (50, 95, 99)},
        "ws_max": max(ws_latency, default=None),
        "ws_samples": len(ws_latency),
        "complete_clients": complete_clients,
        "missing_total": missing_total,
        "coalesced_frames": coalesced_frames,
        "browser_recv": {p: percentile(browser_recv, p) for p in (50, 95, 99)},
        "browser_dom": {p: percentile(browser_dom, p) for p in (50, 95, 99)},
        "browser_dom_max": max(browser_dom, default=None),
        "browser_results": len({r["result_id"] for r in browser_mine}),
        "browser_probe": browser_probe,
        "connect_retries": sum(1 for c in frames for f in c if f["type"] == "retry"),
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "redis": "embedded redis-server (unix socket)"
        if settings.EMBEDDED_REDIS
        else "Redis " + settings.REDIS_URL.split("@")[-1],
        "machine": f"{platform.node()} · {platform.machine()} · {os.cpu_count()} CPUs · Python {platform.python_version()}",
        "loadavg": os.getloadavg(),
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "tmp": str(tmp),
    }


def markdown(r: dict[str, Any], command: str) -> str:
    ws, bd, br = r["ws"], r["browser_dom"], r["browser_recv"]
    verdict_ws = "meets" if ws[95] is not None and ws[95] < 250 and ws[99] < 500 else "misses"
    verdict_dom = "meets" if bd[95] is not None and bd[95] < 250 and bd[99] < 500 else "misses"
    complete = r["complete_clients"] == r["clients"] and r["browser_results"] == r["results"]
    return "\n".join(
        [
            SECTION,
            "",
            f"Command: `{command}`",
            "",
            f"Machine: {r['machine']}; load average before/while running {r['loadavg'][0]:.2f} (1 min), "
            f"shared with other work. Database {r['database']}, {r['redis']}, one Daphne process, loopback.",
            f"Run {r['when']}: {r['results']} results stored through the real ingest action at {r['rate']}/s "
            f"({r['publish_s']:.1f} s), {r['events']} events (seq {r['first_seq']}–{r['last_seq']}), "
            f"{r['clients']} WebSocket clients (separate process) + 1 headless Chromium page on the cell.",
            "",
            "| Path (ms, from the result's commit) | p50 | p95 | p99 | max | samples |",
            "|---|---|---|---|---|---|",
            f"| committed → received, {r['clients']} WebSocket clients | {_fmt(ws[50])} | {_fmt(ws[95])} | {_fmt(ws[99])} | "
            f"{_fmt(r['ws_max'])} | {r['ws_samples']} |",
            f"| committed → received, browser | {_fmt(br[50])} | {_fmt(br[95])} | {_fmt(br[99])} | – | {r['browser_results']} |",
            f"| committed → DOM updated (next animation frame), browser | {_fmt(bd[50])} | {_fmt(bd[95])} | {_fmt(bd[99])} | "
            f"{_fmt(r['browser_dom_max'])} | {r['browser_results']} |",
            "",
            f"Completeness: {r['complete_clients']}/{r['clients']} WebSocket clients received every event "
            f"({r['missing_total']} missing sequence numbers in all, {r['coalesced_frames']} coalesced frames, "
            f"{r['connect_retries']} connection retries); "
            f"the browser applied {r['browser_results']}/{r['results']} results "
            f"(gaps seen {r['browser_probe']['gaps']}, snapshot re-fetches {r['browser_probe']['resyncs']}). "
            f"{'Every client got every event.' if complete else 'NOT every client got every event.'}",
            "",
            f"Aim p95 < 250 ms and p99 < 500 ms: WebSocket clients {verdict_ws} it; browser DOM {verdict_dom} it.",
            "committed_at is stamped by the ingest action's on-commit hook just before `publish`; receive and DOM times "
            "are taken on the same machine's clock (loopback), so no clock offset applies.",
            "",
            "What made the difference (same command, earlier code, 2026-11-25 03:34 UTC, load 7.5): with every WebSocket "
            "consumer a member of the cell's channel-layer group, each event cost one Redis message and one blocking pop "
            "per client, and p50/p95/p99 committed → received was 630/1240/1356 ms. Now each Daphne process subscribes "
            "once per cell (`inspection.consumers.CellHub`) and fans events out in memory; consumers have no channel "
            "of their own. Figures move with the shared machine's load (1-min load average above).",
            "",
        ]
    )


def write_docs(text: str) -> None:
    path = BASE_DIR / "docs" / "benchmarks.md"
    content = path.read_text()
    start = content.index(SECTION)
    nxt = content.find("\n## ", start + len(SECTION))
    end = len(content) if nxt == -1 else nxt + 1
    path.write_text(content[:start] + text + ("\n" if nxt != -1 else "") + content[end:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--results", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0, help="results per second")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file in a temporary directory")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--_clients", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--cookie", help=argparse.SUPPRESS)
    parser.add_argument("--origin", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._clients:
        asyncio.run(_clients_main(args))
        return
    result = run(args)
    command = (
        "python bench/live.py " + " ".join(a for a in sys.argv[1:] if a != "--write-docs")
        if len(sys.argv) > 1
        else "python bench/live.py"
    )
    text = markdown(result, command.strip())
    print(text)
    print(f"(work files in {result['tmp']})")
    if args.write_docs:
        write_docs(text)
        print("docs/benchmarks.md updated")


if __name__ == "__main__":
    main()

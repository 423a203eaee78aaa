"""EPCIS export benchmark (PostgreSQL; the plant history of `bench/trace.py`).

Measures, on the recall of supplier lot LOT-S-00000 (10,000 parts reached, about 20,000 events):

- the CBV 2.0 event hash per event: GS1's reference package (`epcis-event-hash-generator`, over the whole
  document, as the export used it) against `traceability.epcis_hash` (both passes: document vocabulary, then
  hashes), and whether every hash is identical;
- the whole export, `manage.py export_epcis --lot LOT --output FILE`, each run in a fresh process: the time the
  command reports (trace, events, hashes, written file), the process's wall time and peak resident memory, for
  this checkout and, with --baseline, for another checkout of the code (the code before the change) run back to
  back with it; the two files must be the same document (creationDate aside);
- the same export for a smaller lot (--small-lot), so that memory per event shows;
- the API's streamed answer, over HTTP from a Daphne server of each checkout, and in process: time to the first
  byte and to the last;
- where the streamed export's memory goes (tracemalloc): the trace, the sort keys, the streaming.

    .venv/bin/python bench/trace.py --parts 100000 --no-epcis --db-url postgres://postgres@127.0.0.1:5432/twinweb_bench_epcis
    git worktree add /tmp/epcis-before 53248fa && ln -s "$PWD/.venv" /tmp/epcis-before/.venv
    .venv/bin/python bench/epcis_export.py --db-url postgres://postgres@127.0.0.1:5432/twinweb_bench_epcis \\
        --baseline /tmp/epcis-before --write-docs
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.trace import DEFAULT_DB_URL, machine, setup_django  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## EPCIS export (`bench/epcis_export.py`)"
REPORTED = re.compile(r"(\d+) events in ([\d.]+) s")


def export_in_fresh_process(checkout: Path, lot: str, db_url: str, output: Path) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")}
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "export_epcis", "--lot", lot, "--output", str(output)],
        cwd=checkout,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"export in {checkout} failed:\n{stderr}")
    reported = REPORTED.findall(stderr)
    if not reported:
        sys.exit(f"no 'N events in X s' from {checkout}:\n{stderr}")
    events, seconds = reported[-1]
    return {
        "events": int(events),
        "reported_s": float(seconds),
        "wall_s": wall,
        "rss_mib": usage.ru_maxrss / 1024,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


def same_document(a: Path, b: Path) -> bool:
    def without_creation_date(path: Path) -> bytes:
        return re.sub(rb'"creationDate": "[^"]*"', b"", path.read_bytes())

    return without_creation_date(a) == without_creation_date(b)


def hash_ratio(lot_key: str) -> dict[str, Any]:
    """Reference against fast hashes on the recall's events, in this process."""
    import logging

    from epcis_event_hash_generator import hash_generator, json_to_py

    from traceability import epcis, epcis_hash, genealogy, selectors

    trace = genealogy.forward_trace(selectors.lots().get(lot_key=lot_key))
    events = epcis.lot_events(trace)
    doc = {
        "@context": epcis.CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-01T00:00:00.000Z",
        "epcisBody": {"eventList": events},
    }
    logging.disable(logging.INFO)
    started = time.perf_counter()
    expected = hash_generator.epcis_hashes_from_events(
        json_to_py.event_list_from_epcis_document_json(json.loads(json.dumps(doc)))
    )
    reference_s = time.perf_counter() - started
    logging.disable(logging.NOTSET)
    fast_runs = []
    for _ in range(3):
        started = time.perf_counter()
        ours, hasher = epcis_hash.event_hash_ids(events, epcis.CONTEXT)
        fast_runs.append(time.perf_counter() - started)
    return {
        "events": len(events),
        "reference_s": reference_s,
        "fast_s": statistics.median(fast_runs),
        "identical": sum(a == b for a, b in zip(ours, expected)),
        "fast": hasher.fast,
        "fallbacks": hasher.fallbacks,
    }


def web_stream(lot_key: str) -> dict[str, Any]:
    """What the API does for GET /api/lots/<lot>/epcis/, in process: trace, then the streamed document."""
    from traceability import epcis, genealogy, selectors

    runs = []
    for _ in range(3):
        started = time.perf_counter()
        trace = genealogy.forward_trace(selectors.lots().get(lot_key=lot_key))
        epcis.check_web_export(trace)
        pieces = iter(epcis.streamed_lot_document(trace, style=epcis.WEB_STYLE))
        first = next(pieces)
        first_s = time.perf_counter() - started
        size = len(first) + sum(len(p) for p in pieces)
        runs.append((first_s, time.perf_counter() - started, size))
    return {
        "first_s": statistics.median(r[0] for r in runs),
        "total_s": statistics.median(r[1] for r in runs),
        "chars": runs[0][2],
    }


def api_token() -> str:
    """A token of an auditor (who may trace) in the bench database."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    from traceability import roles

    roles.sync_roles()
    user, _ = get_user_model().objects.get_or_create(username="bench-auditor")
    user.groups.add(Group.objects.get(name=roles.AUDITOR))
    return Token.objects.get_or_create(user=user)[0].key  # type: ignore[no-any-return]


def api_over_daphne(checkout: Path, lot_key: str, db_url: str, token: str, runs: int = 2) -> dict[str, Any]:
    """GET /api/lots/<lot>/epcis/ from a Daphne server of the checkout (TwinWeb's ASGI server), over HTTP."""
    import socket
    import urllib.error
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")}
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "twinweb.asgi:application",
        ],
        cwd=checkout,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    sys.exit(f"daphne of {checkout} did not start")
                time.sleep(0.3)
        results = []
        for _ in range(runs):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/lots/{lot_key}/epcis/", headers={"Authorization": f"Token {token}"}
            )
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    first = response.read(1)
                    first_s = time.perf_counter() - started
                    size = len(first) + len(response.read())
                    status = response.status
            except urllib.error.HTTPError as refused:
                first_s, size, status = time.perf_counter() - started, len(refused.read()), refused.code
            results.append(
                {"status": status, "first_s": first_s, "total_s": time.perf_counter() - started, "bytes": size}
            )
        return {
            "status": results[-1]["status"],
            "first_s": statistics.median(r["first_s"] for r in results),
            "total_s": statistics.median(r["total_s"] for r in results),
            "bytes": results[-1]["bytes"],
        }
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=20)


def memory_breakdown(lot_key: str) -> dict[str, float]:
    """Where the streamed export's memory goes, by tracemalloc (a separate run: it slows Python down)."""
    import tracemalloc

    from traceability import epcis, genealogy, selectors

    lot = selectors.lots().get(lot_key=lot_key)
    genealogy.forward_trace(lot)  # warm: querysets and caches that are no part of one export
    tracemalloc.start()
    trace = genealogy.forward_trace(lot)
    after_trace = tracemalloc.get_traced_memory()[0]
    events = epcis.LotEvents(trace)
    after_plan = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    for _ in epcis.StreamedDocument(events):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "events": len(events),
        "trace_mib": after_trace / 2**20,
        "plan_mib": (after_plan - after_trace) / 2**20,
        "stream_mib": (peak - after_plan) / 2**20,
    }


def write_docs(text: str) -> None:
    content = DOCS.read_text()
    if SECTION not in content:
        content = content.rstrip("\n") + "\n\n" + SECTION + "\n"
    start = content.index(SECTION)
    following = re.search(r"^## ", content[start + len(SECTION) :], flags=re.MULTILINE)
    end = start + len(SECTION) + following.start() if following else len(content)
    DOCS.write_text(content[:start] + SECTION + "\n\n" + text.strip() + "\n\n" + content[end:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB_URL))
    parser.add_argument("--lot", default="LOT-S-00000")
    parser.add_argument("--small-lot", default="LOT-SR-00000", help="a smaller recall, for memory per event")
    parser.add_argument("--baseline", type=Path, help="another checkout (the code before), run back to back")
    parser.add_argument("--runs", type=int, default=3, help="export runs per checkout and lot")
    parser.add_argument("--write-docs", action="store_true", help=f"replace {SECTION!r} in docs/benchmarks.md")
    args = parser.parse_args()
    setup_django(args.db_url)
    load_before = os.getloadavg()[0]

    checkouts = [("this checkout", ROOT)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    exports: dict[tuple[str, str], list[dict[str, Any]]] = {}
    identical: dict[str, bool] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for lot in (args.lot, args.small_lot):
            for run in range(args.runs):
                for name, checkout in checkouts if run % 2 == 0 else checkouts[::-1]:  # alternate who goes first
                    output = Path(tmp) / f"{name}-{lot}.jsonld"
                    result = export_in_fresh_process(checkout, lot, args.db_url, output)
                    exports.setdefault((name, lot), []).append(result)
                    print(f"{name:13} {lot}: {result}", flush=True)
            if args.baseline:
                identical[lot] = same_document(
                    Path(tmp) / f"this checkout-{lot}.jsonld", Path(tmp) / f"baseline-{lot}.jsonld"
                )
    hashes = hash_ratio(args.lot)
    print(f"hashes: {hashes}", flush=True)
    web = web_stream(args.lot)
    print(f"web: {web}", flush=True)
    memory = {lot: memory_breakdown(lot) for lot in (args.lot, args.small_lot)}
    print(f"memory: {memory}", flush=True)
    token = api_token()
    served = {name: api_over_daphne(checkout, args.lot, args.db_url, token) for name, checkout in checkouts}
    print(f"daphne: {served}", flush=True)

    def median(name: str, lot: str, key: str) -> float:
        return statistics.median(r[key] for r in exports[(name, lot)])

    rows = [
        "| code | lot | events | export, as reported, each run (s) | process wall, median (s) | process CPU, median (s) | peak RSS, median (MiB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for lot in (args.lot, args.small_lot):
        for name, _ in checkouts:
            rows.append(
                f"| {name} | {lot} | {exports[(name, lot)][0]['events']:,} | "
                + " / ".join(f"{r['reported_s']:.2f}" for r in exports[(name, lot)])
                + f" | {median(name, lot, 'wall_s'):.2f} | {median(name, lot, 'cpu_s'):.2f} | "
                f"{median(name, lot, 'rss_mib'):.0f} |"
            )
    per_event = {}
    for name, _ in checkouts:
        big, small = exports[(name, args.lot)][0]["events"], exports[(name, args.small_lot)][0]["events"]
        slope = (median(name, args.lot, "rss_mib") - median(name, args.small_lot, "rss_mib")) * 1024 / (big - small)
        per_event[name] = slope
    ratio = hashes["reference_s"] / hashes["fast_s"]
    recall_runs = [r["reported_s"] for r in exports[("this checkout", args.lot)]]
    typical = statistics.median(recall_runs)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    baseline_commit = (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=args.baseline, capture_output=True, text=True, check=False
        ).stdout.strip()
        if args.baseline
        else ""
    )
    lines = [
        "The recall export of a supplier lot that reached 10,000 parts. Before (the baseline): every event built in "
        "one list, hashed by GS1's reference package over the whole document (JSON-LD expansion of every event), "
        "the JSON text written in one piece. Now: CBV 2.0 hashes by `traceability/epcis_hash.py` (its own "
        "canonicalisation for the shapes TwinWeb writes; anything else goes to the reference code), and the "
        "document streamed (`traceability.epcis.StreamedDocument`: events built a chunk at a time, pieces of "
        '64 KiB). The EPCIS line of the "Trace queries" section (13.1 s, 1,000,000-part history) predates it.',
        "",
        "Commands: the plant history (100,000 parts; LOT-S-00000 reaches 10,000 of them), a checkout of the code "
        "before the change, then this script:",
        "",
        f"    .venv/bin/python bench/trace.py --parts 100000 --no-epcis --samples 20 --db-url {args.db_url}",
        f'    git worktree add --detach {args.baseline or "BASELINE"} 53248fa && ln -s "$PWD/.venv" '
        f"{args.baseline or 'BASELINE'}/.venv",
        "    .venv/bin/python " + " ".join(["bench/epcis_export.py", *sys.argv[1:]]),
        "",
        f"This checkout: commit {commit}"
        + (
            f"; baseline: {args.baseline} at commit {baseline_commit} (the export "
            "before this change), sharing the virtualenv"
            if args.baseline
            else ""
        )
        + ". Runs alternate between the two checkouts.",
        "",
        f"Machine: {machine()}. Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC. Load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (a shared machine: other work slows every figure).",
        "",
        f"CBV 2.0 event hashes of the {hashes['events']:,} events of {args.lot}'s recall, in one process: GS1's "
        f"reference package {hashes['reference_s'] * 1e6 / hashes['events']:.0f} µs per event "
        f"({hashes['reference_s']:.1f} s), `traceability.epcis_hash` {hashes['fast_s'] * 1e6 / hashes['events']:.1f} µs "
        f"per event ({hashes['fast_s']:.2f} s, median of 3, both passes): **{ratio:.0f}x faster**; "
        f"{hashes['identical']:,} of {hashes['events']:,} hashes identical; {hashes['fast']:,} events by the fast "
        f"path, {hashes['fallbacks']} by the reference.",
        "",
        "`manage.py export_epcis --lot LOT --output FILE`, each run a fresh process (the command's own time covers "
        "the trace, the events, the hashes and the written file; the process adds Django's start-up):",
        "",
        *rows,
        "",
        "Memory per event (difference of peak RSS between the two lots / difference of events): "
        + "; ".join(f"{name} {kib:.2f} KiB" for name, kib in per_event.items())
        + ". Where the streamed export's "
        "memory goes (tracemalloc, Python allocations): "
        + "; ".join(
            f"{lot} ({m['events']:,} events): the forward trace {m['trace_mib']:.1f} MiB, the sort keys "
            f"{m['plan_mib']:.1f} MiB, the streaming itself at most {m['stream_mib']:.1f} MiB more"
            for lot, m in memory.items()
        )
        + ".",
    ]
    if args.baseline:
        lines += [
            "",
            "Same document from both checkouts (creationDate aside): "
            + ", ".join(f"{lot} {'yes' if same else 'NO'}" for lot, same in identical.items())
            + ".",
        ]
    lines += [
        "",
        f"API, `GET /api/lots/{args.lot}/epcis/` with an auditor's token, over HTTP from a Daphne "
        "server of each checkout (median of 2): "
        + "; ".join(
            f"{name}: HTTP {r['status']}"
            + (
                f", first byte after {r['first_s']:.2f} s, {r['bytes'] / 1e6:.1f} MB after {r['total_s']:.2f} s"
                if r["status"] == 200
                else " (too large for the web: left to the command)"
            )
            for name, r in served.items()
        )
        + f". In process (the view's own work, median of 3): first piece after {web['first_s']:.2f} s, "
        f"the whole document after {web['total_s']:.2f} s.",
        "",
        f"Aim: the 10,000-part recall export in under 2 s: {'met' if typical < 2 else 'NOT met'} "
        f"(median {typical:.2f} s; runs {', '.join(f'{r:.2f}' for r in recall_runs)} s, the slowest "
        f"{'over' if max(recall_runs) >= 2 else 'under'} 2 s); hashes identical to the reference: "
        f"{'yes' if hashes['identical'] == hashes['events'] else 'NO'}.",
    ]
    text = "\n".join(lines)
    print()
    print(text)
    if args.write_docs:
        write_docs(text)
        print(f"wrote {SECTION!r} in {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Profile an edge device: every backend and precision it has, the deck's performance-per-watt table.

    python manage.py profile_edge --device jetson-demo-01 --wait      # the device's worker runs it
    python manage.py profile_edge --device jetson-demo-01 --inline    # this machine runs it, stored as that device

The job goes to the device's queue `edge.<device_id>`; its report comes back on `ingest` and is stored as a
profiling run (shown at /profiling/). --wait polls for the stored run and prints the table. --inline runs the
protocol in this process (no worker needed) and stores the report through the same action.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from edge_worker.contracts.queues import INGEST_QUEUE
from edge_worker.contracts.profiling import VARIANT_KEYS, ProfileConfig
from inspection.models import EdgeDevice
from profiling.actions import request_profiling_run, store_local_profiling_run
from profiling.choices import ProfilingRunStatus
from profiling.models import ProfilingRun
from profiling.selectors import markdown_table, run_table


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--device", required=True, help="Edge device id (its queue is edge.<id>).")
        parser.add_argument("--images", type=int, default=56, help="Labelled test images per round (default 56).")
        parser.add_argument("--warmup", type=int, default=1, help="Warm-up rounds (default 1).")
        parser.add_argument("--rounds", type=int, default=3, help="Real rounds, measured (default 3).")
        parser.add_argument("--batch-size", type=int, default=1)
        parser.add_argument("--seed", type=int, default=ProfileConfig.seed, help="Seed of the rendered test set.")
        parser.add_argument("--variants", default="", help=f"Comma-separated subset of: {', '.join(VARIANT_KEYS)}.")
        parser.add_argument(
            "--threads",
            type=int,
            default=None,
            help="CPU threads per backend (default: EDGE_WORKER_INFER_THREADS or min(CPUs, 4)).",
        )
        parser.add_argument("--sampler", default="auto", choices=["auto", "jtop", "nvml", "rapl", "none"])
        parser.add_argument("--power-rate", type=float, default=10.0, help="Power samples per second (default 10).")
        parser.add_argument(
            "--model-dir", default=None, help="Model directory on the device (default: the shipped model)."
        )
        parser.add_argument("--wait", action="store_true", help="Wait for the stored run and print its table.")
        parser.add_argument("--timeout", type=float, default=1800.0, help="Seconds --wait waits (default 1800).")
        parser.add_argument(
            "--inline", action="store_true", help="Run the protocol here instead of on the device's worker."
        )
        parser.add_argument(
            "--reply-queue",
            default=INGEST_QUEUE,
            help="Queue the device sends its report to (default ingest; a worker must consume it).",
        )
        parser.add_argument("--cell", default="", help="Register the device for this cell code if it is not known yet.")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            config = ProfileConfig(
                images=opts["images"],
                warmup=opts["warmup"],
                rounds=opts["rounds"],
                batch_size=opts["batch_size"],
                seed=opts["seed"],
                power_sampler=opts["sampler"],
                power_rate_hz=opts["power_rate"],
                variants=tuple(v.strip() for v in opts["variants"].split(",") if v.strip()),
                model_dir=opts["model_dir"],
                threads=opts["threads"],
            )
            from edge_worker.contracts.profiling import select_variants

            select_variants(config.variants)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        device = self._device(opts["device"], opts["cell"])
        if opts["inline"]:
            run = self._inline(device, config)
        else:
            run = request_profiling_run(device, config=config, actor=None, reply_queue=opts["reply_queue"])
            self.stdout.write(f"profiling run {run.run_id} sent to queue {device.queue_name}")
            if not opts["wait"]:
                self.stdout.write("it appears at /profiling/ when the device reports (or use --wait)")
                return
            run = self._wait(run, opts["timeout"])
        self._print(run)

    def _device(self, device_id: str, cell_code: str) -> EdgeDevice:
        device = EdgeDevice.objects.filter(device_id=device_id).first()
        if device is not None:
            return device
        if not cell_code:
            raise CommandError(
                f"no edge device {device_id!r}; register it (admin, seed_demo) or pass --cell <cell code>"
            )
        from inspection.actions.edge import register_edge_device
        from traceability.models import Cell

        cell = Cell.objects.filter(code=cell_code).first()
        if cell is None:
            raise CommandError(f"no cell {cell_code!r}")
        device, _created = register_edge_device(device_id, cell=cell, actor=None)
        return device

    def _inline(self, device: EdgeDevice, config: ProfileConfig) -> ProfilingRun:
        from edge_worker.profiling.tasks import run_profile

        run = request_profiling_run(device, config=config, actor=None, send=False)
        self.stdout.write(f"profiling run {run.run_id} inline on this machine, stored as device {device.device_id}")
        started = time.monotonic()
        report = run_profile(str(run.run_id), device.device_id, config.to_dict())  # no transaction open: slow work
        run, _created = store_local_profiling_run(report)  # measured here: no message to authenticate
        self.stdout.write(f"done in {time.monotonic() - started:.1f} s")
        return run

    def _wait(self, run: ProfilingRun, timeout_s: float) -> ProfilingRun:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.status != ProfilingRunStatus.QUEUED:
                return run
            time.sleep(1.0)
        raise CommandError(
            f"run {run.run_id} not reported within {timeout_s:.0f} s (is the worker of "
            f"{run.device.queue_name} running? python -m edge_worker.worker --device {run.device.device_id})"
        )

    def _print(self, run: ProfilingRun) -> None:
        run = ProfilingRun.objects.select_related("device").prefetch_related("variants").get(pk=run.pk)
        self.stdout.write(f"\nrun {run.run_id} on {run.device.device_id} ({run.hardware}): {run.status}")
        if run.error:
            self.stdout.write(self.style.ERROR(f"error: {run.error}"))
        self.stdout.write(f"power: {run.power_source}\n")
        self.stdout.write(markdown_table(run))
        table = run_table(run)
        for v in table.unavailable:
            self.stdout.write(f"- {v.label or v.key}: not run: {v.reason}")
        for note in table.power_notes:
            self.stdout.write(f"- power {note}")

"""`python manage.py run_demo` (what `make demo` runs): the whole product on one machine.

Starts, each in its own process group:
    web        daphne twinweb.asgi:application on 127.0.0.1:8000
    ingest     Celery worker on the `ingest` queue (results, telemetry, cobot acknowledgements)
    edge       the edge worker (python -m edge_worker.worker) on `edge.<device>` and `cobot.<cell code>`, given the
               device's secret (issued on the first run) in TWINWEB_EDGE_SECRET
    andon      python manage.py watch_andon (raises and clears the andon alarms)
    spc        python manage.py watch_spc (SPC run rules on new measurements; raises SPC andon alarms)
    models     python manage.py watch_model_overrides (rolls a new champion model back on the operators' override rate)
    training   Celery worker on the `training` queue (when PyTorch is installed: training from /modelops/)
    plc        python manage.py run_cell_plc: the simulated PLC, an OPC UA server on 127.0.0.1:4840 (with the cobot)
    gateway    python manage.py run_cell_gateway: the cell's OPC UA link, the production path from PLC tags to the
               twin (capture commands to the edge device, whose demo camera renders the part; verdicts back to the
               PLC; the cobot's commands as method calls)

Ctrl-C (or SIGTERM) stops them all: SIGTERM to every group, SIGKILL to whatever is left after --stop-timeout.
The embedded redis-server (no REDIS_URL) is held by this command from the start (the edge worker, which has no
Django, cannot hold it itself) and stopped after the children, unless another process still holds it (its queue
is kept on disk, in var/redis/appendonly.aof, for the next run).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from edge_worker.contracts.queues import cobot_queue
from twinweb import embedded_redis

DEMO_CELL = "ac-cell-1"
DEMO_USERS = ("olivia (operator)", "sam (supervisor)", "ada (auditor)", "quinn (quality engineer)", "admin (admin)")
DEMO_PASSWORD = "twinweb-demo"


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    essential: bool = True
    env: dict[str, str] = field(default_factory=dict)  # on top of the shared environment


def start(child: Child, env: dict[str, str]) -> None:
    # A new session = a new process group: one signal reaches the child and everything it spawned.
    child.process = subprocess.Popen(child.argv, env={**env, **child.env}, start_new_session=True)


def stop_all(children: list[Child], timeout_s: float, log: Any = print) -> None:
    """SIGTERM every process group, wait up to `timeout_s`, then SIGKILL the groups still alive."""
    running = [c for c in children if c.process is not None and c.process.poll() is None]
    for child in running:
        assert child.process is not None
        try:
            os.killpg(child.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout_s
    for child in running:
        assert child.process is not None
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log(f"  {child.name} did not stop within {timeout_s:.0f} s: killing it")
    for child in children:
        if child.process is None:
            continue
        try:  # the group may hold grandchildren even when its leader exited
            os.killpg(child.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if child.process.poll() is None:
            child.process.wait(timeout=5)


class Command(BaseCommand):
    help = "Run the web server, the ingest worker, one edge worker and the cell simulator together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--device", default=settings.TWINWEB_EDGE_DEVICE)
        parser.add_argument("--cell", default=DEMO_CELL)
        parser.add_argument("--speed", type=float, default=1.0, help="Simulator speed-up factor (default 1).")
        parser.add_argument("--defect-rate", type=float, default=0.1)
        parser.add_argument("--parts", type=int, default=None, help="Stop the simulator after N parts.")
        parser.add_argument(
            "--no-simulator", action="store_true", help="Run neither the simulated PLC nor the gateway."
        )
        parser.add_argument("--plc-port", type=int, default=4840, help="The simulated PLC's OPC UA port.")
        parser.add_argument(
            "--no-profile",
            action="store_true",
            help="Do not queue the first edge profiling run (queued only when the device has none).",
        )
        parser.add_argument("--stop-timeout", type=float, default=10.0, help="Seconds between SIGTERM and SIGKILL.")

    def handle(self, *args: Any, **options: Any) -> None:
        from inspection.actions.edge import register_edge_device
        from inspection.actions.edge_auth import ensure_edge_secret
        from traceability.models import Cell

        embedded_redis.needed()
        cell = Cell.objects.filter(code=options["cell"]).first()
        if cell is None:
            raise CommandError(
                f"cell {options['cell']} not found: run `python manage.py seed_demo` first (make demo does)"
            )
        device, created = register_edge_device(options["device"], cell=cell, actor=None, name="Demo Jetson")
        if created:
            self.stdout.write(f"Registered edge device {device.device_id} for cell {cell.code}.")
        # The edge worker signs everything it sends and verifies the cobot's commands with the device's secret: the
        # demo hands it the current one (issuing a first one if need be), as an installer puts it on a Jetson.
        edge_secret = ensure_edge_secret(device, actor=None)

        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        children = [
            Child(
                "web",
                [python, "-m", "daphne", "-b", options["host"], "-p", str(options["port"]), "twinweb.asgi:application"],
            ),
            Child(
                "ingest",
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "twinweb",
                    "worker",
                    "-Q",
                    "ingest",
                    "--pool",
                    "solo",
                    "-n",
                    "ingest@%h",
                    "--loglevel",
                    "INFO",
                    "--without-gossip",
                    "--without-mingle",
                ],
            ),
            # The edge worker asks the server for its models (deployments from /modelops/) at start and every minute.
            Child(
                "edge",
                [python, "-m", "edge_worker.worker", "--device", device.device_id, "--queues", cobot_queue(cell.code)],
                env={
                    "TWINWEB_EDGE_SECRET": edge_secret.text(),
                    "TWINWEB_SERVER_URL": f"http://{options['host']}:{options['port']}/",
                },
            ),
        ]
        children.append(Child("andon", [python, manage, "watch_andon", "--interval", "5"], essential=False))
        children.append(Child("spc", [python, manage, "watch_spc", "--interval", "5"], essential=False))
        children.append(Child("models", [python, manage, "watch_model_overrides", "--interval", "60"], essential=False))
        training = importlib.util.find_spec("torch") is not None
        if training:  # a quality engineer trains a candidate model from /modelops/ (minutes of CPU)
            children.append(
                Child(
                    "training",
                    [
                        python,
                        "-m",
                        "celery",
                        "-A",
                        "twinweb",
                        "worker",
                        "-Q",
                        settings.TWINWEB_TRAINING_QUEUE,
                        "--pool",
                        "solo",
                        "-n",
                        "training@%h",
                        "--loglevel",
                        "INFO",
                        "--without-gossip",
                        "--without-mingle",
                    ],
                    essential=False,
                )
            )
        endpoint = f"opc.tcp://127.0.0.1:{options['plc_port']}/twinweb/"
        if not options["no_simulator"]:
            plc = [
                python,
                manage,
                "run_cell_plc",
                "--cell",
                cell.code,
                "--endpoint",
                endpoint,
                "--speed",
                str(options["speed"]),
            ]
            if options["parts"]:
                plc += ["--parts", str(options["parts"])]
            children.append(Child("plc", plc, essential=False))
            children.append(
                Child("gateway", [python, manage, "run_cell_gateway", "--cell", cell.code, "--endpoint", endpoint])
            )

        # The edge worker has no Django settings: it is told the broker (the embedded one, unless REDIS_URL is set).
        # The demo camera (the renderer) draws the part each serial stands for; the cobot is driven over OPC UA.
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "twinweb.settings",
            "TWINWEB_BROKER_URL": settings.CELERY_BROKER_URL,
            "TWINWEB_COBOT_LINK": "opcua",
            "TWINWEB_CAMERA_RENDER_DEFECT_RATE": str(options["defect_rate"]),
        }
        stopping = False

        def on_signal(signum: int, _frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        for child in children:
            start(child, env)
        url = f"http://{options['host']}:{options['port']}/"
        self.stdout.write(self.style.SUCCESS(f"\nTwinWeb demo running at {url}"))
        self.stdout.write(f"  users ({DEMO_PASSWORD}): " + ", ".join(DEMO_USERS))
        self.stdout.write(
            f"  edge device {device.device_id} on queues edge.{device.device_id}, {cobot_queue(cell.code)}"
        )
        if not options["no_simulator"]:
            self.stdout.write(f"  simulated PLC on {endpoint}, linked by the cell gateway (OPC UA)")
        if not training:
            self.stdout.write(
                "  model training off: PyTorch is not installed (make venv-train installs it; then /modelops/)"
            )
        if not options["no_profile"]:
            self._queue_first_profiling_run(device)
        self.stdout.write("  Ctrl-C stops everything.\n")
        exit_code = 0
        try:
            while not stopping:
                for child in children:
                    assert child.process is not None
                    code = child.process.poll()
                    if code is not None and child.essential:
                        self.stderr.write(f"{child.name} exited with code {code}: stopping the demo")
                        stopping, exit_code = True, 1
                time.sleep(0.2)
        finally:
            self.stdout.write("\nStopping: " + ", ".join(c.name for c in children))
            stop_all(children, options["stop_timeout"], log=self.stdout.write)
            if settings.EMBEDDED_REDIS and embedded_redis.release(settings.VAR_DIR / "redis"):
                self.stdout.write("Stopped the embedded redis-server (its queue is kept in var/redis/).")
            self.stdout.write("Stopped.")
        if exit_code:
            raise CommandError("a demo process failed (see its output above)")

    def _queue_first_profiling_run(self, device: Any) -> None:
        """A real profiling run of the demo device, so /profiling/ has the deck's table from the start (a few seconds
        of the edge worker's time on the CPU backends; later runs are started from /profiling/ or profile_edge)."""
        from edge_worker.contracts.profiling import ProfileConfig
        from profiling.actions import request_profiling_run
        from profiling.models import ProfilingRun

        if ProfilingRun.objects.filter(device=device).exists():
            return
        run = request_profiling_run(device, config=ProfileConfig(), actor=None)
        self.stdout.write(f"  first profiling run {run.run_id} queued on edge.{device.device_id}: see /profiling/")

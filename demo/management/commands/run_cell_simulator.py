"""`python manage.py run_cell_simulator`: parts through the demo cell's five stations, inspected by the edge
worker (see inspection/simulator.py)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from demo.simulator import CellSimulator, SimulatorConfig


class Command(BaseCommand):
    help = "Move parts through the cell's stations and send captures to the edge device's queue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cell", default="ac-cell-1", help="Cell code (default ac-cell-1).")
        parser.add_argument("--device", default=None, help="Edge device id (default: the cell's first device).")
        parser.add_argument("--cycle", type=float, default=15.0, help="Cycle time in seconds (default 15).")
        parser.add_argument("--speed", type=float, default=1.0, help="Speed-up factor (default 1: real time).")
        parser.add_argument("--defect-rate", type=float, default=0.1, help="Share of parts with a visual defect.")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
        parser.add_argument(
            "--parts", type=int, default=None, help="Parts to load, then drain and stop (default: forever)."
        )
        parser.add_argument(
            "--result-timeout",
            type=float,
            default=60.0,
            help="Seconds a station waits for its inspection result before holding the part.",
        )
        parser.add_argument(
            "--resend-after",
            type=float,
            default=10.0,
            help="Seconds after which an overdue capture is sent again (idempotent).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["speed"] <= 0 or options["cycle"] <= 0:
            raise CommandError("--cycle and --speed must be positive")
        if not 0.0 <= options["defect_rate"] <= 1.0:
            raise CommandError("--defect-rate must be between 0 and 1")
        config = SimulatorConfig(
            cell_code=options["cell"],
            device_id=options["device"],
            cycle_s=options["cycle"],
            speed=options["speed"],
            defect_rate=options["defect_rate"],
            seed=options["seed"],
            parts=options["parts"],
            result_timeout_s=options["result_timeout"],
            resend_after_s=options["resend_after"],
        )
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        try:
            simulator = CellSimulator(config, sleep=stop.wait, stop=stop.is_set, between_ticks=close_old_connections)
        except Exception as exc:
            raise CommandError(f"{exc} (run `python manage.py seed_demo` first?)") from exc
        self.stdout.write(
            f"Simulating cell {config.cell_code}: takt {config.takt_s:.2f} s, edge device "
            f"{simulator.device.device_id}, defect rate {config.defect_rate:.0%}. Ctrl-C stops."
        )
        finished = simulator.run()
        passed = sum(1 for p in finished if p.status == "passed")
        self.stdout.write(f"{len(finished)} part(s) left the cell: {passed} passed, {len(finished) - passed} not.")

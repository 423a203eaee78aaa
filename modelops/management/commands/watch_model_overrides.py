"""Roll a cell's champion back when operators override too many of its verdicts, in a loop (one process per
deployment): `manage.py watch_model_overrides`. Limits: TWINWEB_MODEL_OVERRIDE_RATE_MAX, _MIN_REVIEWS, _WINDOW_S."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from modelops.actions import auto_rollback_on_overrides
from traceability.models import Cell


class Command(BaseCommand):
    help = "Check each cell's champion against the operators' override rate every --interval seconds (--once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=60.0)
        parser.add_argument("--once", action="store_true")

    def handle(self, *args: Any, interval: float, once: bool, **options: Any) -> None:
        while True:
            for cell in Cell.objects.order_by("id"):
                change = auto_rollback_on_overrides(cell)
                if change is not None:
                    self.stdout.write(f"{cell.code}: rolled back to {change.to_version}: {change.reason}")
            if once:
                return
            time.sleep(interval)

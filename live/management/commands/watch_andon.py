"""Evaluate the andon rules of every cell in a loop (one process per deployment): `manage.py watch_andon`."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from live.actions import evaluate_cell_alarms
from traceability.models import Cell


class Command(BaseCommand):
    help = "Raise and clear andon alarms from their rules every --interval seconds (--once: one pass)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=5.0)
        parser.add_argument("--once", action="store_true")

    def handle(self, *args: Any, interval: float, once: bool, **options: Any) -> None:
        while True:
            for cell in Cell.objects.order_by("id"):
                for alarm in evaluate_cell_alarms(cell):
                    state = "cleared" if alarm.cleared_at else "raised"
                    self.stdout.write(f"{cell.code}: {state} {alarm.rule} {alarm.message}")
            if once:
                return
            time.sleep(interval)

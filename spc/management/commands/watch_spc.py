"""Evaluate the SPC run rules of every characteristic with frozen limits, in a loop (one process per deployment,
beside watch_andon): `manage.py watch_spc [--interval 5] [--once]`. New characteristics are discovered from the
measurements every `--discover-every` passes."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

from spc.actions import evaluate_characteristic, sync_characteristics
from spc.models import Characteristic


class Command(BaseCommand):
    help = "Evaluate SPC run rules on new measurements (raises andon alarms)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--interval", type=float, default=5.0)
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument("--discover-every", type=int, default=12)

    def handle(self, *args: Any, **options: Any) -> None:
        passes = 0
        while True:
            if not connection.in_atomic_block:  # (a test calling it inside its transaction)
                close_old_connections()
            if passes % max(1, options["discover_every"]) == 0:
                for ch in sync_characteristics():
                    self.stdout.write(f"new characteristic {ch}")
            for ch in Characteristic.objects.filter(limits__superseded_at__isnull=True).distinct():
                for violation in evaluate_characteristic(ch):
                    self.stdout.write(f"violation {violation.rule} on {ch} at {violation.serial}")
            passes += 1
            if options["once"]:
                return
            time.sleep(options["interval"])

"""Check the audit trail's hash chain. Exit 0 when intact; otherwise exit 1 naming the first broken record."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from traceability.audit import verify_chain


class Command(BaseCommand):
    help = "Verify the hash-chained audit trail; exit non-zero naming the first broken record."

    def handle(self, *args: Any, **options: Any) -> None:
        checked, brk = verify_chain()
        if brk is not None:
            raise CommandError(
                f"audit trail BROKEN at record #{brk.record_id}: {brk.problem} ({checked} records before it are intact)",
                returncode=1,
            )
        self.stdout.write(self.style.SUCCESS(f"audit trail intact: {checked} records verified"))

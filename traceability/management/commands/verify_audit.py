"""Check the audit trail's hash chain. Exit 0 when intact; otherwise exit 1 naming the first broken record.

It prints the chain's head (`RECORD_ID:SHA256`). Keep that line outside the database (the shift log, a WORM
store, a signed e-mail): `--anchor` with it later also proves that no record was removed from the end of the trail,
which the chain alone cannot show.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from traceability.audit import ChainHead, verify_chain


class Command(BaseCommand):
    help = "Verify the hash-chained audit trail; exit non-zero naming the first broken record."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--anchor",
            metavar="RECORD_ID:SHA256",
            default=None,
            help="A head printed by an earlier run: that record must still be there, unchanged.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            anchor = ChainHead.parse(options["anchor"]) if options["anchor"] else None
        except ValueError as exc:
            raise CommandError(f"--anchor: {exc}", returncode=2) from exc
        checked, brk, head = verify_chain(anchor)
        if brk is not None:
            raise CommandError(
                f"audit trail BROKEN at record #{brk.record_id}: {brk.problem} ({checked} records before it are intact)",
                returncode=1,
            )
        self.stdout.write(self.style.SUCCESS(f"audit trail intact: {checked} records verified"))
        if head is not None:
            self.stdout.write(f"head {head} (keep it outside the database; check later with --anchor {head})")

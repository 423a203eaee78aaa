"""Write the EPCIS 2.0 document of a part's or a lot's trace to a file (or stdout), e.g. for a recall too large
for a web request:

    python manage.py export_epcis --lot LOT-00001 --output recall-LOT-00001.jsonld --validate

The document is streamed: events are built, hashed and written a chunk at a time, so memory does not grow with
the recall. A file appears under its name only once complete (it is written next to it under a temporary name).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from traceability import epcis, genealogy, selectors


class Command(BaseCommand):
    help = "Export a part's (backward) or a lot's (forward) trace as an EPCIS 2.0 JSON-LD document."

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--part", metavar="SERIAL")
        target.add_argument("--lot", metavar="LOT_KEY")
        parser.add_argument("--output", metavar="FILE", help="default: standard output")
        parser.add_argument(
            "--validate", action="store_true", help="check every event against GS1's schema before writing anything"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        if options["part"]:
            part = selectors.parts().filter(serial=options["part"]).first()
            if part is None:
                raise CommandError(f"No part {options['part']}.")
            document = epcis.streamed_part_document(genealogy.backward_trace(part), validate=options["validate"])
        else:
            lot = selectors.lots().filter(lot_key=options["lot"]).first()
            if lot is None:
                raise CommandError(f"No lot {options['lot']}.")
            document = epcis.streamed_lot_document(genealogy.forward_trace(lot), validate=options["validate"])
        try:
            if options["output"]:
                _write_file(document, options["output"])
            else:
                for chunk in document:
                    sys.stdout.write(chunk)
                sys.stdout.write("\n")
        except epcis.InvalidDocument as error:
            raise CommandError(str(error)) from error
        hasher = document.hasher
        self.stderr.write(
            f"{document.event_count} events in {time.perf_counter() - started:.2f} s"
            + (", valid against the GS1 schema" if options["validate"] else "")
            + (f"; {hasher.fallbacks} hashed by GS1's reference code" if hasher and hasher.fallbacks else "")
        )


def _write_file(document: epcis.StreamedDocument, path: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=directory, prefix=".epcis-", delete=False)
    try:
        with handle:
            for chunk in document:
                handle.write(chunk)
        os.replace(handle.name, path)
    except BaseException:
        os.unlink(handle.name)
        raise

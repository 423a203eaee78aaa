"""Write the EPCIS 2.0 document of a part's or a lot's trace to a file (or stdout), e.g. for a recall too large
for a web request:

    python manage.py export_epcis --lot LOT-00001 --output recall-LOT-00001.jsonld --validate
"""
from __future__ import annotations

import json
import sys
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
        parser.add_argument("--validate", action="store_true", help="check the document against GS1's schema")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        if options["part"]:
            part = selectors.parts().filter(serial=options["part"]).first()
            if part is None:
                raise CommandError(f"No part {options['part']}.")
            document = epcis.part_document(genealogy.backward_trace(part))
        else:
            lot = selectors.lots().filter(lot_key=options["lot"]).first()
            if lot is None:
                raise CommandError(f"No lot {options['lot']}.")
            document = epcis.lot_document(genealogy.forward_trace(lot))
        if options["validate"]:
            errors = epcis.validation_errors(document)
            if errors:
                raise CommandError("The document does not validate:\n" + "\n".join(errors[:20]))
        text = json.dumps(document, indent=1)
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            sys.stdout.write(text + "\n")
        events = len(document["epcisBody"]["eventList"])
        self.stderr.write(f"{events} events in {time.perf_counter() - started:.1f} s"
                          + (", valid against the GS1 schema" if options["validate"] else ""))

"""A type-1 gauge study of the demo's dimensional station: one reference part, rendered again and again with fresh
noise and placement, measured by the edge's measurement programme, recorded through spc.actions.

    python manage.py demo_gauge_study --characteristic ID --user quinn [--repeats 25] [--reference 30.042]

The reference value defaults to the middle of the tolerance; the study is stored beside the characteristic's
capability (its SPC page and the part type's summary)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from edge_worker.vision.measure import measure_part
from edge_worker.vision.parts import get_part_type
from edge_worker.vision.render import DEFAULT_PX_PER_MM, render_part
from spc.actions import record_gauge_study
from spc.models import Characteristic


class Command(BaseCommand):
    help = "Record a type-1 gauge study from repeated renders of one reference part (demo)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--characteristic", type=int, required=True)
        parser.add_argument("--user", required=True, help="The quality engineer recording it.")
        parser.add_argument("--repeats", type=int, default=25)
        parser.add_argument("--reference", type=float, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        ch = Characteristic.objects.select_related("feature", "part_type").get(pk=options["characteristic"])
        user = get_user_model().objects.get(username=options["user"])
        feature = ch.feature
        reference = options["reference"]
        if reference is None:
            reference = feature.nominal + (feature.lower_tol + feature.upper_tol) / 2
        try:
            spec = get_part_type(ch.part_type.code)
        except Exception as exc:
            raise CommandError(f"the renderer has no part type {ch.part_type.code}: {exc}") from exc
        values = []
        for seed in range(options["repeats"]):
            rendered = render_part(spec, seed=10_000 + seed, dimensions_mm={feature.name: reference})
            px = measure_part(rendered.image, spec, DEFAULT_PX_PER_MM).values_px.get(feature.name)
            if px is not None:
                values.append(float(px) / DEFAULT_PX_PER_MM)
        study = record_gauge_study(
            ch,
            actor=user,
            values=values,
            reference_value=reference,
            note=f"{len(values)} renders of one reference part (demo renderer)",
        )
        self.stdout.write(
            f"Cg {study.cg:.2f}  Cgk {study.cgk:.2f}  bias {study.bias:+.5f}  s {study.sd:.5f}  "
            f"({'capable' if study.capable else 'not capable'})"
        )

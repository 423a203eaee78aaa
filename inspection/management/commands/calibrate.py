"""`python manage.py calibrate --cell ac-cell-1 --station dimensional --image target.png`: a station camera's scale
(px per mm) from an image of the dot-grid calibration target; stored per station and used by the next capture.
`--render` renders the demo target instead (at the demo renderer's scale, or --px-per-mm)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from edge_worker.vision.calibrate import TARGET_PITCH_MM, render_calibration_target
from edge_worker.vision.render import DEFAULT_PX_PER_MM, encode_png
from inspection.actions.calibration import calibrate_station
from traceability.errors import DomainError
from traceability.models import Station


class Command(BaseCommand):
    help = "Calibrate a station camera (px per mm) from an image of the dot-grid target."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cell", required=True, help="Cell code, e.g. ac-cell-1")
        parser.add_argument("--station", required=True, help="Station code, e.g. dimensional")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--image", type=Path, help="A PNG or JPEG of the target, as the station camera sees it")
        source.add_argument("--render", action="store_true", help="Render the demo target (no camera)")
        parser.add_argument("--px-per-mm", type=float, default=DEFAULT_PX_PER_MM, help="Scale of the rendered target")
        parser.add_argument("--pitch", type=float, default=TARGET_PITCH_MM, help="The target's dot pitch in mm")
        parser.add_argument("--seed", type=int, default=0)

    def handle(
        self,
        *args: Any,
        cell: str,
        station: str,
        image: Path | None,
        render: bool,
        px_per_mm: float,
        pitch: float,
        seed: int,
        **options: Any,
    ) -> None:
        target = Station.objects.filter(cell__code=cell, code=station).first()
        if target is None:
            raise CommandError(f"no station {station!r} in cell {cell!r}")
        if image is not None:
            if not image.is_file():
                raise CommandError(f"no image at {image}")
            png = image.read_bytes()
        else:
            png = encode_png(render_calibration_target(px_per_mm, seed=seed, pitch_mm=pitch))
        try:
            calibration = calibrate_station(target, png=png, actor=None, pitch_mm=pitch)
        except DomainError as refusal:
            raise CommandError(str(refusal)) from None
        self.stdout.write(
            f"{cell}/{station}: {calibration.px_per_mm:.5f} px/mm from {calibration.dots} dots, "
            f"residual {calibration.residual_px:.3f} px (calibration {calibration.pk})"
        )

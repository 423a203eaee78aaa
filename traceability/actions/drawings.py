"""Part types and their drawings, as records a quality engineer keeps without a developer.

A part type names its family (the measurement programme the edge device runs: flange, tube fitting). Its drawing
is released in revisions: each revision holds its toleranced features; a change of a nominal or a tolerance releases
a new revision (audited, with the reason) and the earlier one stays readable. The part type points at its current
revision; every capture carries that revision's features, and every inspection names the revision it was measured
against.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence
from typing import Any, TypedDict

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from traceability import audit
from traceability.actions.common import Actor, signed_in_user, snapshot
from traceability.choices import PartFamily
from traceability.errors import RefusedByRule
from traceability.models import DimensionalFeature, DrawingRevision, PartType

FEATURE_KINDS = ("diameter", "distance", "length")
# What each family's measurement programme on the edge needs the drawing to name (edge_worker.vision.measure.
# PROGRAMME_FEATURES; a test keeps the two equal). A flange also needs one bolt_hole_<n>_diameter or more.
PROGRAMME_FEATURES: dict[str, tuple[str, ...]] = {
    PartFamily.FLANGE: ("outer_diameter", "bore_diameter", "bolt_circle_diameter"),
    PartFamily.TUBE_FITTING: (
        "block_length",
        "block_width",
        "bore_diameter",
        "mount_hole_1_diameter",
        "mount_hole_2_diameter",
        "mount_hole_distance",
    ),
}


class FeatureInput(TypedDict):
    name: str
    kind: str
    nominal: float
    lower_tol: float
    upper_tol: float
    unit: str


def _checked_features(family: str, features: Sequence[FeatureInput]) -> list[FeatureInput]:
    if family not in PROGRAMME_FEATURES:
        raise RefusedByRule(
            gettext(
                "No measurement programme for family %(family)s: the edge devices measure %(families)s. "
                "Ask for a programme before releasing such a drawing."
            )
            % {"family": repr(family), "families": ", ".join(PROGRAMME_FEATURES)}
        )
    names = [f["name"] for f in features]
    if len(set(names)) != len(names):
        raise RefusedByRule(gettext("A feature name appears twice on the drawing."))
    missing = [n for n in PROGRAMME_FEATURES[family] if n not in names]
    if family == PartFamily.FLANGE and not any(re.fullmatch(r"bolt_hole_\d+_diameter", n) for n in names):
        missing.append(gettext("bolt_hole_1_diameter (one per bolt hole)"))
    if missing:
        raise RefusedByRule(
            gettext(
                "The %(family)s programme measures %(missing)s: the drawing must give each its nominal and tolerance."
            )
            % {"family": str(PartFamily(family).label).split(":")[0].lower(), "missing": ", ".join(missing)}
        )
    checked = []
    for f in features:
        if f["kind"] not in FEATURE_KINDS:
            raise RefusedByRule(
                gettext("%(feature)s: kind must be one of %(kinds)s.")
                % {"feature": f["name"], "kinds": ", ".join(FEATURE_KINDS)}
            )
        lower, upper, nominal = float(f["lower_tol"]), float(f["upper_tol"]), float(f["nominal"])
        if lower > 0 or upper < 0 or lower == upper:
            raise RefusedByRule(
                gettext(
                    "%(feature)s: the lower deviation is zero or negative, the upper zero or positive, "
                    "and the band is not empty."
                )
                % {"feature": f["name"]}
            )
        if nominal <= 0:
            raise RefusedByRule(gettext("%(feature)s: the nominal must be positive.") % {"feature": f["name"]})
        checked.append(
            FeatureInput(
                name=f["name"],
                kind=f["kind"],
                nominal=nominal,
                lower_tol=lower,
                upper_tol=upper,
                unit=f.get("unit") or "mm",
            )
        )
    return checked


def next_revision(revision: str) -> str:
    """A, B, ... Z, AA, AB ... (and 1, 2, ... for numeric revisions)."""
    if revision.isdigit():
        return str(int(revision) + 1)
    letters = string.ascii_uppercase
    chars = list(revision.upper() or "@")
    i = len(chars) - 1
    while i >= 0:
        if chars[i] in letters and chars[i] != "Z":
            chars[i] = letters[letters.index(chars[i]) + 1]
            return "".join(chars)
        if chars[i] == "@":
            return "A"
        chars[i] = "A"
        i -= 1
    return "A" + "".join(chars)


def _release(
    part_type: PartType, *, drawing_number: str, revision: str, features: list[FeatureInput], actor: Actor, reason: str
) -> DrawingRevision:
    drawing = DrawingRevision(
        part_type=part_type,
        drawing_number=drawing_number,
        revision=revision,
        released_at=timezone.now(),
        released_by=signed_in_user(actor),
        reason=reason,
    )
    drawing.full_clean()
    drawing.save()
    DimensionalFeature.objects.bulk_create(
        [DimensionalFeature(part_type=part_type, drawing=drawing, **f) for f in features]
    )
    audit.append(
        actor=actor,
        action="drawing.release",
        subject=("traceability.drawingrevision", str(drawing)),
        after={
            "part_type": part_type.code,
            "drawing_number": drawing_number,
            "revision": revision,
            "features": features,
        },
        reason=reason,
    )
    return drawing


@transaction.atomic
def create_part_type(
    *,
    code: str,
    name: str,
    family: str,
    drawing_number: str,
    revision: str,
    features: Sequence[FeatureInput],
    actor: Actor,
    gtin: str = "",
    four_eyes_override: bool = False,
    reason: str = "new part type",
) -> PartType:
    """A new part type with its first drawing revision. A family without a measurement programme is refused."""
    checked = _checked_features(family, features)
    part_type = PartType(
        code=code,
        name=name,
        family=family,
        drawing_number=drawing_number,
        revision=revision,
        gtin=gtin,
        four_eyes_override=four_eyes_override,
    )
    part_type.full_clean()
    part_type.save()
    audit.append(actor=actor, action="part_type.create", subject=part_type, after=snapshot(part_type), reason=reason)
    _release(part_type, drawing_number=drawing_number, revision=revision, features=checked, actor=actor, reason=reason)
    return part_type


@transaction.atomic
def revise_drawing(
    part_type: PartType,
    *,
    features: Sequence[FeatureInput],
    actor: Actor,
    reason: str,
    revision: str = "",
    drawing_number: str = "",
) -> DrawingRevision:
    """Release a new revision of the part type's drawing (the next letter unless given); it becomes current for
    the next capture. The earlier revision stays as it was."""
    if not reason.strip():
        raise RefusedByRule(gettext("Say why the drawing changes: the reason is part of the revision's record."))
    part_type = PartType.objects.select_for_update().get(pk=part_type.pk)
    checked = _checked_features(part_type.family, features)
    revision = revision or next_revision(part_type.revision)
    if DrawingRevision.objects.filter(part_type=part_type, revision=revision).exists():
        raise RefusedByRule(
            gettext("%(code)s already has a revision %(revision)s.") % {"code": part_type.code, "revision": revision}
        )
    before = snapshot(part_type, ["drawing_number", "revision"])
    drawing = _release(
        part_type,
        drawing_number=drawing_number or part_type.drawing_number,
        revision=revision,
        features=checked,
        actor=actor,
        reason=reason.strip(),
    )
    part_type.revision, part_type.drawing_number = drawing.revision, drawing.drawing_number
    part_type.full_clean()
    part_type.save(update_fields=["revision", "drawing_number"])
    audit.append(
        actor=actor,
        action="part_type.revise",
        subject=part_type,
        before=before,
        after=snapshot(part_type, ["drawing_number", "revision"]),
        reason=reason.strip(),
    )
    return drawing


def feature_inputs(features: Iterable[Any]) -> list[FeatureInput]:
    """Features given as objects with the same attributes (name, kind, nominal, tolerances, unit), such as the
    edge's `PartTypeSpec.features`."""
    return [
        FeatureInput(
            name=f.name, kind=f.kind, nominal=f.nominal, lower_tol=f.lower_tol, upper_tol=f.upper_tol, unit=f.unit
        )
        for f in features
    ]


def features_of(drawing: DrawingRevision) -> list[FeatureInput]:
    return feature_inputs(drawing.features.order_by("id"))


def with_tolerance(features: list[FeatureInput], name: str, **changes: Any) -> list[FeatureInput]:
    """The features with one of them changed (for revisions made in code: tests, scripts)."""
    if name not in {f["name"] for f in features}:
        raise RefusedByRule(f"No feature {name!r} on the drawing.")
    return [FeatureInput(**{**f, **changes}) if f["name"] == name else f for f in features]  # type: ignore[typeddict-item]

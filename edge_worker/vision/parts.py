"""Part type specifications: the toleranced features of each drawing.

A feature passes when ``nominal + lower_tol <= value <= nominal + upper_tol``.
The measurement programme for a part type derives its layout (bolt circle, hole distance)
from the nominal values here, so a changed drawing needs no code change.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

FEATURE_KINDS = ("diameter", "distance", "length")


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    kind: str  # one of FEATURE_KINDS
    nominal: float
    lower_tol: float  # <= 0, e.g. -0.05
    upper_tol: float  # >= 0
    unit: str = "mm"

    def __post_init__(self) -> None:
        if self.kind not in FEATURE_KINDS:
            raise ValueError(f"feature {self.name}: kind {self.kind!r} not in {FEATURE_KINDS}")
        if self.lower_tol > 0 or self.upper_tol < 0:
            raise ValueError(f"feature {self.name}: lower_tol must be <= 0 and upper_tol >= 0")

    @property
    def lower_limit(self) -> float:
        return self.nominal + self.lower_tol

    @property
    def upper_limit(self) -> float:
        return self.nominal + self.upper_tol

    def passes(self, value: float | None) -> bool:
        if value is None:
            return False
        # A hair of slack for float round-off at the limit itself.
        return bool(self.lower_limit - 1e-9 <= float(value) <= self.upper_limit + 1e-9)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeatureSpec":
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            nominal=float(data["nominal"]),
            lower_tol=float(data["lower_tol"]),
            upper_tol=float(data["upper_tol"]),
            unit=str(data.get("unit", "mm")),
        )


FAMILIES = ("flange", "tube_fitting")  # the families the edge has a measurement programme (and a renderer) for
_LEGACY_FAMILY = {"CF": "flange", "TF": "tube_fitting"}  # before drawings named it, the code's prefix did


def bolt_hole_names(features: "tuple[FeatureSpec, ...] | list[FeatureSpec]") -> list[str]:
    """A flange's bolt holes in their order on the bolt circle (bolt_hole_1, bolt_hole_2, ..., bolt_hole_10)."""
    names = [f.name for f in features if re.fullmatch(r"bolt_hole_\d+_diameter", f.name)]
    return sorted(names, key=lambda n: int(n.split("_")[2]))


@dataclass(frozen=True)
class PartTypeSpec:
    code: str
    name: str
    drawing_number: str
    revision: str
    features: tuple[FeatureSpec, ...]
    family_name: str = ""  # "flange" | "tube_fitting"; empty: from the code's prefix (messages of before)

    def feature(self, name: str) -> FeatureSpec:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(f"{self.code} has no feature {name!r}")

    @property
    def family(self) -> str:
        """The measurement programme: the drawing's family ("flange", "tube_fitting")."""
        if self.family_name:
            return self.family_name
        prefix = self.code.split("-", 1)[0].upper()
        return _LEGACY_FAMILY.get(prefix, prefix.lower())

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "drawing_number": self.drawing_number,
            "revision": self.revision,
            "family": self.family,
            "features": [f.to_dict() for f in self.features],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PartTypeSpec":
        return cls(
            code=str(data["code"]),
            name=str(data["name"]),
            drawing_number=str(data["drawing_number"]),
            revision=str(data["revision"]),
            features=tuple(FeatureSpec.from_dict(f) for f in data["features"]),
            family_name=str(data.get("family", "")),
        )


COMPRESSOR_FLANGE = PartTypeSpec(
    code="CF-80",
    name="Compressor flange 80",
    drawing_number="DRW-CF-0080",
    revision="C",
    family_name="flange",
    features=(
        FeatureSpec("outer_diameter", "diameter", 80.0, -0.10, 0.10),
        FeatureSpec("bore_diameter", "diameter", 30.0, 0.0, 0.084),  # H10
        FeatureSpec("bolt_hole_1_diameter", "diameter", 9.0, 0.0, 0.10),
        FeatureSpec("bolt_hole_2_diameter", "diameter", 9.0, 0.0, 0.10),
        FeatureSpec("bolt_hole_3_diameter", "diameter", 9.0, 0.0, 0.10),
        FeatureSpec("bolt_hole_4_diameter", "diameter", 9.0, 0.0, 0.10),
        FeatureSpec("bolt_circle_diameter", "distance", 60.0, -0.10, 0.10),
    ),
)

TUBE_FITTING = PartTypeSpec(
    code="TF-12",
    name="Condenser tube fitting 12",
    drawing_number="DRW-TF-0012",
    revision="B",
    family_name="tube_fitting",
    features=(
        FeatureSpec("block_length", "length", 60.0, -0.10, 0.10),
        FeatureSpec("block_width", "length", 36.0, -0.10, 0.10),
        FeatureSpec("bore_diameter", "diameter", 12.0, 0.0, 0.07),  # H10
        FeatureSpec("mount_hole_1_diameter", "diameter", 6.6, 0.0, 0.10),
        FeatureSpec("mount_hole_2_diameter", "diameter", 6.6, 0.0, 0.10),
        FeatureSpec("mount_hole_distance", "distance", 44.0, -0.10, 0.10),
    ),
)

DEMO_PART_TYPES: dict[str, PartTypeSpec] = {
    COMPRESSOR_FLANGE.code: COMPRESSOR_FLANGE,
    TUBE_FITTING.code: TUBE_FITTING,
}


def get_part_type(spec_or_code: "PartTypeSpec | str") -> PartTypeSpec:
    if isinstance(spec_or_code, PartTypeSpec):
        return spec_or_code
    try:
        return DEMO_PART_TYPES[spec_or_code]
    except KeyError:
        raise KeyError(f"unknown part type {spec_or_code!r}; known: {sorted(DEMO_PART_TYPES)}") from None

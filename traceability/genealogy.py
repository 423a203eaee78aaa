"""Genealogy: backward trace of a serial ("what went into this part, and what happened to it?") and forward trace
of a lot ("which parts did this lot reach?").

Both walk the genealogy graph with recursive CTEs that run on SQLite and PostgreSQL, a fixed number of queries
per trace whatever the depth or width (no per-node queries in Python loops):

- backward: the part and its sub-assemblies (PartComponent assembly → component, recursively), the lots they
  consumed (LotConsumption), and every ancestor of those lots through splits and merges (LotLink child → parent);
- forward: the lot and its descendants (LotLink parent → child), the parts that consumed any of them, and every
  assembly those parts were built into (PartComponent component → assembly, recursively).

The recursive members use UNION (not UNION ALL) over edge tuples, so shared ancestors are visited once and the
walk ends even if bad data made a cycle.

Inspections belong to the `inspection` app, which traceability does not import: an app contributes them through
`register_inspection_source` from its `trace.py` module, discovered once like Django's admin modules.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils.functional import Promise
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.module_loading import autodiscover_modules

from traceability.choices import PartStatus
from traceability.models import (
    AuditRecord,
    FailureCase,
    LotConsumption,
    LotLink,
    MaterialLot,
    Part,
    PartComponent,
    StationEvent,
)

# --- Inspection steps contributed by other apps ---------------------------------------------------------

StrOrPromise = str | Promise  # a label, translated where it is shown


@dataclass(frozen=True)
class MeasurementStep:
    name: str
    kind: str
    value: float | None
    nominal: float
    lower_tol: float
    upper_tol: float
    unit: str
    passed: bool

    @property
    def lower_limit(self) -> float:
        return self.nominal + self.lower_tol

    @property
    def upper_limit(self) -> float:
        return self.nominal + self.upper_tol


@dataclass(frozen=True)
class InspectionStep:
    """One inspection of a part, as the trace shows it (the `inspection` app fills these in)."""

    key: str  # the inspection's result id
    part_id: int
    station_id: int
    station_code: str
    device_id: str | None
    verdict: str
    reason: str
    defect_class: str
    defect_confidence: float | None
    model_version: str
    backend: str
    captured_at: dt.datetime
    inspected_at: dt.datetime
    needs_review: bool
    reviewer: str | None
    failure_case_id: int | None
    measurements: tuple[MeasurementStep, ...] = ()
    image_url: str | None = None
    drawing: str | None = None  # "DRW-CF-0080 rev C": the drawing revision the tolerances came from


InspectionSource = Callable[[Sequence[int]], list[InspectionStep]]
PartFilter = Callable[[QuerySet[Part], str], QuerySet[Part]]


@dataclass
class _Registry:
    inspection_sources: list[InspectionSource] = field(default_factory=list)
    verdict_filters: list[PartFilter] = field(default_factory=list)
    verdict_choices: list[tuple[str, StrOrPromise]] = field(default_factory=list)
    audit_subject_types: list[str] = field(default_factory=list)
    discovered: bool = False


_registry = _Registry()


def register_inspection_source(
    source: InspectionSource,
    *,
    verdict_filter: PartFilter | None = None,
    verdict_choices: Sequence[tuple[str, StrOrPromise]] = (),
    audit_subject_type: str = "",
) -> None:
    """Called by another app's `trace.py`: `source(part_ids)` returns the inspection steps of those parts in one
    or two queries; `verdict_filter(parts, verdict)` narrows a part queryset for the auditor search; audit records
    filed under `audit_subject_type` with a step's key (its result id) belong to the part's trace."""
    if source not in _registry.inspection_sources:
        _registry.inspection_sources.append(source)
    if audit_subject_type and audit_subject_type not in _registry.audit_subject_types:
        _registry.audit_subject_types.append(audit_subject_type)
    if verdict_filter and verdict_filter not in _registry.verdict_filters:
        _registry.verdict_filters.append(verdict_filter)
        _registry.verdict_choices.extend(c for c in verdict_choices if c not in _registry.verdict_choices)


def _discover() -> _Registry:
    if not _registry.discovered:
        _registry.discovered = True
        autodiscover_modules("trace")
    return _registry


def inspection_steps(part_ids: Sequence[int]) -> list[InspectionStep]:
    steps: list[InspectionStep] = []
    for source in _discover().inspection_sources:
        steps.extend(source(part_ids))
    return sorted(steps, key=lambda s: (s.captured_at, s.key))


def verdict_choices() -> list[tuple[str, StrOrPromise]]:
    return list(_discover().verdict_choices)


def filter_parts_by_verdict(parts: QuerySet[Part], verdict: str) -> QuerySet[Part]:
    filters = _discover().verdict_filters
    if not filters:
        return parts.none()
    matching = Q()
    for narrow in filters:
        matching |= Q(pk__in=narrow(Part.objects.all(), verdict).values("pk"))
    return parts.filter(matching)


# --- SQL ------------------------------------------------------------------------------------------------


def _t(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _sql_backward() -> str:
    """Rows ("part", part_id, assembly_id, depth) for the part and every sub-assembly built into it, recursively,
    then ("lot", lot_id, NULL, NULL) for every lot those parts consumed and every ancestor of those lots."""
    pc, lc, ll = _t(PartComponent), _t(LotConsumption), _t(LotLink)
    return f"""
        WITH RECURSIVE tree(part_id, assembly_id, depth) AS (
            SELECT CAST(%s AS BIGINT), CAST(NULL AS BIGINT), 0
            UNION
            SELECT pc.component_id, pc.assembly_id, tree.depth + 1
            FROM {pc} pc JOIN tree ON pc.assembly_id = tree.part_id
            WHERE tree.depth < 50
        ),
        lots(lot_id) AS (
            SELECT lc.lot_id FROM {lc} lc JOIN tree ON lc.part_id = tree.part_id
            UNION
            SELECT ll.parent_id FROM {ll} ll JOIN lots ON ll.child_id = lots.lot_id
        )
        SELECT 'part', part_id, assembly_id, depth FROM tree
        UNION ALL
        SELECT 'lot', lot_id, CAST(NULL AS BIGINT), CAST(NULL AS INTEGER) FROM lots
        ORDER BY 1 DESC, 4, 2
    """


def _sql_lot_descendants() -> str:
    """Lot ids: the lot and every descendant through splits and merges (LotLink parent → child)."""
    ll = _t(LotLink)
    return f"""
        WITH RECURSIVE lots(lot_id) AS (
            SELECT CAST(%s AS BIGINT)
            UNION
            SELECT ll.child_id FROM {ll} ll JOIN lots ON ll.parent_id = lots.lot_id
        )
        SELECT lot_id FROM lots
    """


def _sql_lot_sources() -> str:
    """Lot ids: every ancestor of the lot (not the lot itself)."""
    ll = _t(LotLink)
    return f"""
        WITH RECURSIVE lots(lot_id) AS (
            SELECT ll.parent_id FROM {ll} ll WHERE ll.child_id = %s
            UNION
            SELECT ll.parent_id FROM {ll} ll JOIN lots ON ll.child_id = lots.lot_id
        )
        SELECT lot_id FROM lots
    """


def _sql_parts_reached(*, with_details: bool) -> str:
    """Rows per (part, how it was reached): parts that consumed the lot or a descendant, and the assemblies they
    went into. With details, each row carries what the recall list shows (status, batch, type, pallet)."""
    ll, lc, pc = _t(LotLink), _t(LotConsumption), _t(PartComponent)
    reached = f"""
        WITH RECURSIVE lots(lot_id) AS (
            SELECT CAST(%s AS BIGINT)
            UNION
            SELECT ll.child_id FROM {ll} ll JOIN lots ON ll.parent_id = lots.lot_id
        ),
        reached(part_id, via_lot_id, via_part_id) AS (
            SELECT lc.part_id, lc.lot_id, CAST(NULL AS BIGINT) FROM {lc} lc JOIN lots ON lc.lot_id = lots.lot_id
            UNION
            SELECT pc.assembly_id, CAST(NULL AS BIGINT), pc.component_id
            FROM {pc} pc JOIN reached ON pc.component_id = reached.part_id
        )
    """
    if not with_details:
        return reached + " SELECT DISTINCT part_id FROM reached"
    from traceability.models import Batch, Pallet, PartType

    part, batch, ptype, pallet = _t(Part), _t(Batch), _t(PartType), _t(Pallet)
    # No timestamps here: turning 10,000s of them into aware datetimes costs more than the query.
    return (
        reached
        + f"""
        SELECT p.id, p.serial, p.status, b.batch_number, pt.code, pt.gtin, pl.sscc, pl.status,
               reached.via_lot_id, reached.via_part_id
        FROM reached
        JOIN {part} p ON p.id = reached.part_id
        JOIN {batch} b ON b.id = p.batch_id
        JOIN {ptype} pt ON pt.id = p.part_type_id
        LEFT JOIN {pallet} pl ON pl.id = p.pallet_id
    """
    )


WIDE_QUERY_SETTINGS = "SET LOCAL jit = off; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off"


def _rows(sql: str, params: Sequence[Any], *, wide: bool = False) -> list[tuple[Any, ...]]:
    """Run a trace query. For `wide` queries (a recall may reach thousands of parts) PostgreSQL cannot estimate
    the recursive CTE's size and guesses millions of rows: it then JIT-compiles the query (~0.5 s) and hashes the
    whole part table (~1 s at a million parts). The walk is really index lookups from a few rows, so for that one
    transaction JIT is off and the planner keeps to nested loops over the indexes (~0.1 s for 10,000 parts)."""
    if wide and connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(WIDE_QUERY_SETTINGS)
            cursor.execute(sql, list(params))
            return cursor.fetchall()
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchall()


# --- Backward trace -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartNode:
    part: Part
    assembly_id: int | None  # the part it is built into, within this trace (None for the traced part)
    depth: int


@dataclass
class BackwardTrace:
    """Everything that went into a part and everything that happened to it."""

    part: Part
    parts: list[PartNode]  # the part first, then its sub-assemblies, breadth first
    lots: dict[int, MaterialLot]  # consumed lots and all their ancestors
    consumptions: list[LotConsumption]
    lot_links: list[LotLink]  # links between the lots above (child → parent)
    station_events: list[StationEvent]
    inspections: list[InspectionStep]
    failure_cases: list[FailureCase]
    audit_records: list[AuditRecord]
    elapsed_ms: float = 0.0

    @property
    def part_ids(self) -> list[int]:
        return [node.part.pk for node in self.parts]

    @property
    def lot_keys(self) -> set[str]:
        return {lot.lot_key for lot in self.lots.values()}

    @property
    def serials(self) -> set[str]:
        return {node.part.serial for node in self.parts}

    def components_of(self, part_id: int) -> list[PartNode]:
        return [node for node in self.parts if node.assembly_id == part_id]

    def consumptions_of(self, part_id: int) -> list[LotConsumption]:
        return [c for c in self.consumptions if c.part_id == part_id]

    def parents_of(self, lot_id: int) -> list[LotLink]:
        return [link for link in self.lot_links if link.child_id == lot_id]

    def timeline(self) -> list[tuple[dt.datetime, str, Any]]:
        """Station events, inspections, failure cases and audit records of the traced parts in time order."""
        entries: list[tuple[dt.datetime, str, Any]] = []
        entries += [(e.entered_at, "station", e) for e in self.station_events]
        entries += [(i.captured_at, "inspection", i) for i in self.inspections]
        entries += [(f.opened_at, "failure_case", f) for f in self.failure_cases]
        entries += [(a.created_at, "audit", a) for a in self.audit_records]
        order = {"station": 0, "inspection": 1, "failure_case": 2, "audit": 3}
        return sorted(entries, key=lambda entry: (entry[0], order[entry[1]], getattr(entry[2], "pk", 0) or 0))


def backward_trace(part: Part, *, with_audit: bool = True) -> BackwardTrace:
    """The full genealogy and history of one serial, in a fixed number of queries."""
    started = time.perf_counter()
    rows = _rows(_sql_backward(), [part.pk])
    tree = [(pid, assembly_id, depth) for kind, pid, assembly_id, depth in rows if kind == "part"]
    lot_ids = [lot_id for kind, lot_id, _, _ in rows if kind == "lot"]
    part_ids = [row[0] for row in tree]
    parts_by_id = Part.objects.select_related("part_type", "batch__cell", "pallet").in_bulk(part_ids)
    nodes = [PartNode(parts_by_id[pid], assembly_id, depth) for pid, assembly_id, depth in tree if pid in parts_by_id]
    # Every lot is either consumed by a traced part or the parent of a link into a traced lot: the two queries
    # below bring all of them along, with their material.
    consumptions = list(
        LotConsumption.objects.filter(part_id__in=part_ids)
        .select_related("lot__material")
        .order_by("consumed_at", "id")
    )
    links = (
        list(
            LotLink.objects.filter(child_id__in=lot_ids).select_related("parent__material").order_by("linked_at", "id")
        )
        if lot_ids
        else []
    )
    lots = {c.lot_id: c.lot for c in consumptions} | {link.parent_id: link.parent for link in links}

    events = list(
        StationEvent.objects.filter(part_id__in=part_ids).select_related("station").order_by("entered_at", "id")
    )
    cases = list(
        FailureCase.objects.filter(part_id__in=part_ids)
        .select_related("defect_code", "station", "owner")
        .order_by("opened_at", "id")
    )
    inspections = inspection_steps(part_ids)
    audit_records: list[AuditRecord] = []
    if with_audit:
        serials = [node.part.serial for node in nodes]
        about = Q(subject_type="traceability.part", subject_key__in=serials)
        if cases:
            about |= Q(subject_type="traceability.failurecase", subject_key__in=[str(c.pk) for c in cases])
        if inspections and _discover().audit_subject_types:
            about |= Q(subject_type__in=_registry.audit_subject_types, subject_key__in=[i.key for i in inspections])
        audit_records = list(AuditRecord.objects.filter(about).order_by("id"))
    trace = BackwardTrace(
        part=parts_by_id.get(part.pk, part),
        parts=nodes,
        lots=lots,
        consumptions=consumptions,
        lot_links=links,
        station_events=events,
        inspections=inspections,
        failure_cases=cases,
        audit_records=audit_records,
    )
    trace.elapsed_ms = (time.perf_counter() - started) * 1000
    return trace


# --- Forward trace --------------------------------------------------------------------------------------


@dataclass
class ReachedPart:
    """A part the lot reached, with how: the lots (keys) it consumed from the lot's family, and the components
    (serials) through which it was reached as an assembly."""

    id: int
    serial: str
    status: str
    batch_number: str
    part_type: str
    gtin: str
    pallet_sscc: str | None
    pallet_status: str | None
    via_lots: list[str] = field(default_factory=list)
    via_components: list[str] = field(default_factory=list)

    @property
    def shipped(self) -> bool:
        return self.status == PartStatus.SHIPPED


@dataclass
class ForwardTrace:
    lot: MaterialLot
    lots: dict[int, MaterialLot]  # the lot and its descendants
    lot_links: list[LotLink]  # links among those lots (parent → child)
    sources: dict[int, MaterialLot]  # ancestors of the lot (where it came from)
    source_links: list[LotLink]
    parts: list[ReachedPart]
    elapsed_ms: float = 0.0

    @property
    def serials(self) -> set[str]:
        return {p.serial for p in self.parts}

    @property
    def lot_keys(self) -> set[str]:
        return {lot.lot_key for lot in self.lots.values()}

    def counts_by_status(self) -> dict[str, int]:
        counts = Counter(p.status for p in self.parts)
        return {value: counts.get(value, 0) for value in PartStatus.values}

    def pallets(self) -> list[dict[str, Any]]:
        by_sscc: dict[str, dict[str, Any]] = {}
        for p in self.parts:
            if p.pallet_sscc:
                entry = by_sscc.setdefault(
                    p.pallet_sscc, {"sscc": p.pallet_sscc, "status": p.pallet_status, "parts": 0}
                )
                entry["parts"] += 1
        return sorted(by_sscc.values(), key=lambda e: e["sscc"])

    def children_of(self, lot_id: int) -> list[LotLink]:
        return [link for link in self.lot_links if link.parent_id == lot_id]


def descendant_lot_ids(lot: MaterialLot) -> list[int]:
    return [row[0] for row in _rows(_sql_lot_descendants(), [lot.pk])]


def reached_part_ids(lot: MaterialLot) -> list[int]:
    """Ids of every part the lot reached (one query); used by containment."""
    return [row[0] for row in _rows(_sql_parts_reached(with_details=False), [lot.pk], wide=True)]


def forward_trace(lot: MaterialLot, *, with_sources: bool = True) -> ForwardTrace:
    """Every part a lot reached, through splits, merges and sub-assemblies, in a fixed number of queries."""
    started = time.perf_counter()
    lot_ids = descendant_lot_ids(lot)
    lots = MaterialLot.objects.select_related("material").in_bulk(lot_ids)
    links = list(LotLink.objects.filter(parent_id__in=lot_ids).order_by("linked_at", "id"))
    sources: dict[int, MaterialLot] = {}
    source_links: list[LotLink] = []
    if with_sources:
        source_ids = [row[0] for row in _rows(_sql_lot_sources(), [lot.pk])]
        if source_ids:
            sources = MaterialLot.objects.select_related("material").in_bulk(source_ids)
            source_links = list(LotLink.objects.filter(child_id__in=[lot.pk, *source_ids]).order_by("linked_at", "id"))

    parts: dict[int, ReachedPart] = {}
    via_parts: list[tuple[ReachedPart, int]] = []
    for pid, serial, status, batch_number, part_type, gtin, sscc, pallet_status, via_lot, via_part in _rows(
        _sql_parts_reached(with_details=True), [lot.pk], wide=True
    ):
        reached = parts.get(pid)
        if reached is None:
            reached = parts[pid] = ReachedPart(
                pid, serial, status, batch_number, part_type, gtin or "", sscc, pallet_status
            )
        if via_lot:
            reached.via_lots.append(lots[via_lot].lot_key)
        if via_part:
            via_parts.append((reached, via_part))
    for reached, component_id in via_parts:  # a component that led to an assembly was reached itself
        reached.via_components.append(parts[component_id].serial)
    trace = ForwardTrace(
        lot=lots.get(lot.pk, lot),
        lots=lots,
        lot_links=links,
        sources=sources,
        source_links=source_links,
        parts=sorted(parts.values(), key=lambda p: p.serial),
    )
    trace.elapsed_ms = (time.perf_counter() - started) * 1000
    return trace


# --- Auditor search -------------------------------------------------------------------------------------


@dataclass
class SearchCriteria:
    query: str = ""  # a serial, lot key, batch number or pallet SSCC (exact), or part of one
    station: str = ""  # station code: the part passed this station ...
    window_start: dt.datetime | None = None  # ... within this time window (either end may be open)
    window_end: dt.datetime | None = None
    verdict: str = ""  # an inspection of the part had this verdict
    defect_code: str = ""  # a failure case of the part has this defect code
    created_from: dt.datetime | None = None  # the part was made in this date range
    created_to: dt.datetime | None = None

    @property
    def has_filters(self) -> bool:
        return bool(
            self.station
            or self.window_start
            or self.window_end
            or self.verdict
            or self.defect_code
            or self.created_from
            or self.created_to
        )


@dataclass
class SearchResult:
    go_to: tuple[str, str] | None = None  # ("part", serial) or ("lot", lot key): an exact hit
    scope: str = ""  # what the query matched, in words
    parts: list[Part] = field(default_factory=list)
    total: int = 0
    lots: list[MaterialLot] = field(default_factory=list)


def search(criteria: SearchCriteria, *, limit: int = 200) -> SearchResult:
    """The auditor's search box: an exact serial or lot key goes straight to its trace; a batch or pallet lists its
    parts; anything else matches parts of serials, batches and pallets, and lots. Filters narrow the parts."""
    from traceability.models import Batch, Pallet

    q = criteria.query.strip()
    result = SearchResult()
    parts = Part.objects.select_related("part_type", "batch", "pallet")
    if q:
        if not criteria.has_filters:
            if Part.objects.filter(serial=q).exists():
                return SearchResult(go_to=("part", q))
            if MaterialLot.objects.filter(lot_key=q).exists():
                return SearchResult(go_to=("lot", q))
        if Batch.objects.filter(batch_number=q).exists():
            parts, result.scope = parts.filter(batch__batch_number=q), f"batch {q}"
        elif Pallet.objects.filter(sscc=q).exists():
            parts, result.scope = parts.filter(pallet__sscc=q), f"pallet {q}"
        elif (lot := MaterialLot.objects.filter(lot_key=q).first()) is not None:
            parts, result.scope = parts.filter(pk__in=_reached_ids_subquery(lot)), f"parts reached by lot {q}"
        else:
            parts = parts.filter(
                Q(serial__icontains=q) | Q(batch__batch_number__icontains=q) | Q(pallet__sscc__icontains=q)
            )
            result.scope = f"serials, batches and pallets containing “{q}”"
            result.lots = list(
                MaterialLot.objects.select_related("material")
                .filter(Q(lot_key__icontains=q) | Q(supplier_lot_number__icontains=q))
                .order_by("lot_key")[:20]
            )
    elif not criteria.has_filters:
        return result
    if criteria.station or criteria.window_start or criteria.window_end:
        events = StationEvent.objects.all()
        if criteria.station:
            events = events.filter(station__code=criteria.station)
        if criteria.window_start:
            events = events.filter(entered_at__gte=criteria.window_start)
        if criteria.window_end:
            events = events.filter(entered_at__lt=criteria.window_end)
        parts = parts.filter(pk__in=events.values("part_id"))
    if criteria.verdict:
        parts = filter_parts_by_verdict(parts, criteria.verdict)
    if criteria.defect_code:
        parts = parts.filter(
            pk__in=FailureCase.objects.filter(defect_code__code=criteria.defect_code).values("part_id")
        )
    if criteria.created_from:
        parts = parts.filter(created_at__gte=criteria.created_from)
    if criteria.created_to:
        parts = parts.filter(created_at__lt=criteria.created_to)
    result.total = parts.count()
    result.parts = list(parts.order_by("-created_at", "-id")[:limit])
    return result


def _reached_ids_subquery(lot: MaterialLot) -> RawSQL:
    return RawSQL(_sql_parts_reached(with_details=False), [lot.pk])

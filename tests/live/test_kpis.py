"""KPI arithmetic with known answers, and the snapshot's KPIs for a scripted shift."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from live import selectors as live_state
from tests.support import factories
from tests.support import live_builders as builders
from traceability import actions
from traceability.choices import PartStatus, StationOutcome


def test_it_computes_oee_for_the_textbook_shift() -> None:
    # planned 480 min, run 420 min, ideal cycle 1 min, 400 made, 380 good
    result = live_state.oee(planned_s=480 * 60, run_s=420 * 60, ideal_cycle_s=60, total_count=400, good_count=380)
    assert result.availability and result.performance and result.quality and result.oee
    assert round(result.availability, 4) == 0.875
    assert round(result.performance, 3) == 0.952
    assert round(result.quality, 3) == 0.950
    # 0.875 x 0.95238 x 0.95 = 0.79167: 79.2 % rounded (79.1 % where sources truncate)
    assert round(result.oee, 4) == 0.7917


def test_it_leaves_oee_undefined_without_production() -> None:
    result = live_state.oee(planned_s=0, run_s=0, ideal_cycle_s=15, total_count=0, good_count=0)
    assert result.availability is None and result.performance is None and result.quality is None
    assert result.oee is None


def test_it_takes_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert live_state.percentile(values, 95) == 19.0
    assert live_state.percentile(values, 50) == 10.0
    assert live_state.percentile([], 95) is None


def test_it_measures_run_time_as_the_union_of_occupied_intervals() -> None:
    t = dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.UTC)
    s = dt.timedelta(seconds=1)
    intervals = [(t, t + 10 * s), (t + 5 * s, t + 15 * s), (t + 20 * s, t + 30 * s), (t + 22 * s, t + 25 * s)]
    assert live_state.union_length_s(intervals) == 25.0


@pytest.mark.django_db
def test_it_reports_cycle_times_yield_and_bottleneck_for_a_scripted_shift(cell: Any) -> None:
    batch = builders.batch_for(cell)
    start = builders.now() - dt.timedelta(minutes=30)
    # Four parts, back to back 30 s apart; the dimensional station (3rd) is the slowest for every part.
    dwells = [
        [5, 10, 14, 8, 5],
        [5, 10, 16, 8, 5],
        [5, 10, 18, 8, 5],
        [5, 10, 20, 8, 5],
    ]
    parts = []
    for i, dwell in enumerate(dwells):
        outcomes = [StationOutcome.OK] * 5
        if i == 3:
            outcomes[1] = StationOutcome.NOK  # the last part fails the visual station
        parts.append(
            builders.run_part(
                cell,
                batch,
                start=start + dt.timedelta(seconds=60 * i),
                dwell_s=dwell,
                outcomes=outcomes,
            )
        )

    # A reject: NOK at the visual station, failed, taken out through the cobot station (never reaches unload)
    # after a 45 s human review there, which is off the line's takt: its cycle time is its 12 s at dimensional.
    reject = factories.make_part(batch)
    load, visual, dimensional, cobot, _ = builders.stations(cell)
    at = start + dt.timedelta(seconds=300)
    for station, dwell, outcome in (
        (load, 5, StationOutcome.OK),
        (visual, 10, StationOutcome.NOK),
        (dimensional, 12, StationOutcome.OK),
        (cobot, 45, StationOutcome.OK),
    ):
        builders.visit(reject, station, entered=at, dwell_s=dwell, outcome=outcome)
        at += dt.timedelta(seconds=dwell)
    actions.set_part_status(reject, status=PartStatus.FAILED, actor=None, reason="NOK at visual")
    # A part still at the visual station has not left the cell.
    builders.visit(factories.make_part(batch), visual, entered=builders.now() - dt.timedelta(seconds=5), dwell_s=None)

    state = live_state.cell_snapshot(cell)
    kpis = state["kpis"]
    assert kpis["completed"] == 5
    assert [p["cycle_s"] for p in state["charts"]["cycle"]] == [14.0, 16.0, 18.0, 20.0, 12.0]
    assert kpis["cycle_mean_s"] == 16.0
    assert kpis["cycle_p95_s"] == 20.0
    assert kpis["first_pass_yield"] == 0.6
    assert kpis["quality"] == 0.6
    assert state["bottleneck"] == "dimensional"
    # planned time runs from the first entry (30 min ago) to now; run time is the occupied part of it.
    assert 29 * 60 < kpis["planned_s"] <= 30 * 60 + 5
    # parts never overlap here; the part still at the visual station adds its 5 s so far
    assert kpis["run_s"] == pytest.approx(sum(sum(d) for d in dwells) + 72 + 5, abs=0.5)
    assert kpis["performance"] == pytest.approx(15.0 * 5 / kpis["run_s"], rel=1e-3)
    assert [s["state"] for s in state["stations"]] == ["idle", "running", "idle", "idle", "idle"]


@pytest.mark.django_db
def test_it_counts_a_part_awaiting_review_after_a_failed_inspection_against_first_pass_yield(cell: Any) -> None:
    """The Pareto counts a NOK the moment it is found; first-pass yield must too, not only once the part has
    left the cell after its review."""
    batch = builders.batch_for(cell)
    now = builders.now()
    start = now - dt.timedelta(minutes=10)
    for i in range(2):
        builders.run_part(
            cell,
            batch,
            start=start + dt.timedelta(seconds=60 * i),
            dwell_s=[5, 10, 12, 8, 5],
            verdicts={"visual": "pass", "dimensional": "pass"},
        )
    load, visual, dimensional, cobot, _ = builders.stations(cell)
    s = dt.timedelta(seconds=1)
    # Failed at the visual station, on hold, now at the failure-analysis station awaiting a human review.
    waiting = factories.make_part(batch)
    at = start + 180 * s
    builders.visit(waiting, load, entered=at, dwell_s=5)
    builders.visit(waiting, visual, entered=at + 5 * s, dwell_s=10, outcome=StationOutcome.NOK)
    builders.inspect(waiting, visual, at=at + 6 * s, verdict="fail", defect_class="dent")
    builders.visit(waiting, dimensional, entered=at + 15 * s, dwell_s=12)
    builders.inspect(waiting, dimensional, at=at + 16 * s, verdict="pass")
    actions.set_part_status(waiting, status=PartStatus.ON_HOLD, actor=None, reason="not passed by inspection")
    builders.visit(waiting, cobot, entered=now - 20 * s, dwell_s=None)
    # Passed the visual station so far and still on the line: its first pass is not decided yet.
    going = factories.make_part(batch)
    builders.visit(going, load, entered=now - 12 * s, dwell_s=5)
    builders.visit(going, visual, entered=now - 7 * s, dwell_s=None)
    builders.inspect(going, visual, at=now - 6 * s, verdict="pass")

    state = live_state.cell_snapshot(cell)
    kpis = state["kpis"]
    assert state["charts"]["pareto"] == [{"defect_class": "dent", "count": 1}]
    assert (kpis["completed"], kpis["good"], kpis["quality"]) == (2, 2, 1.0)  # OEE's Q counts finished parts
    assert (kpis["first_pass_ok"], kpis["first_pass_decided"]) == (2, 3)
    assert kpis["first_pass_yield"] == pytest.approx(2 / 3)

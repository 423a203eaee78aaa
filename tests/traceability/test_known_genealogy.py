"""Backward and forward trace return exactly the known answers (tests/genealogy/known.py), on SQLite and
PostgreSQL alike, in a fixed number of queries whatever the size of the genealogy."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import known_genealogy as known
from traceability import genealogy

pytestmark = pytest.mark.django_db


@pytest.fixture
def g(db: Any) -> known.KnownGenealogy:
    return known.build()


def test_it_traces_a_part_back_to_exactly_its_lots_and_sub_assemblies(g: known.KnownGenealogy) -> None:
    for name, (expected_parts, expected_lots) in sorted(known.EXPECTED_BACKWARD.items()):
        trace = genealogy.backward_trace(g.parts[name])

        assert g.names(trace.serials) == expected_parts, name
        assert g.names(trace.lot_keys) == expected_lots, name


def test_it_traces_a_lot_forward_to_exactly_the_parts_it_reached(g: known.KnownGenealogy) -> None:
    for name, expected in sorted(known.EXPECTED_FORWARD.items()):
        trace = genealogy.forward_trace(g.lots[name])

        assert g.names(trace.serials) == expected, name
        assert set(genealogy.reached_part_ids(g.lots[name])) == {g.parts[n].pk for n in expected}, name


def test_it_follows_splits_and_merges_down_to_every_descendant_lot(g: known.KnownGenealogy) -> None:
    for name, expected in sorted(known.EXPECTED_DESCENDANT_LOTS.items()):
        assert g.names(genealogy.forward_trace(g.lots[name]).lot_keys) == expected, name


def test_it_says_how_each_part_was_reached(g: known.KnownGenealogy) -> None:
    trace = genealogy.forward_trace(g.lots["A0"])
    by_name = {g.name(p.serial): p for p in trace.parts}

    assert g.names(by_name["S01"].via_lots) == {"A1"}
    assert g.names(by_name["S16"].via_lots) == {"A2"}
    assert g.names(by_name["M3"].via_lots) == {"A1a"}
    assert g.names(by_name["M1"].via_components) == {"S01", "S02"} and by_name["M1"].via_lots == []
    assert g.names(by_name["T1"].via_components) == {"M1"}


def test_it_lists_where_a_merged_lot_came_from(g: known.KnownGenealogy) -> None:
    trace = genealogy.forward_trace(g.lots["RM"])

    assert g.names(lot.lot_key for lot in trace.sources.values()) == {"R1", "R2"}
    assert g.names(lot.lot_key for lot in genealogy.forward_trace(g.lots["A1a"]).sources.values()) == {"A1", "A0"}
    assert genealogy.forward_trace(g.lots["A0"]).sources == {}


def test_it_builds_the_part_tree_with_quantities_and_lot_links(g: known.KnownGenealogy) -> None:
    trace = genealogy.backward_trace(g.parts["T1"])

    assert g.name(trace.parts[0].part.serial) == "T1" and trace.parts[0].assembly_id is None
    assert g.names(n.part.serial for n in trace.components_of(g.parts["T1"].pk)) == {"M1"}
    assert g.names(n.part.serial for n in trace.components_of(g.parts["M1"].pk)) == {"S01", "S02"}
    assert {n.depth for n in trace.parts} == {0, 1, 2}
    s01 = [(g.name(trace.lots[c.lot_id].lot_key), str(c.quantity)) for c in trace.consumptions_of(g.parts["S01"].pk)]
    assert sorted(s01) == [("A1", "0.420"), ("RM", "1.000")]
    rm_parents = {g.name(trace.lots[link.parent_id].lot_key) for link in trace.parents_of(g.lots["RM"].pk)}
    assert rm_parents == {"R1", "R2"}


def test_it_traces_backward_in_a_fixed_number_of_queries(
    g: known.KnownGenealogy, django_assert_max_num_queries: Any
) -> None:
    small = g.parts["U1"]
    large = g.parts["T1"]  # four parts, six lots over three levels

    with django_assert_max_num_queries(9) as small_queries:
        genealogy.backward_trace(small)
    with django_assert_max_num_queries(9) as large_queries:
        genealogy.backward_trace(large)

    assert len(large_queries.captured_queries) == len(small_queries.captured_queries)


def test_it_traces_forward_in_a_fixed_number_of_queries(
    g: known.KnownGenealogy, django_assert_max_num_queries: Any
) -> None:
    # 7 walks and fetches; on PostgreSQL the wide walk adds a savepoint and its SET LOCAL planner settings.
    with django_assert_max_num_queries(10) as small_queries:
        small = genealogy.forward_trace(g.lots["A1a"])  # 1 part; came from A1, A0
    with django_assert_max_num_queries(10) as large_queries:
        large = genealogy.forward_trace(g.lots["A1"])  # 18 parts over two lot levels and two assembly levels

    assert len(small.parts) == 1 and len(large.parts) == 18
    assert len(large_queries.captured_queries) == len(small_queries.captured_queries)
    with django_assert_max_num_queries(10):
        assert len(genealogy.forward_trace(g.lots["A0"]).parts) == 34


def test_it_keeps_every_serial_of_a_batch_apart(g: known.KnownGenealogy) -> None:
    """One batch made 30 serials from two different lot pairs: each serial keeps its own genealogy."""
    first = genealogy.backward_trace(g.parts["S01"])
    last = genealogy.backward_trace(g.parts["S30"])

    assert g.names(first.lot_keys) == {"A1", "A0", "RM", "R1", "R2"}
    assert g.names(last.lot_keys) == {"A2", "A0", "R3"}
    assert first.part.batch_id == last.part.batch_id


def test_it_lists_station_events_inspections_failure_cases_and_audit_in_time_order(g: known.KnownGenealogy) -> None:
    from tests.support import factories
    from traceability import actions
    from traceability.choices import FoundBy

    events = known.add_station_history(g, "S01")
    inspection = known.add_inspection(g, "S01", verdict="fail")
    case = actions.open_failure_case(
        g.parts["S01"],
        defect_code=factories.make_defect_code("oversized_hole"),
        found_by=FoundBy.MACHINE,
        actor=None,
    )

    trace = genealogy.backward_trace(g.parts["M1"])

    assert [e.pk for e in trace.station_events] == [e.pk for e in events]
    assert [e.parameters["cycle_time_s"] for e in trace.station_events] == [12.5, 12.5, 12.5]
    [step] = trace.inspections
    assert step.key == str(inspection.result_id) and step.verdict == "fail"
    assert step.model_version == "flange-cls-1.2.0" and step.reviewer is None
    assert [(m.name, m.value, m.lower_limit, m.upper_limit, m.passed) for m in step.measurements] == [
        ("bore_diameter", 30.02, 30.0, 30.05, True),
        ("outer_size", 80.07, 79.95, 80.05, False),
    ]
    assert [c.pk for c in trace.failure_cases] == [case.pk]
    actions_seen = {a.action for a in trace.audit_records}
    assert {"part.register", "station.enter", "station.leave", "failure_case.open"} <= actions_seen
    times = [entry[0] for entry in trace.timeline()]
    assert times == sorted(times)
    assert genealogy.backward_trace(g.parts["T1"]).inspections == trace.inspections  # sub-assembly of a sub-assembly
    assert genealogy.backward_trace(g.parts["S02"]).inspections == []

"""The SPC pages: the part type's capability summary says in words whether each characteristic is capable, or
that capability is not meaningful because the process is not in control; the characteristic page serves Plotly
locally; the CSV holds every point behind the chart; the pages are for roles that may see SPC."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from django.urls import reverse

from spc.models import Characteristic

MEAN, SIGMA = 30.042, 0.007


def test_it_summarises_capability_in_words(
    characteristic: Characteristic, add_values: Callable[[Sequence[float]], None], quality_engineer: Any, login: Any
) -> None:
    add_values(list(np.random.default_rng(4).normal(MEAN, SIGMA, 299)))
    client = login(quality_engineer)
    page = client.get(reverse("spc-part-type", args=[characteristic.part_type.code])).content.decode()
    row = re.search(r'<tr data-characteristic="bore_diameter".*?</tr>', page, re.S).group(0)  # type: ignore[union-attr]
    assert "In statistical control" in row and "Capable (Cpk ≥ 1.33)" in row and "Phase I: not frozen" in row


def test_it_marks_capability_not_meaningful_when_out_of_control(
    characteristic: Characteristic, add_values: Callable[[Sequence[float]], None], quality_engineer: Any, login: Any
) -> None:
    rng = np.random.default_rng(6)
    add_values(list(rng.normal(MEAN, SIGMA, 200)) + list(rng.normal(MEAN + 4 * SIGMA, SIGMA, 100)))  # a shift
    client = login(quality_engineer)
    page = client.get(reverse("spc-part-type", args=[characteristic.part_type.code])).content.decode()
    row = re.search(r'<tr data-characteristic="bore_diameter".*?</tr>', page, re.S).group(0)  # type: ignore[union-attr]
    assert "Not in statistical control" in row and "not meaningful: process not in control" in row
    assert not re.search(r"Cpk \d", row)  # no bare number
    detail = client.get(characteristic.get_absolute_url()).content.decode()
    assert "not meaningful: process not in control" in detail


def test_it_serves_the_chart_page_without_a_cdn_and_exports_its_data(
    characteristic: Characteristic, add_values: Callable[[Sequence[float]], None], supervisor: Any, login: Any
) -> None:
    add_values(list(np.random.default_rng(8).normal(MEAN, SIGMA, 124)))
    client = login(supervisor)
    page = client.get(characteristic.get_absolute_url()).content.decode()
    assert "/static/vendor/plotly.min.js" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    data = client.get(reverse("api-spc-characteristic", args=[characteristic.pk])).json()
    assert data["points"]["count_total"] == 25 and data["values"]["total"] == 125
    assert data["limits"]["frozen"] is False and data["histogram"]["counts"]
    rows = list(
        csv.reader(io.StringIO(client.get(reverse("spc-chart-csv", args=[characteristic.pk])).content.decode()))
    )
    assert rows[0][:3] == ["point", "phase", "serial"] and len(rows) == 1 + 25
    assert float(rows[1][5]) == data["points"]["location"][0]
    hist = list(
        csv.reader(io.StringIO(client.get(reverse("spc-histogram-csv", args=[characteristic.pk])).content.decode()))
    )
    assert sum(int(r[2]) for r in hist[1:]) == 125


def test_it_keeps_spc_from_people_without_a_role(characteristic: Characteristic, outsider: Any, login: Any) -> None:
    client = login(outsider)
    assert client.get(characteristic.get_absolute_url()).status_code == 403
    assert client.get(reverse("api-spc-characteristic", args=[characteristic.pk])).status_code == 403


def test_it_notes_a_non_normal_distribution_on_the_characteristic_page(
    characteristic: Characteristic, add_values: Callable[[Sequence[float]], None], quality_engineer: Any, login: Any
) -> None:
    add_values(list(MEAN - 0.01 + np.random.default_rng(5).exponential(SIGMA, 200)))  # skewed: not normal
    page = login(quality_engineer).get(characteristic.get_absolute_url()).content.decode()
    assert "Not normal (Anderson–Darling p = " in page
    assert "the normal-based indices may mislead; consider the percentile method" in page

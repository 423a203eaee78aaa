"""CSV exports in a Brazilian Excel: for a user working in pt-BR, a UTF-8 byte-order mark, semicolons and decimal
commas; in English, the plain comma-separated file the other tools read."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from django.urls import reverse

from accounts.models import UserPreference
from spc.models import Characteristic


def test_it_exports_csv_with_bom_semicolons_and_decimal_commas_in_portuguese(
    characteristic: Characteristic, add_values: Callable[[Sequence[float]], None], supervisor: Any, login: Any
) -> None:
    add_values(list(np.random.default_rng(8).normal(30.042, 0.007, 124)))
    english = login(supervisor).get(reverse("spc-chart-csv", args=[characteristic.pk])).content.decode()
    assert not english.startswith("\ufeff")
    english_rows = list(csv.reader(io.StringIO(english)))

    UserPreference.objects.create(user=supervisor, language="pt-br")
    body = login(supervisor).get(reverse("spc-chart-csv", args=[characteristic.pk])).content.decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:]), delimiter=";"))
    assert len(rows) == len(english_rows) and rows[0] == english_rows[0]
    location = rows[1][5]
    assert "," in location and "." not in location
    assert float(location.replace(",", ".")) == float(english_rows[1][5])

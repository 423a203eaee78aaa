"""CSV downloads that open right in the user's spreadsheet. In English: comma-separated, decimal point, as before. In
Brazilian Portuguese, as Excel in a Brazilian plant reads a file by double-click: a UTF-8 byte-order mark (else
"peça" arrives as "peÃ§a"), semicolons between fields (the comma is the decimal separator there) and decimal
commas in the numbers."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from django.utils import formats, translation

BOM = "\ufeff"
# Languages whose spreadsheets use the decimal comma and the semicolon as list separator.
SEMICOLON_LANGUAGES = {"pt-br"}


def _cell(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (float, Decimal)):
        return value
    return formats.number_format(value, use_l10n=True)


def csv_response(rows: Iterable[Iterable[Any]], filename: str) -> HttpResponse:
    """A CSV attachment of `rows` (the header row first) in the active language's spreadsheet dialect."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    if translation.get_language() in SEMICOLON_LANGUAGES:
        response.write(BOM)
        writer = csv.writer(response, delimiter=";")
        for row in rows:
            writer.writerow([_cell(v) for v in row])
    else:
        csv.writer(response).writerows(rows)
    return response

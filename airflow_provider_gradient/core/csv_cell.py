"""The one rule for CSV cells a spreadsheet could execute (CSV / formula injection).

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets (``-2+3+cmd|' /C calc'!A0`` runs a command), so it is written with a leading
``'`` — unless the whole cell is a plain decimal number (``-2.5``, ``+1e3``), which stays a number.

The pages' client-side "Export CSV" (``plugins/ui/static/gradient.js``: ``csvCell``) applies the same two
regular expressions; ``tests/browser`` checks both exports give the same cells.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

#: A cell starting with one of these is a formula to a spreadsheet.
FORMULA_START = re.compile(r"^[=+\-@\t\r]")
#: A plain decimal number (kept as it is, even when it starts with ``-`` or ``+``).
NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def safe_cell(value: Any) -> str:
    """The text of a CSV cell that no spreadsheet executes (``None`` is the empty cell).

    :param value: the cell's value
    """
    text = "" if value is None else str(value)
    if FORMULA_START.match(text) and not NUMBER.match(text):
        return "'" + text
    return text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A whole CSV document (RFC 4180: CRLF line ends, so a cell holding CR or LF is quoted), every cell
    passed through :func:`safe_cell`.

    :param header: the column names
    :param rows: the rows' values, in the header's order
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([safe_cell(h) for h in header])
    for row in rows:
        w.writerow([safe_cell(v) for v in row])
    return buf.getvalue()

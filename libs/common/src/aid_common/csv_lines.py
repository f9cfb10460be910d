"""CSV lines as spreadsheets may open them safely: a text cell that a spreadsheet would run as a formula (it
starts with `=`, `+`, `-`, `@`, a tab or a carriage return: OWASP's CSV injection) is written with a leading `'`,
so `=HYPERLINK(…)` in a project's title reaches a coordinator's spreadsheet as text. Numbers, dates and ids are
written as they are (a negative amount stays a number); HXL hashtag rows start with `#` and are left alone."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def line(values: Iterable[object]) -> str:
    """One CSV line (RFC 4180, CRLF) of these values, each made safe to open."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([cell(v) for v in values])
    return out.getvalue()

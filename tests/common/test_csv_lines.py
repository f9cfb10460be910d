"""CSV cells a spreadsheet would run as formulas are written as text; numbers and HXL hashtags are not touched."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from aid_common.csv_lines import line


def test_a_formula_is_written_as_text_and_a_number_as_a_number() -> None:
    values = ['=HYPERLINK("http://x","click")', "+1", "-2", "@SUM(A1)", "\tx", "\rx", Decimal("-5.00"), None, "#org"]
    (row,) = csv.reader(io.StringIO(line(values)))
    assert row == ['\'=HYPERLINK("http://x","click")', "'+1", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "-5.00", "", "#org"]
    assert line(["Kuwait Red Crescent", "جمعية الهلال الأحمر الكويتي"]).endswith("\r\n")

"""CSV files meant for people are opened in spreadsheets, which run a cell starting with
``=``, ``+``, ``-`` or ``@`` as a formula (CSV injection). ``neutralise_formulas`` makes such
cells inert for the files people open (rejected rows, inference-log exports).

Machine files (``processed.csv``) are written exactly: training reads every cell back as text,
and their cells are numbers, declared categories and ids that passed the API's id pattern.
"""

from __future__ import annotations

import re

import pandas as pd

FORMULA_START = r"[=+\-@\t\r]"
PLAIN_NUMBER = r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?"


def _inert(text: str) -> str:
    formula = re.match(FORMULA_START, text) and not re.fullmatch(PLAIN_NUMBER, text)
    return "'" + text if formula else text


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy in which each text cell (and column name) that a spreadsheet would run as a
    formula starts with an apostrophe, OWASP's advice: shown as text, never evaluated. Plain
    numbers such as ``-3`` stay as they are, and cells that are not text are not touched."""
    out = frame.copy()
    out.columns = [_inert(c) if isinstance(c, str) else c for c in out.columns]
    for column in out.columns:
        values = out[column]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        text = values.astype("string")
        risky = text.str.match(FORMULA_START, na=False) & ~text.str.fullmatch(
            PLAIN_NUMBER, na=False
        )
        if risky.any():
            out.loc[risky, column] = "'" + text[risky]
    return out

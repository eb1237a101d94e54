"""A view's rows as plain values: what the overview's detail grid, its xlsx export and the record pages send.

Layer tables are stored by column (a list per column pickles and loads far faster than a dict per row;
province tables have 200,000 rows per layer) with missing values as None and a `link` column to the
project or case page. `dashboard.services` uses these under its old private names (`_columns`,
`_table_columns`, `_with_links`, `_quote`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def columns(table: pd.DataFrame) -> tuple[list[str], list[list]]:
    """A frame as (column names, one list of values per column): what `to_dict("records")` would give, stored
    by column (one list per column pickles and loads far faster than a dict per row; province tables have
    100,000+ rows)."""
    from pandas.core.dtypes.cast import maybe_box_native

    data = []
    for c in table.columns:
        values = table[c].tolist()
        if table[c].dtype == object and any(isinstance(v, np.generic) for v in values):
            values = [maybe_box_native(v) for v in values]  # as to_dict does: numpy scalars as Python ones
        data.append(values)
    return list(table.columns), data


def table_columns(table: pd.DataFrame) -> tuple[list[str], list[list]]:
    """`columns(with_links(table))` without copying the table twice (province tables: 200,000 rows per layer):
    each column's values as Python objects, missing values as None, the `link` column last."""
    link = None
    if "链接" in table.columns:
        link = table["链接"].fillna("")
    elif "项目编号" in table.columns:
        link = "/project/" + table["项目编号"].astype(str).map(quote)
    cols = [c for c in table.columns if c != "链接"]
    data = [plain_values(table[c]) for c in cols]
    if link is not None:
        cols.append("link")
        data.append(plain_values(link))
    return cols, data


def plain_values(col: pd.Series) -> list:
    """What `col.astype(object).where(col.notna(), None).tolist()` gives, numpy scalars boxed as Python ones."""
    from pandas.core.dtypes.cast import maybe_box_native

    values = col.tolist()
    missing = np.flatnonzero(pd.isna(col).to_numpy())
    for i in missing:
        values[i] = None
    if col.dtype == object and any(isinstance(v, np.generic) for v in values):
        values = [maybe_box_native(v) for v in values]
    return values


def with_links(table: pd.DataFrame) -> pd.DataFrame:
    """A layer table with a `link` column (to the project or case's page) for the grid."""
    t = table.copy()
    if "链接" in t.columns:
        t["link"] = t.pop("链接").fillna("")
    elif "项目编号" in t.columns:
        t["link"] = "/project/" + t["项目编号"].astype(str).map(quote)
    return t.astype(object).where(pd.notna(t), None)


def quote(s: str) -> str:
    from urllib.parse import quote

    return quote(str(s), safe="")


def digest(trace: dict) -> str:
    """A short fingerprint of a map trace (or any JSON-able value): a page re-sends a part only when it changed."""
    import hashlib
    import json

    text = json.dumps(trace, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()

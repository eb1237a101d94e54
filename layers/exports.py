"""Spreadsheet exports that are safe to open: formula injection neutralised, personal data masked.

- Formula injection (CSV/xlsx "DDE" attacks): a text cell starting with = + - @ or a tab /
  carriage return gets a leading apostrophe, and xlsx strings are never written as formulas
  or links (xlsxwriter `strings_to_formulas=False`, `strings_to_urls=False`).
- Personal data: columns flagged `Column.info["pii"]` in geodata/schema.py ("id", "phone",
  "name"), found by field name or Chinese header, are masked: 410183********1234,
  138****5678, 张*明.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from geodata.schema import DATA_TABLES
from layers.units import by_unique

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# ---- formula injection ---------------------------------------------------------------------


def neutralise_value(v):
    """One cell: text starting with = + - @ (or tab/CR) gets a leading apostrophe; anything else unchanged."""
    if isinstance(v, str) and v.startswith(FORMULA_PREFIXES):
        return "'" + v
    return v


def neutralise(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` whose text cells cannot run as formulas (numbers stay numbers)."""
    out = df.copy()
    for c in out.columns:
        s = out[c]
        if pd.api.types.is_string_dtype(s.dtype) and s.dtype != object:
            hit = s.str.startswith(FORMULA_PREFIXES).fillna(False).astype(bool)
            if hit.any():
                out[c] = s.where(~hit, "'" + s)
        elif s.dtype == object:
            out[c] = s.map(neutralise_value)
    out.columns = [neutralise_value(str(c)) for c in out.columns]
    return out


# ---- personal data -------------------------------------------------------------------------


def _keep_ends(v: str, head: int, tail: int, min_len: int) -> str:
    if len(v) < min_len:
        return "*" * len(v)
    return v[:head] + "*" * max(len(v) - head - tail, 1) + (v[-tail:] if tail else "")


def _mask_value(v, fn) -> str:
    """One present value: stripped text, masked by `fn`; "" stays ""."""
    t = str(v).strip()
    return fn(t) if t else t


def _mask(s, fn) -> pd.Series:
    """Mask each distinct value once; missing stays missing, "" stays ""."""
    s = _series(s)
    out = by_unique(s, lambda v: _mask_value(v, fn), None)
    return out.where(s.notna(), s)


def _id(v: str) -> str:
    return _keep_ends(v, 6, 4, 11)


def _phone(v: str) -> str:
    return _keep_ends(v, 3, 4, 8)


def _name(v: str) -> str:
    return v[0] + "*" if len(v) <= 2 else v[0] + "*" * (len(v) - 2) + v[-1]


def mask_id(s: pd.Series) -> pd.Series:
    """ID numbers: first 6 and last 4 kept, '410183199001011234' -> '410183********1234'."""
    return _mask(s, _id)


def mask_phone(s: pd.Series) -> pd.Series:
    """Phone numbers: first 3 and last 4 kept, '13812345678' -> '138****5678'."""
    return _mask(s, _phone)


def mask_name(s: pd.Series) -> pd.Series:
    """Person names: first and last character kept, '张三' -> '张*', '张三明' -> '张*明'."""
    return _mask(s, _name)


MASKERS = {"id": mask_id, "phone": mask_phone, "name": mask_name}
VALUE_MASKERS = {"id": _id, "phone": _phone, "name": _name}  # the same masks, one stripped value at a time


def _series(s) -> pd.Series:
    return s if isinstance(s, pd.Series) else pd.Series(s)


def pii_columns(kind: str | None = None) -> dict[str, str]:
    """{field name or Chinese header or alias: pii type} from the schema (one kind, or all kinds)."""
    tables = [DATA_TABLES[kind]] if kind else DATA_TABLES.values()
    out: dict[str, str] = {}
    for t in tables:
        for c in t.columns:
            p = c.info.get("pii")
            if p:
                out[c.name] = p
                if c.info.get("zh"):
                    out[c.info["zh"]] = p
    return out


def mask_frame(df: pd.DataFrame, kind: str | None = None, extra: dict[str, str] | None = None) -> pd.DataFrame:
    """A copy with every PII column (by schema flag, field name or Chinese header) masked."""
    flags = {**pii_columns(kind), **(extra or {})}
    out = df.copy()
    for c in out.columns:
        p = flags.get(str(c))
        if p in MASKERS:
            out[c] = MASKERS[p](out[c])
    return out


def mask_record(row: dict, kind: str | None = None, extra: dict[str, str] | None = None) -> dict:
    """`mask_frame` for one plain record (a page's row, no pandas): a copy with every PII field masked."""
    flags = {**pii_columns(kind), **(extra or {})}
    out = dict(row)
    for k, v in row.items():
        p = flags.get(str(k))
        if p in VALUE_MASKERS and not _absent(v):
            out[k] = _mask_value(v, VALUE_MASKERS[p])
    return out


def _absent(v) -> bool:
    """Missing as in `Series.notna` (None, NaN, NaT, pd.NA): such values stay as they are."""
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


# ---- writers -------------------------------------------------------------------------------

_BAD_SHEET = re.compile(r"[\[\]:*?/\\]")


def sheet_name(name: str, used: set[str] | None = None) -> str:
    """An Excel-legal sheet name (≤ 31 characters, no []:*?/\\), unique within `used`."""
    base = _BAD_SHEET.sub("_", str(name)).strip("'") or "Sheet"
    base = base[:31]
    used = used if used is not None else set()
    cand, i = base, 2
    while cand in used:
        suffix = f"({i})"
        cand, i = base[: 31 - len(suffix)] + suffix, i + 1
    used.add(cand)
    return cand


def _prepare(df: pd.DataFrame) -> pd.DataFrame:
    out = neutralise(df.reset_index(drop=True))
    for c in out.columns:
        s = out[c]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            out[c] = s.dt.tz_localize(None)
        elif pd.api.types.is_string_dtype(s.dtype) and s.dtype != object:
            out[c] = s.astype(object).where(s.notna(), None)
    return out


def write_xlsx(sheets: dict[str, pd.DataFrame] | pd.DataFrame, target: str | Path | IO[bytes]) -> None:
    """Write one or more frames to an xlsx (bold frozen header, fitted widths), neutralised."""
    if isinstance(sheets, pd.DataFrame):
        sheets = {"Sheet1": sheets}
    used: set[str] = set()
    with pd.ExcelWriter(target, engine="xlsxwriter", date_format="yyyy-mm-dd", datetime_format="yyyy-mm-dd hh:mm",
                        engine_kwargs={"options": {"strings_to_formulas": False, "strings_to_urls": False,
                                                   "nan_inf_to_errors": True}}) as xw:
        for name, df in sheets.items():
            sn = sheet_name(name, used)
            data = _prepare(df)
            data.to_excel(xw, sheet_name=sn, index=False)
            ws = xw.sheets[sn]
            ws.freeze_panes(1, 0)
            for j, col in enumerate(data.columns):
                width = _width(data[col], str(col))
                ws.set_column(j, j, width)


def _width(s: pd.Series, header: str) -> float:
    """Column width in Excel units: CJK characters count double; capped at 60."""
    head = s.head(200)
    sample = [header, *(str(v) for v in head[head.notna()].tolist())]  # NA-safe: None, NaN, NaT and pd.NA skipped
    longest = max(sum(2 if ord(ch) > 0x2E80 else 1 for ch in v) for v in sample)
    return float(np.clip(longest + 2, 6, 60))


def xlsx_bytes(sheets: dict[str, pd.DataFrame] | pd.DataFrame) -> bytes:
    """The xlsx as bytes (for a download button)."""
    buf = io.BytesIO()
    write_xlsx(sheets, buf)
    return buf.getvalue()


def write_csv(df: pd.DataFrame, target: str | Path | IO) -> None:
    """CSV in UTF-8 with BOM (Excel opens Chinese correctly), neutralised."""
    _prepare(df).to_csv(target, index=False, encoding="utf-8-sig")


def csv_bytes(df: pd.DataFrame) -> bytes:
    return _prepare(df).to_csv(index=False).encode("utf-8-sig")

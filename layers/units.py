"""Units, months and dates shared by the layers: formatting (万元, 人, %, 2024年3月) and month arithmetic.

Months are 'YYYY-MM' strings in the store; arithmetic goes through an integer month index
(year * 12 + month - 1), vectorised over whole columns.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd

from layers.base import Filters

# ---- reference date and evaluation month ---------------------------------------------------


def ref_date(filters: Filters | None) -> pd.Timestamp:
    """The date the layers evaluate at: the end of `month_to`, but never after `as_of` (default today)."""
    f = filters or Filters()
    as_of = pd.Timestamp(f.as_of).normalize() if f.as_of else pd.Timestamp(date.today())
    if f.month_to:
        end = month_end(f.month_to)
        return min(end, as_of)
    return as_of


def eval_month(filters: Filters | None) -> str:
    """'YYYY-MM' of the reference date: the month whose status the coverage layers show."""
    return ref_date(filters).strftime("%Y-%m")


def month_end(month: str) -> pd.Timestamp:
    """Last day of a 'YYYY-MM' month."""
    return pd.Period(month, freq="M").end_time.normalize()


def month_start(month: str) -> pd.Timestamp:
    return pd.Period(month, freq="M").start_time


def month_range(filters: Filters | None, default_months: int = 12) -> list[str]:
    """The months of the filter range, inclusive; default: the 12 months up to the reference month."""
    f = filters or Filters()
    last = eval_month(f)
    first = f.month_from or add_months(last, -(default_months - 1))
    if first > last:
        first = last
    return [str(p) for p in pd.period_range(first, last, freq="M")]


# ---- vectorised month arithmetic -----------------------------------------------------------


def by_unique(s: pd.Series, fn, missing=None, dtype=object) -> pd.Series:
    """Apply `fn` to each distinct value only (months, dates and codes repeat a lot), then spread back.

    Missing values (NA/NaN/NaT/None) give `missing`; `fn` never sees them.
    """
    s = s if isinstance(s, pd.Series) else pd.Series(s)
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    table = np.array([fn(u) for u in uniq] + [missing], dtype=dtype)
    return pd.Series(table[codes], index=s.index, dtype=dtype)  # object stays object (no slow str inference)


def _mi(v) -> float:
    if isinstance(v, (pd.Timestamp, date)):
        return v.year * 12 + v.month - 1
    t = str(v)
    try:
        y, m = int(t[:4]), int(t[5:7])
    except ValueError:
        return np.nan
    return y * 12 + m - 1 if 1 <= m <= 12 and t[4:5] in ("-", "/", ".") else np.nan


def month_index(s: pd.Series) -> pd.Series:
    """'YYYY-MM' (or longer date strings, or dates) -> year*12+month-1 as float; NaN where unparseable."""
    return by_unique(s, _mi, np.nan, dtype="float64")


def index_to_month(i: pd.Series) -> pd.Series:
    """Inverse of `month_index`: float index -> 'YYYY-MM' (NA where NaN)."""
    i = pd.Series(i, dtype="float64")
    return by_unique(i, month_of_index, None)


def month_of_index(i: float) -> str:
    return f"{int(i // 12):04d}-{int(i % 12) + 1:02d}"


def add_months(month: str, n: int) -> str:
    """'2024-03' + 1 -> '2024-04'."""
    y, m = int(month[:4]), int(month[5:7])
    i = y * 12 + m - 1 + n
    return month_of_index(i)


def index_to_timestamp(i: pd.Series) -> pd.Series:
    """Month index -> first day of that month (NaT where NaN)."""
    return pd.to_datetime(index_to_month(i), format="%Y-%m", errors="coerce")


# ---- column normalisation (store values may be dates, strings or None) ---------------------


def as_dates(s: pd.Series | None, index: pd.Index | None = None) -> pd.Series:
    """Any date-like column -> datetime64 (NaT where missing/unparseable)."""
    if s is None:
        return pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    out = pd.to_datetime(s, errors="coerce")
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_localize(None)
    return out.astype("datetime64[ns]")


_TRUE = {"true", "1", "1.0", "是", "有", "y", "yes", "已设立", "已开设", "已设置", "√"}


def as_flags(s: pd.Series | None, index: pd.Index | None = None) -> pd.Series:
    """Boolean-ish column -> bool; missing counts as False (an unreported mechanism is not in place)."""
    if s is None:
        return pd.Series(False, index=index, dtype=bool)
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.fillna(False).astype(bool)
    return by_unique(s, lambda v: str(v).strip().lower() in _TRUE, False, dtype=bool)


def as_numbers(s: pd.Series | None, index: pd.Index | None = None) -> pd.Series:
    if s is None:
        return pd.Series(np.nan, index=index, dtype="float64")
    return pd.to_numeric(s, errors="coerce").astype("float64")


def as_text(s: pd.Series | None, index: pd.Index | None = None) -> pd.Series:
    """Text column (object dtype) stripped, with missing/blank as None; work done once per distinct value."""
    if s is None:
        return pd.Series(None, index=index, dtype=object)
    return by_unique(s, _clean_text, None)


def _clean_text(v) -> str | None:
    t = str(v).strip()
    return t or None


def links(prefix: str, codes: pd.Series) -> pd.Series:
    """'/project/<code>' per row (URL-quoted once per distinct code), '' where the code is missing."""
    from urllib.parse import quote

    return by_unique(codes, lambda c: prefix + quote(str(c), safe=""), "")


def column(df: pd.DataFrame, name: str) -> pd.Series | None:
    return df[name] if name in df.columns else None


# ---- formatting (user-facing) ---------------------------------------------------------------


def _missing(x) -> bool:
    return x is None or x is pd.NA or x is pd.NaT or (isinstance(x, float) and math.isnan(x))


def fmt_month(month: str | None) -> str:
    """'2024-03' -> '2024年3月'."""
    if _missing(month) or not str(month)[:7].replace("-", "").isdigit():
        return "—"
    s = str(month)
    return f"{int(s[:4])}年{int(s[5:7])}月"


def fmt_date(d) -> str:
    """A date -> '2024年3月5日'."""
    if _missing(d):
        return "—"
    t = pd.Timestamp(d)
    return f"{t.year}年{t.month}月{t.day}日"


def fmt_wan(x, digits: int = 1) -> str:
    """Money in 万元: 12.34 -> '12.3万元'."""
    return "—" if _missing(x) else f"{x:,.{digits}f}万元"


def fmt_people(x) -> str:
    return "—" if _missing(x) else f"{int(round(x)):,}人"


def fmt_count(x, unit: str = "件") -> str:
    return "—" if _missing(x) else f"{int(round(x)):,}{unit}"


def fmt_pct(x, digits: int = 1) -> str:
    """A percentage already ×100: 95.24 -> '95.2%'."""
    return "—" if _missing(x) else f"{x:.{digits}f}%"


def fmt_value(x, unit: str) -> str:
    """Format by unit: '万元', '人', '%', '件', '个'."""
    if unit == "万元":
        return fmt_wan(x)
    if unit == "人":
        return fmt_people(x)
    if unit == "%":
        return fmt_pct(x)
    return fmt_count(x, unit)


def fmt_months(s: pd.Series) -> pd.Series:
    """Vectorised fmt_month for a 'YYYY-MM' column ('—' where missing)."""
    return by_unique(s, fmt_month, "—")


def fmt_month_of_dates(s: pd.Series) -> pd.Series:
    """Dates -> the month they fall in, '2024年3月' ('—' where missing)."""
    return by_unique(as_dates(s), lambda t: f"{t.year}年{t.month}月", "—")


def fmt_dates(s: pd.Series) -> pd.Series:
    """Vectorised fmt_date for a date column ('—' where missing)."""
    return by_unique(as_dates(s), fmt_date, "—")


def fmt_numbers(s: pd.Series, pattern: str = "%.1f", missing: str = "—") -> pd.Series:
    """Numbers to text with a printf pattern, in C (np.char.mod), '—' where missing."""
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64")
    ok = ~np.isnan(v)
    out = np.full(len(v), missing, dtype=object)
    if ok.any():
        out[ok] = _format(v[ok], pattern)
    return pd.Series(out, index=s.index, dtype=object)


def _format(v: np.ndarray, pattern: str) -> np.ndarray:
    """printf-style formatting in numpy; integer arithmetic for the two patterns the layers use."""
    if pattern == "%.0f":
        return np.round(v).astype(np.int64).astype(str)
    if pattern == "%.1f":
        t = np.round(v * 10).astype(np.int64)
        a = np.abs(t)
        sign = np.where(t < 0, "-", "")
        return np.char.add(np.char.add(np.char.add(sign, (a // 10).astype(str)), "."), (a % 10).astype(str))
    return np.char.mod(pattern, v)

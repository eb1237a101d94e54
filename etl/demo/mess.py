"""The mess offices put in their files, and the rows planted to be rejected, in known shares.

Cell formatting (dates as 2024-03-01 / 2024/3/1 / 2024年3月1日 / Excel serials or date cells,
是/否/有/无/√/×, full-width digits, stray spaces, old township names, 元 instead of 万元) turns
typed columns into the cells a writer puts in a file. `plant` picks rows and breaks each in
exactly one way (reason codes shared with etl.validate), so the manifest can say what the ETL
must reject. Everything works on whole columns; per-row work is limited to planted rows.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from etl.demo import names as nm
from etl.demo import place
from geodata.townships import TOWNSHIPS, aliases_for

FULL_WIDTH = str.maketrans(
    "0123456789.-ABCDEFGHJKLMNPQRTUWXY", "０１２３４５６７８９．－ＡＢＣＤＥＦＧＨＪＫＬＭＮＰＱＲＴＵＷＸＹ"
)
EXCEL_EPOCH = np.datetime64("1899-12-30")
BOOLS = {"是否": ("是", "否"), "有无": ("有", "无"), "勾叉": ("√", "×")}
REASONS = ("missing_required", "bad_credit_code", "duplicate_key", "outside_city", "date_order", "negative_value")


def _pick(rng: np.random.Generator, n: int, styles: dict[str, float]) -> np.ndarray:
    keys = list(styles)
    p = np.array([styles[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), n, p=p / p.sum())]


def _table(values: np.ndarray, fmt) -> np.ndarray:
    """Apply `fmt` to the unique values only, then take: cheap for millions of repeated dates."""
    uniq, inv = np.unique(values, return_inverse=True)
    return np.array([fmt(u) for u in uniq] + [None], dtype=object)[inv] if len(uniq) else np.empty(0, dtype=object)


def dates(rng: np.random.Generator, d: np.ndarray, styles: dict[str, float], xlsx: bool) -> np.ndarray:
    """Dates (datetime64[D], NaT = blank) as cells: iso | slash | cn | serial | cell (xlsx date cell)."""
    d = np.asarray(d).astype("datetime64[D]")
    na = np.isnat(d)
    days = np.where(na, 0, (d - EXCEL_EPOCH).astype(int))
    style = _pick(rng, len(d), styles)
    out = np.empty(len(d), dtype=object)
    fmts = {
        "iso": lambda s: str(EXCEL_EPOCH + s),
        "slash": lambda s: _ymd(s, "{y}/{m}/{d}"),
        "cn": lambda s: _ymd(s, "{y}年{m}月{d}日"),
        "serial": (lambda s: int(s)) if xlsx else (lambda s: str(int(s))),
        "cell": (lambda s: (EXCEL_EPOCH + s).astype(dt.date)) if xlsx else (lambda s: str(EXCEL_EPOCH + s)),
    }
    for st in np.unique(style):
        m = style == st
        out[m] = _table(days[m], fmts[st])
    out[na] = None
    return out


def _ymd(serial: int, pattern: str) -> str:
    x = (EXCEL_EPOCH + serial).astype(dt.date)
    return pattern.format(y=x.year, m=x.month, d=x.day)


def months(rng: np.random.Generator, m: np.ndarray, styles: dict[str, float], xlsx: bool) -> np.ndarray:
    """Month indices (year*12+month-1, <0 = blank) as 2024-03 | 2024/3 | 2024年3月 | 202403 | cell (1st of month)."""
    m = np.asarray(m)
    blank = m < 0
    m = np.where(blank, 2000 * 12, m)  # placeholder, blanked below
    style = _pick(rng, len(m), styles)
    fmts = {
        "iso": lambda v: f"{v // 12}-{v % 12 + 1:02d}",
        "slash": lambda v: f"{v // 12}/{v % 12 + 1}",
        "cn": lambda v: f"{v // 12}年{v % 12 + 1}月",
        "compact": lambda v: f"{v // 12}{v % 12 + 1:02d}",
        "cell": (lambda v: dt.date(v // 12, v % 12 + 1, 1)) if xlsx else (lambda v: f"{v // 12}-{v % 12 + 1:02d}"),
    }
    out = np.empty(len(m), dtype=object)
    for st in np.unique(style):
        k = style == st
        out[k] = _table(m[k], fmts[st])
    out[blank] = None
    return out


def datetimes(rng: np.random.Generator, t: np.ndarray, styles: dict[str, float], xlsx: bool) -> np.ndarray:
    """Date-times (datetime64[m]) as 2024-03-01 09:30 | 2024/3/1 9:30 | 2024年3月1日9时30分 | serial | cell."""
    t = np.asarray(t).astype("datetime64[m]")
    style = _pick(rng, len(t), styles)
    out = np.empty(len(t), dtype=object)
    for i in np.flatnonzero(~np.isnat(t)):  # incidents only: a few thousand rows
        x = t[i].astype(dt.datetime)
        s = style[i]
        out[i] = (
            x.strftime("%Y-%m-%d %H:%M")
            if s == "iso"
            else f"{x.year}/{x.month}/{x.day} {x.hour}:{x.minute:02d}"
            if s == "slash"
            else f"{x.year}年{x.month}月{x.day}日{x.hour}时{x.minute}分"
            if s == "cn"
            else round((t[i] - EXCEL_EPOCH.astype("datetime64[m]")).astype(int) / 1440, 6)
            if s == "serial"
            else x
            if xlsx
            else x.strftime("%Y-%m-%d %H:%M:%S")
        )
        if s == "serial" and not xlsx:
            out[i] = str(out[i])
    return out


def bools(rng: np.random.Generator, b: np.ndarray, styles: dict[str, float]) -> np.ndarray:
    """Booleans as 是/否, 有/无 or √/× (styles name the pairs); missing stays blank."""
    style = _pick(rng, len(b), styles)
    out = np.empty(len(b), dtype=object)
    bb = pd.array(b, dtype="boolean")
    for key, (yes, no) in BOOLS.items():
        k = style == key
        out[k] = np.where(bb[k].fillna(False).to_numpy(dtype=bool), yes, no)
    out[pd.isna(bb)] = None
    return out


def numbers(
    x: np.ndarray,
    decimals: int,
    xlsx: bool,
    scale: float = 1.0,
    thousands_share: float = 0.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Numbers (NaN = blank) as numeric cells (xlsx) or text; `scale` 1e4 writes 万元 as 元."""
    v = np.round(np.asarray(x, dtype=float) * scale, decimals)
    na = np.isnan(v)
    if xlsx:
        out = v.astype(object) if decimals else np.where(na, 0, v).astype(np.int64).astype(object)
    else:
        out = (
            np.char.mod(f"%.{decimals}f", np.where(na, 0, v)) if decimals else np.where(na, 0, v).astype(np.int64).astype(str)
        ).astype(object)
    if thousands_share and rng is not None:
        k = np.flatnonzero(~na & (rng.random(len(v)) < thousands_share) & (np.abs(v) >= 1000))
        out[k] = [f"{val:,.{decimals}f}" for val in v[k]]
    out[na] = None
    return out


def texts(x: np.ndarray) -> np.ndarray:
    """Strings (None/NaN = blank) as an object array."""
    s = pd.Series(x, dtype=object)
    return s.where(s.notna(), None).to_numpy(dtype=object)


def full_width(rng: np.random.Generator, col: np.ndarray, share: float) -> int:
    """Turn digits (and code letters) of a share of cells to full-width text, in place; returns the count.

    Numeric and date cells chosen become text first (as when a clerk types over an Excel cell).
    """
    k = np.flatnonzero((rng.random(len(col)) < share) & pd.notna(pd.Series(col, dtype=object)).to_numpy())
    if len(k):
        as_text = [v if isinstance(v, str) else v.isoformat() if isinstance(v, dt.date) else str(v) for v in col[k]]
        col[k] = pd.Series(as_text, dtype=object).str.translate(FULL_WIDTH).to_numpy(dtype=object)
    return len(k)


def stray_spaces(rng: np.random.Generator, col: np.ndarray, share: float) -> int:
    """Leading/trailing ASCII or ideographic spaces on a share of text cells, in place."""
    is_text = pd.Series(col, dtype=object).map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    k = np.flatnonzero((rng.random(len(col)) < share) & is_text)
    if len(k):
        pads = np.array([" ", "  ", "\u3000", " \u3000"], dtype=object)
        s = pd.Series(col[k], dtype=object)
        lead = rng.random(len(k)) < 0.5
        pad = pads[rng.integers(0, len(pads), len(k))]
        col[k] = np.where(lead, pad + s, s + pad)
    return len(k)


def township_names(rng: np.random.Generator, t: np.ndarray, old_share: float) -> tuple[np.ndarray, int]:
    """Township index -> name as written: current name, or (share) an old/variant form (…办事处, 尖山风景区管委, 曲梁乡)."""
    g = place.geo()
    out = g.names[t].astype(object)
    by_code = {tw.code: tw for tw in TOWNSHIPS}
    variants = [sorted(aliases_for(by_code[c]) - {by_code[c].name}) for c in g.codes]
    k = np.flatnonzero(rng.random(len(t)) < old_share)
    pick = rng.random(len(k))
    tk = t[k]
    for ti in np.unique(tk):  # per township (19), not per row
        m = tk == ti
        forms = np.array(variants[ti], dtype=object)
        out[k[m]] = forms[(pick[m] * len(forms)).astype(int)]
    return out, len(k)


# ---- planted rejections ------------------------------------------------------------------


def plant(
    rng: np.random.Generator, df: pd.DataFrame, rules: dict[str, object], share: float, protect: np.ndarray | None = None
) -> pd.DataFrame:
    """Break `share` of the rows (at least one per rule) each in one way; adds column `_reject`.

    rules: reason_code -> the field it breaks (missing_required, bad_credit_code, negative_value),
    (later, earlier) for date_order, True for outside_city (lon/lat set outside the city, in
    WGS-84 before any CRS is applied), and for duplicate_key a non-key field to change: the
    duplicate is a copy of an earlier row with that field changed, placed later in the file;
    the later copy is the one rejected.
    """
    df = df.reset_index(drop=True).copy()
    df["_reject"] = None
    n = len(df)
    free = np.ones(n, dtype=bool) if protect is None else ~np.asarray(protect, dtype=bool)
    if "_method" in df:
        coord_rows = df["_method"].isin(["coord", "coord_swapped"]).to_numpy()
    else:
        coord_rows = np.zeros(n, dtype=bool)
    k = max(1, int(round(n * share)))
    dup_src = None
    for reason, field in rules.items():
        pool = np.flatnonzero(free & (coord_rows if reason == "outside_city" else True))
        if reason == "date_order":
            later, earlier = field
            pool = pool[df[earlier].notna().to_numpy()[pool]]
        rows = np.sort(rng.choice(pool, min(k, len(pool)), replace=False))
        free[rows] = False
        if reason == "duplicate_key":
            dup_src = rows
            continue
        df.loc[rows, "_reject"] = reason
        if reason == "missing_required":
            df.loc[rows, field] = None
        elif reason == "bad_credit_code":
            df.loc[rows, field] = nm.break_check_char(rng, df.loc[rows, field].to_numpy())
        elif reason == "negative_value":
            df.loc[rows, field] = -np.abs(df.loc[rows, field].astype(float)) - 1
        elif reason == "date_order":
            df.loc[rows, later] = df.loc[rows, earlier].to_numpy().astype("datetime64[D]") - rng.integers(1, 60, len(rows))
        elif reason == "outside_city":
            xy = place.outside_points(rng, len(rows))
            df.loc[rows, "lon"], df.loc[rows, "lat"] = xy[:, 0], xy[:, 1]
            df.loc[rows, "_method"] = "coord"
    if dup_src is not None and len(dup_src):
        copies = df.iloc[dup_src].copy()
        copies["_reject"] = "duplicate_key"
        f = rules["duplicate_key"]
        if pd.api.types.is_numeric_dtype(copies[f]):
            copies[f] = copies[f].fillna(0) + 1
        else:
            copies[f] = copies[f].fillna("").astype(str) + "（补录）"
        copies["_dup_of"] = dup_src
        # each copy goes somewhere after its original
        pos = dup_src + 1 + (rng.random(len(dup_src)) * (n - dup_src)).astype(int)
        order = np.argsort(np.r_[np.arange(n) * 2.0, pos * 2.0 - 1], kind="stable")
        df = pd.concat([df, copies], ignore_index=True).iloc[order].reset_index(drop=True)
    return df


def apply_geocoding(
    rng: np.random.Generator, df: pd.DataFrame, plan: dict[str, float], protect: np.ndarray | None = None
) -> pd.DataFrame:
    """Choose how each row is to be placed (`_method`) and blank what that method must not see.

    gazetteer: no coordinates, the address names township + village; township: no coordinates
    and no address, only the township; coord_swapped: lat/lon exchanged later, at writing.
    """
    df = df.reset_index(drop=True).copy()
    method = _pick(rng, len(df), plan)
    if protect is not None:
        method[np.asarray(protect, dtype=bool)] = "coord"
    df["_method"] = method
    return df

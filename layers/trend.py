"""Monthly series for the trend charts: cases received/closed/open, amounts, workers, reported coverage.

One row per month of the filter range (default: 12 months up to the reference month),
months labelled 2024年3月. Vectorised: cumulative counts over a month index, no loop over rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from layers.arrears import case_state
from layers.base import Filters, LayerData, derived
from layers.units import as_numbers, as_text, column, fmt_months, month_index, month_range

COLUMNS_ZH = {
    "month_label": "月份", "new_cases": "新收案件(件)", "closed_cases": "结案(件)", "open_cases": "月末在办(件)",
    "new_amount_wan": "新收案件金额(万元)", "new_workers": "新收案件涉及人数(人)", "real_name_pct": "实名制登记率(%)",
    "card_pct": "一卡通发放率(%)", "settled_pct": "月结月清率(%)", "reports": "月报项目数(个)",
}


def monthly(data: LayerData, filters: Filters | None = None) -> pd.DataFrame:
    """Per month: new/closed/open cases, new amount and workers, and coverage from that month's reports."""
    filters = filters or Filters()
    months = month_range(filters)
    mi = month_index(pd.Series(months)).to_numpy()
    out = pd.DataFrame({"month": months, "month_label": fmt_months(pd.Series(months)).to_numpy()})
    out = pd.concat([out, _cases(data, filters, mi), _reports(data, filters, mi)], axis=1)
    return out


def _cases(data: LayerData, filters: Filters, mi: np.ndarray) -> pd.DataFrame:
    cs = case_state(data, Filters(month_from=None, month_to=filters.month_to, as_of=filters.as_of,
                                  township=filters.township))
    rec = _month_of(cs["received"]) if len(cs) else np.array([])
    clo = _month_of(cs["closed_at"]) if len(cs) else np.array([])
    lo, n = mi[0], len(mi)  # the months of a range are consecutive
    opened_by = _counted_by(rec, lo, n)
    closed_by = _counted_by(clo, lo, n)
    inside = (rec >= lo) & (rec < lo + n)  # groups outside the range are dropped by the reindex anyway
    frame = pd.DataFrame({"mi": rec[inside], "amount": cs["amount"].to_numpy()[inside] if len(cs) else [],
                          "workers": cs["workers"].to_numpy()[inside] if len(cs) else []})
    g = frame.groupby("mi").agg(new_cases=("amount", "size"), new_amount_wan=("amount", "sum"), new_workers=("workers", "sum"))
    g = g.reindex(mi).fillna(0)
    closed = np.diff(np.r_[_counted_by(clo, lo - 1, 1), closed_by])
    return pd.DataFrame({
        "new_cases": g["new_cases"].astype(int).to_numpy(), "closed_cases": closed.astype(int),
        "open_cases": (opened_by - closed_by).astype(int), "new_amount_wan": g["new_amount_wan"].round(2).to_numpy(),
        "new_workers": g["new_workers"].astype(int).to_numpy(),
    })


def _month_of(d: pd.Series) -> np.ndarray:
    """Month index (year*12 + month-1, float; NaN where missing) of each date."""
    return (d.dt.year * 12 + d.dt.month - 1).to_numpy(dtype=float, na_value=np.nan)


def _counted_by(m: np.ndarray, lo: float, n: int) -> np.ndarray:
    """For each month lo, lo+1, ... (n months): how many of `m` are on or before it (NaN never)."""
    before = int(np.count_nonzero(m < lo))
    inside = m[(m >= lo) & (m < lo + n)]
    return before + np.cumsum(np.bincount((inside - lo).astype(np.int64), minlength=n)[:n])


def _reports(data: LayerData, filters: Filters, mi: np.ndarray) -> pd.DataFrame:
    """Coverage in each month from that month's reports (projects in scope; per project capped at onsite)."""
    c = data.compliance if data.compliance is not None else pd.DataFrame()
    empty = pd.DataFrame({k: np.full(len(mi), np.nan) for k in ("real_name_pct", "card_pct", "settled_pct")})
    empty["reports"] = 0
    if c.empty or "project_code" not in c.columns or "month" not in c.columns:
        return empty
    r = derived(data, ("compliance",), ("trend.reports_by_month",),
                lambda: _by_month(_normalised(c)))
    rows, months = r.rows, r.months
    if filters.township:
        rows, months = derived(data, ("compliance", "projects"), ("trend.township_rows", filters.township),
                               lambda: _township_rows(data, r, filters.township))
    sel = rows[np.searchsorted(months, mi[0], side="left"):np.searchsorted(months, mi[-1], side="right")]
    h = r.frame.iloc[sel]
    h = h[~pd.DataFrame({"c": r.code[sel], "m": h["mi"].to_numpy()}).duplicated(keep="last").to_numpy()]
    h = h.assign(reg=np.minimum(h["registered"], h["onsite"]), crd=np.minimum(h["cards"], h["onsite"]),
                 settled=(h["pt"] >= h["mi"] - 1).astype(float), one=1)
    g = h.groupby("mi").agg(onsite=("onsite", "sum"), reg=("reg", "sum"), crd=("crd", "sum"),
                            settled=("settled", "sum"), reports=("one", "sum")).reindex(mi)
    on = g["onsite"].where(g["onsite"] > 0)
    return pd.DataFrame({
        "real_name_pct": (g["reg"] / on * 100).round(1).to_numpy(), "card_pct": (g["crd"] / on * 100).round(1).to_numpy(),
        "settled_pct": (g["settled"] / g["reports"].where(g["reports"] > 0) * 100).round(1).to_numpy(),
        "reports": g["reports"].fillna(0).astype(int).to_numpy(),
    })


@dataclass
class _ByMonth:
    """The normalised reports with their rows ordered by month (row order kept within a month) and code numbers."""

    frame: pd.DataFrame
    code: np.ndarray  # number of each row's project_code (a missing code is one value, as drop_duplicates sees it)
    codes: pd.Index
    rows: np.ndarray  # row positions by month
    months: np.ndarray  # their months (NaN last)


def _by_month(h: pd.DataFrame) -> _ByMonth:
    code, codes = pd.factorize(h["project_code"].astype(object), use_na_sentinel=False)
    m = h["mi"].to_numpy(dtype=float)
    rows = np.argsort(m, kind="stable")
    return _ByMonth(frame=h, code=code, codes=pd.Index(codes, dtype=object), rows=rows, months=m[rows])


def _township_rows(data: LayerData, r: _ByMonth, township: str) -> tuple[np.ndarray, np.ndarray]:
    """The rows (by month) of the reports of the township's project codes, and their months."""
    p = data.projects
    towns = derived(data, ("projects",), ("trend.project_townships",),
                    lambda: pd.DataFrame({"code": as_text(p["project_code"]), "township": as_text(p["township_code"])}))
    inside = towns["code"][(towns["township"] == township).fillna(False)]
    mine = np.zeros(len(r.codes), dtype=bool)
    inside = inside.astype(object)
    at = r.codes.get_indexer(pd.Index(inside[inside.notna()].unique(), dtype=object))
    mine[at[at >= 0]] = True
    if inside.isna().any():  # a project without a code matches the reports without one (as isin does)
        mine[pd.isna(r.codes)] = True
    rows = r.rows[mine[r.code[r.rows]]]
    return rows, r.frame["mi"].to_numpy(dtype=float)[rows]


def _normalised(c: pd.DataFrame) -> pd.DataFrame:
    """Every monthly report normalised for the trend, once per read of the frames; do not modify."""
    return pd.DataFrame({
        "project_code": as_text(c["project_code"]), "mi": month_index(c["month"]),
        "onsite": as_numbers(column(c, "workers_onsite"), c.index).fillna(0.0),
        "registered": as_numbers(column(c, "workers_registered"), c.index).fillna(0.0),
        "cards": as_numbers(column(c, "cards_issued"), c.index).fillna(0.0),
        "pt": month_index(c["paid_through_month"]) if "paid_through_month" in c.columns else np.nan,
    })


def table(series: pd.DataFrame) -> pd.DataFrame:
    """The series with Chinese headers (for grids and exports)."""
    return series[list(COLUMNS_ZH)].rename(columns=COLUMNS_ZH)

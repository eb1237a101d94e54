"""Monthly series for the trend charts: cases received/closed/open, amounts, workers, reported coverage.

One row per month of the filter range (default: 12 months up to the reference month),
months labelled 2024年3月. Vectorised: cumulative counts over a month index, no loop over rows.
"""

from __future__ import annotations

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
    rec = month_index(cs["received"].dt.strftime("%Y-%m")).to_numpy() if len(cs) else np.array([])
    clo = month_index(cs["closed_at"].dt.strftime("%Y-%m")).to_numpy() if len(cs) else np.array([])
    rec_sorted = np.sort(rec[~np.isnan(rec)])
    clo_sorted = np.sort(clo[~np.isnan(clo)])
    opened_by = np.searchsorted(rec_sorted, mi, side="right")
    closed_by = np.searchsorted(clo_sorted, mi, side="right")
    frame = pd.DataFrame({"mi": rec, "amount": cs["amount"].to_numpy() if len(cs) else [],
                          "workers": cs["workers"].to_numpy() if len(cs) else []})
    g = frame.groupby("mi").agg(new_cases=("amount", "size"), new_amount_wan=("amount", "sum"), new_workers=("workers", "sum"))
    g = g.reindex(mi).fillna(0)
    closed = pd.Series(clo).value_counts().reindex(mi).fillna(0)
    return pd.DataFrame({
        "new_cases": g["new_cases"].astype(int).to_numpy(), "closed_cases": closed.astype(int).to_numpy(),
        "open_cases": (opened_by - closed_by).astype(int), "new_amount_wan": g["new_amount_wan"].round(2).to_numpy(),
        "new_workers": g["new_workers"].astype(int).to_numpy(),
    })


def _reports(data: LayerData, filters: Filters, mi: np.ndarray) -> pd.DataFrame:
    """Coverage in each month from that month's reports (projects in scope; per project capped at onsite)."""
    c = data.compliance if data.compliance is not None else pd.DataFrame()
    empty = pd.DataFrame({k: np.full(len(mi), np.nan) for k in ("real_name_pct", "card_pct", "settled_pct")})
    empty["reports"] = 0
    if c.empty or "project_code" not in c.columns or "month" not in c.columns:
        return empty
    h = derived(data, ("compliance",), ("trend.reports",), lambda: _normalised(c))
    if filters.township:
        p = data.projects
        towns = derived(data, ("projects",), ("trend.project_townships",),
                        lambda: pd.DataFrame({"code": as_text(p["project_code"]), "township": as_text(p["township_code"])}))
        inside = towns["code"][(towns["township"] == filters.township).fillna(False)]
        h = h[h["project_code"].isin(inside)]
    h = h[h["mi"].isin(mi)].drop_duplicates(["project_code", "mi"], keep="last")
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

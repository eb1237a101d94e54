"""What the warning rules read that does not depend on the month: histories built once per read of the frames.

Each history is kept with `layers.base.derived` (on the frames, so every month window and township
shares it) and sorted so that one month, or one as-of date, is a cheap lookup: a slice of a month-sorted
array, a prefix of each entity's date-sorted rows, a row of a month × entity matrix. The rules
(layers/rules.py) call the `*_at` functions; each gives what the whole-frame computation it replaces
gave for that month or date (tests/layers/test_rule_history.py checks them against it).
Not thread safe beyond `derived`'s "two threads may build the same entry once each".
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geodata.settings import Rules
from layers.base import LayerData, derived
from layers.credit import case_links, cases, col, date_zh, month_index

PAIRWISE_FROM = 8  # numpy sums 8 or more contiguous values pairwise, fewer one after the other
DENSE_MAX_CELLS = 60_000_000  # months × employers of one indicator matrix (float64: 480 MB); beyond: per-month groupby


# ---- the case record of every entity (六) ------------------------------------------------------

@dataclass
class CaseHistory:
    """Every (entity, case) pair whose case has a received date, sorted by entity (as credit.arrears_record
    groups them) and then by received date, with what a prefix of an entity's rows gives."""

    entity_type: np.ndarray  # per entity (group), sorted by entity_type then entity_id
    entity_id: np.ndarray
    start: np.ndarray  # first row of each entity
    g: np.ndarray  # per row: its entity
    received: np.ndarray  # per row, datetime64[ns], ascending within an entity
    closed_date: np.ndarray  # per row, datetime64[ns] (NaT: none)
    by_status: np.ndarray  # per row: no closed date but a closed status (closed at any date)
    n_cases: np.ndarray  # per row: distinct cases of the entity's rows up to this one
    case_nos: np.ndarray  # per row: those cases' numbers, sorted, joined with 、 (object)
    last_case_zh: np.ndarray  # per row: the received date as 2024年3月 (object)


def case_history(data: LayerData, r: Rules) -> CaseHistory | None:
    """The case history (once per read of the frames and closed statuses); None when there is nothing to look up
    or when a case has no number (then credit.arrears_record is used as it is)."""
    key = ("rule_history.cases", tuple(r.case_closed_statuses))
    return derived(data, ("cases", "enterprises", "projects"), key, lambda: _case_history(data, r))


def _case_history(data: LayerData, r: Rules) -> CaseHistory | None:
    c = cases(data)
    links = case_links(data)
    if c.empty or links.empty or c["case_no"].isna().any() or links["case_no"].isna().any():
        return None
    st = c[c["received"].notna()]
    by_status = st["closed_date"].isna() & st["status"].isin(r.case_closed_statuses).fillna(False)
    st = pd.DataFrame({"case_no": st["case_no"], "received": st["received"], "closed_date": st["closed_date"],
                       "by_status": by_status.astype(bool)})
    m = links.merge(st, on="case_no", how="inner")
    if m.empty:
        return None
    grouped = m.groupby(["entity_type", "entity_id"], sort=True)
    g = grouped.ngroup().to_numpy()
    keys = grouped.size().index
    received = m["received"].to_numpy(dtype="datetime64[ns]")
    order = np.lexsort((received, g))  # stable: by entity, then received date, then row
    g, received = g[order], received[order]
    case_no = m["case_no"].to_numpy(dtype=object)[order]
    first = ~pd.DataFrame({"g": g, "c": case_no}).duplicated().to_numpy()
    n_groups = len(keys)
    start = np.searchsorted(g, np.arange(n_groups))
    cum = np.cumsum(first)
    n_cases = cum - np.concatenate([[0], cum])[start][g]
    case_nos = np.empty(len(g), dtype=object)
    single = np.diff(np.append(start, len(g)))[g] == 1
    case_nos[single] = case_no[single]  # an entity with one case: its number
    seen: list[str] = []
    prev = -1
    for i in np.flatnonzero(~single).tolist():  # once per read: each entity's distinct case numbers so far, sorted
        if g[i] != prev:
            seen, prev = [], g[i]
        if first[i]:
            bisect.insort(seen, case_no[i])
        case_nos[i] = "、".join(seen)
    days, uniq = pd.factorize(received)  # each distinct date worded once
    return CaseHistory(
        entity_type=keys.get_level_values(0).to_numpy(dtype=object), entity_id=keys.get_level_values(1).to_numpy(dtype=object),
        start=start, g=g, received=received, closed_date=m["closed_date"].to_numpy(dtype="datetime64[ns]")[order],
        by_status=m["by_status"].to_numpy(dtype=bool)[order], n_cases=n_cases, case_nos=case_nos,
        last_case_zh=date_zh(pd.Series(uniq), day=False).to_numpy(dtype=object)[days])


def record_at(h: CaseHistory, as_of: pd.Timestamp) -> dict[str, np.ndarray]:
    """Per entity with a case received on or before `as_of` (in credit.arrears_record's order): group (the entity),
    n_open (rows not closed on `as_of`) and last (its last row received by then: n_cases, case_nos, last_case_zh)."""
    t = np.datetime64(as_of.to_datetime64(), "ns")
    within = h.received <= t  # a prefix of each entity's rows
    n = len(h.start)
    count = np.bincount(h.g[within], minlength=n)
    closed = h.by_status | (h.closed_date <= t)  # NaT compares False
    n_open = np.bincount(h.g[within & ~closed], minlength=n)
    keep = np.flatnonzero(count > 0)
    last = h.start[keep] + count[keep] - 1
    return {"group": keep, "n_open": n_open[keep], "last": last}


# ---- the indicators of every employer by month (八) --------------------------------------------

@dataclass
class IndicatorHistory:
    """One indicator: month × employer matrix of the last reported value (NaN: none), months m0, m0+1, ...

    Employers are the integer codes of rules.indicator_codes (the sorted credit codes)."""

    m0: int
    values: np.ndarray  # (months, employers) float64
    present: np.ndarray  # per month: any employer reported a value


def indicator_history(data: LayerData, field: str, base: pd.DataFrame, values: pd.Series,
                      n_codes: int) -> IndicatorHistory | None:
    """The matrix of one indicator (once per read of the indicators); None when it would be too big."""
    def build() -> IndicatorHistory | None:
        cells = derived(data, ("indicators",), ("rule_history.indicator_cells",), lambda: _indicator_cells(base, n_codes))
        return None if cells is None else _indicator_history(cells, values, n_codes)

    return derived(data, ("indicators",), ("rule_history.indicator", field), build)


def _indicator_cells(base: pd.DataFrame, n_codes: int) -> tuple[int, int, np.ndarray, bool] | None:
    """Per indicator row its cell (month - m0) * employers + employer (-1: no employer or month), m0, the months,
    and whether no cell has two rows (then every indicator fills its matrix without choosing the last row)."""
    code = base["code"].to_numpy()
    m = base["m"].to_numpy(dtype=float)
    ok = (code >= 0) & ~np.isnan(m)
    if not ok.any():
        return 0, 0, np.full(len(code), -1, dtype=np.int64), True
    mi = np.where(ok, m, 0).astype(np.int64)
    m0, m1 = int(mi[ok].min()), int(mi[ok].max())
    n_months = m1 - m0 + 1
    if n_months * n_codes > DENSE_MAX_CELLS:
        return None
    cell = np.where(ok, (mi - m0) * n_codes + code, -1)
    return m0, n_months, cell, not pd.Series(cell[ok]).duplicated().any()


def _indicator_history(cells: tuple[int, int, np.ndarray, bool], values: pd.Series, n_codes: int) -> IndicatorHistory:
    m0, n_months, cell, unique = cells
    v = values.to_numpy(dtype=float)
    rows = np.flatnonzero((cell >= 0) & ~np.isnan(v))
    if not len(rows):
        return IndicatorHistory(0, np.empty((0, n_codes)), np.zeros(0, dtype=bool))
    if unique:
        take = rows
    else:  # the last row of each (month, employer), as groupby(...).last() after dropping missing values
        _, last_rev = np.unique(cell[rows][::-1], return_index=True)
        take = rows[len(rows) - 1 - last_rev]
    mat = np.full(n_months * n_codes, np.nan)
    mat[cell[take]] = v[take]
    mat = mat.reshape(n_months, n_codes)
    present = np.zeros(n_months, dtype=bool)
    present[cell[take] // n_codes] = True
    return IndicatorHistory(m0, mat, present)


def trend_at(h: IndicatorHistory, m: int, months_back: int, min_history: int) -> dict[str, np.ndarray] | None:
    """Per employer that reported in months m-months_back..m (rows of the month's pivot, sorted by code): code,
    current, baseline (mean of the months before m, summed month by month), n_hist, drop.

    None from PAIRWISE_FROM months of history on: numpy may then sum a row pairwise (in another order, so
    not to the same last bit) depending on the pivot's memory layout; the caller pivots as before."""
    n_months = h.values.shape[0]
    lo, hi = max(m - months_back - h.m0, 0), min(m - h.m0, n_months - 1)
    months = [j for j in range(lo, hi + 1) if h.present[j]] if hi >= lo else []
    if not months:
        empty = np.empty(0)
        return {"code": np.empty(0, dtype=np.int64), "current": empty, "baseline": empty,
                "n_hist": np.empty(0, dtype=np.int64), "drop": empty}
    reported = np.zeros(h.values.shape[1], dtype=bool)
    for j in months:
        reported |= ~np.isnan(h.values[j])
    code = np.flatnonzero(reported)
    cur_j = m - h.m0
    current = h.values[cur_j, code] if cur_j in months else np.full(len(code), np.nan)
    hist = [j for j in months if j < cur_j]
    if len(hist) >= PAIRWISE_FROM:
        return None
    if hist:
        total = np.zeros(len(code))
        n_hist = np.zeros(len(code), dtype=np.int64)
        for k, j in enumerate(hist):
            x = h.values[j, code]
            seen = ~np.isnan(x)
            n_hist += seen
            x = np.where(seen, x, 0.0)
            total = x if k == 0 else total + x
        with np.errstate(all="ignore"):
            baseline = total / n_hist.astype(float)
        baseline[n_hist == 0] = np.nan
    else:
        n_hist = np.zeros(len(code), dtype=np.int64)
        baseline = np.full(len(code), np.nan)
    usable = (n_hist >= min_history) & (baseline > 0) & ~np.isnan(current)
    with np.errstate(all="ignore"):
        drop = np.where(usable, 1 - current / baseline, np.nan)
    return {"code": code, "current": current, "baseline": baseline, "n_hist": n_hist, "drop": drop}


# ---- projects and monthly reports ----------------------------------------------------------------

@dataclass
class ReportIndex:
    """The monthly reports sorted by month (stable), each with its project's row in rules._projects."""

    order: np.ndarray  # report rows by month
    m: np.ndarray  # their months (float, NaN last)
    keep: np.ndarray  # per report row: the last report of its project in its month (drop_duplicates keep="last")
    pos: np.ndarray  # per report row: the project's row in the projects (-1: no such project)


def report_index(data: LayerData, projects: pd.DataFrame, reports: pd.DataFrame) -> ReportIndex | None:
    """Once per read of the frames; None when project codes are missing or repeated (then the rules merge)."""
    return derived(data, ("compliance", "projects"), ("rule_history.reports",), lambda: _report_index(projects, reports))


def _report_index(projects: pd.DataFrame, reports: pd.DataFrame) -> ReportIndex | None:
    codes = projects["project_code"]
    if codes.isna().any() or codes.duplicated().any():
        return None
    m = reports["m"].to_numpy(dtype=float)
    order = np.argsort(m, kind="stable")
    keep = ~reports.duplicated(["project_code", "m"], keep="last").to_numpy()
    pos = pd.Index(codes).get_indexer(reports["project_code"])
    return ReportIndex(order=order, m=m[order], keep=keep, pos=pos)


def reports_of_month(ix: ReportIndex, m: int) -> np.ndarray:
    """The report rows of month m, in frame order, one per project (the last)."""
    lo, hi = np.searchsorted(ix.m, [m, m + 1], side="left")
    rows = ix.order[lo:hi]
    return rows[ix.keep[rows]]


def months_with_data(data: LayerData) -> np.ndarray:
    """Sorted distinct month indexes of the monthly reports and indicators (once per read of the frames)."""
    def build() -> np.ndarray:
        found = [month_index(col(k, "month")).to_numpy(dtype=float) for k in (data.compliance, data.indicators)
                 if k is not None and not k.empty]
        allm = np.concatenate(found) if found else np.empty(0)
        return np.unique(allm[~np.isnan(allm)])

    return derived(data, ("compliance", "indicators"), ("rule_history.months",), build)


def active_projects(projects: pd.DataFrame, data: LayerData, r: Rules, as_of: pd.Timestamp) -> np.ndarray:
    """Mask of the projects active on `as_of`: not completed, started on or before it (or no start date)."""
    done = derived(data, ("projects",), ("rule_history.completed", tuple(r.completed_statuses)),
                   lambda: projects["status"].isin(r.completed_statuses).fillna(False).to_numpy(dtype=bool))
    start = derived(data, ("projects",), ("rule_history.start",),
                    lambda: projects["start"].to_numpy(dtype="datetime64[ns]"))
    t = np.datetime64(as_of.to_datetime64(), "ns")
    return ~done & (np.isnat(start) | (start <= t))



# ---- employers under joint punishment (十七)(二十六) ---------------------------------------------

@dataclass
class CreditHistory:
    """The normalised credit rows (credit.credit_rows) split for a date lookup: the graded rows sorted by employer
    and year, the blacklist rows sorted by employer and listing date (each sort stable, as credit.py sorts)."""

    codes: pd.Index  # every credit code of the rows, sorted (the employers' integers below are positions in it)
    grades: pd.DataFrame  # credit_code, grade, year; effective date known
    grade_code: np.ndarray  # per graded row: the employer (integer, in credit-code order)
    grade_start: np.ndarray  # per employer: its first graded row
    effective: np.ndarray  # per graded row, datetime64[ns], ascending within an employer
    black: pd.DataFrame  # credit_code, listed
    black_code: np.ndarray
    listed: np.ndarray
    delisted: np.ndarray


def credit_history(data: LayerData, r: Rules) -> CreditHistory:
    """Once per read of the credit rows and rules."""
    from layers.credit import credit_rows

    return derived(data, ("credit",), ("rule_history.credit", r.model_dump_json()),
                   lambda: _credit_history(credit_rows(data, r)))


def _credit_history(cr: pd.DataFrame) -> CreditHistory:
    code_all, uniq = pd.factorize(cr["credit_code"], sort=True) if len(cr) else (np.empty(0, dtype=np.int64), [])
    n = len(uniq)
    graded = np.flatnonzero((cr["grade"].notna() & cr["effective"].notna()).to_numpy(dtype=bool))
    year = cr["year"].to_numpy(dtype=float, na_value=np.nan)[graded]
    order = graded[np.lexsort((year, code_all[graded]))]
    grade_code = code_all[order]
    black = np.flatnonzero((cr["blacklisted"] & cr["listed"].notna()).to_numpy(dtype=bool))
    listed = cr["listed"].to_numpy(dtype="datetime64[ns]")[black]
    border = black[np.lexsort((listed, code_all[black]))]
    return CreditHistory(
        codes=pd.Index(uniq, dtype=cr["credit_code"].dtype if len(cr) else object),
        grades=cr[["credit_code", "grade", "year"]].take(order).reset_index(drop=True), grade_code=grade_code,
        grade_start=np.searchsorted(grade_code, np.arange(n)),
        effective=cr["effective"].to_numpy(dtype="datetime64[ns]")[order],
        black=cr[["credit_code", "listed"]].take(border).reset_index(drop=True), black_code=code_all[border],
        listed=cr["listed"].to_numpy(dtype="datetime64[ns]")[border],
        delisted=cr["delisted"].to_numpy(dtype="datetime64[ns]")[border])


def restricted_at(h: CreditHistory, as_of: pd.Timestamp, r: Rules, why: bool = True) -> pd.DataFrame:
    """= credit.restricted_as_of(data, as_of, r): credit_code, grade, grade_year, listed, blacklisted, why
    (`why=False`: without it; `reasons` gives it for the rows wanted)."""
    t = np.datetime64(as_of.to_datetime64(), "ns")
    # the grade in force: the last graded row already effective (a prefix of each employer's rows by year)
    count = np.bincount(h.grade_code[h.effective <= t], minlength=len(h.grade_start))
    has = np.flatnonzero(count > 0)
    g = h.grades.take(h.grade_start[has] + count[has] - 1)
    g = g[g["grade"].isin(r.guarantee_grades)].rename(columns={"year": "grade_year"})
    # on the blacklist: the last listing on or before as_of and not yet delisted
    on = np.flatnonzero((h.listed <= t) & (np.isnat(h.delisted) | (h.delisted > t)))
    code = h.black_code[on]
    on = on[np.append(code[1:] != code[:-1], True)] if len(on) else on
    b = h.black.take(on)
    out = pd.merge(g[["credit_code", "grade", "grade_year"]].reset_index(drop=True), b.reset_index(drop=True),
                   on="credit_code", how="outer")
    out["blacklisted"] = out["listed"].notna()
    if why:
        out["why"] = reasons(out)
    return out.reset_index(drop=True)


def reasons(out: pd.DataFrame) -> pd.Series:
    """The `why` text of rows of restricted_at (as credit.py words it)."""
    why_grade = ("诚信等级" + out["grade"].astype("string") + "（" + out["grade_year"].astype("string") + "年度）").fillna("")
    why_black = (date_zh(out["listed"]) + "列入黑名单").fillna("")
    return (why_black + "；" + why_grade).str.strip("；")
